"""``python -m cli`` is the ``flowtui`` command (for environments without the script)."""

from cli.main import main

main()
