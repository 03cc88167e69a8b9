"""``python -m tui`` is the ``flowtui`` command."""

from tui.entry import main

main()
