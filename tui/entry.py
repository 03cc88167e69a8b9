"""The ``flowtui`` command: core's CLI, with the control centre as what runs without a command.

``flowtui`` alone goes straight to the window without loading the command-line parser
(click): the window's start-up is a feature, and the parser is a fifth of its extra imports.
"""

from __future__ import annotations

import logging
import sys

from core.paths import Paths
from core.settings import ConfigError, Settings

EXIT_USAGE = 2
EXIT_FAILED = 1


def _open_control_centre(settings: Settings, paths: Paths) -> int:
    from core.extras import MissingExtra, require_configured

    try:
        require_configured(settings)  # a shared queue without redis-py: one line, not a window
    except MissingExtra as error:
        print(f"flowtui: {error}", file=sys.stderr)
        return EXIT_USAGE
    from tui.app import run_app  # Textual is imported only when the window opens

    return run_app(settings, paths)


def open_without_command() -> int:
    """What ``flowtui`` with no arguments does: the same steps as the CLI's group, then the UI."""
    from core.paths import resolve_paths
    from core.settings import load_settings

    logging.getLogger().addHandler(logging.NullHandler())
    paths = resolve_paths()
    try:
        settings = load_settings(paths.config_file)
    except ConfigError as error:
        print(f"flowtui: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _open_control_centre(settings, paths)
    except OSError as error:  # the data dir or its log cannot be made: a full disk, a permission
        from core.errors import describe_os_error

        print(f"flowtui: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_FAILED


def main() -> None:
    if len(sys.argv) <= 1:
        sys.exit(open_without_command())
    from core.cli import main as cli_main
    from core.cli import set_ui_launcher

    set_ui_launcher(_open_control_centre)
    cli_main()
