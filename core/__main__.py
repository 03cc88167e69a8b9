"""``python -m core`` is the ``flowtui`` command (for environments without the script)."""

from core.cli import main

main()
