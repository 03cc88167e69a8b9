"""The ``flowtui`` command: core's CLI, with the control centre as what runs without a command."""

from __future__ import annotations

from core.cli import main as cli_main
from core.cli import set_ui_launcher
from core.paths import Paths
from core.settings import Settings


def _open_control_centre(settings: Settings, paths: Paths) -> int:
    from tui.app import run_app  # Textual is imported only when the window opens

    return run_app(settings, paths)


def main() -> None:
    set_ui_launcher(_open_control_centre)
    cli_main()
