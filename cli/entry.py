"""The ``flowtui`` script: the control centre without a command, the CLI's commands otherwise.

``flowtui`` alone goes straight to the window without loading the command-line parser
(click): the window's start-up is a feature, and the parser is a fifth of its extra imports.
"""

from __future__ import annotations

import logging
import sys

from core.config.settings import Settings
from core.errors import ConfigError
from core.paths import Paths

EXIT_USAGE = 2
EXIT_FAILED = 1


def open_control_centre(settings: Settings, paths: Paths) -> int:
    """The window with the engine inside (or attached to the running one); its exit status."""
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
    from core.config.settings import load_settings
    from core.paths import resolve_paths

    logging.getLogger().addHandler(logging.NullHandler())
    paths = resolve_paths()
    try:
        settings = load_settings(paths.config_file)
    except ConfigError as error:
        print(f"flowtui: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return open_control_centre(settings, paths)
    except OSError as error:  # the data dir or its log cannot be made: a full disk, a permission
        from core.errors import describe_os_error

        print(f"flowtui: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_FAILED


def main() -> None:
    if len(sys.argv) <= 1:
        sys.exit(open_without_command())
    from cli.main import main as cli_main

    cli_main()
