"""The window's shape: one table of actions behind the keys, the palette and the help; the
dashboard never imports the app; the outbox opens without taking SQLite's write lock."""

from __future__ import annotations

import ast
import sqlite3
import time
from pathlib import Path

from textual.binding import Binding

from core.ledger.notifications import NotificationStore
from tui.actions import ACTIONS, bindings, help_rows, key_label, palette_commands
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen

TUI = Path(__file__).resolve().parents[2] / "tui"


def test_bindings_palette_and_help_come_from_one_table() -> None:
    bound = [binding for binding in DashboardScreen.BINDINGS if isinstance(binding, Binding)]
    assert bound == bindings()
    named = [action for action in ACTIONS if action.name is not None]
    assert [binding.action for binding in bound] == [action.name for action in named]
    for action in named:
        assert callable(getattr(DashboardScreen, f"action_{action.name}")), action.name
    screen = DashboardScreen.__new__(DashboardScreen)  # the palette only reads its methods
    titles = [command.title for command in palette_commands(screen)]
    assert titles == [
        f"{action.palette[0]}  ({key_label(action)})" for action in ACTIONS if action.palette is not None
    ]
    assert "Approve job  (y)" in titles and "Resend notification  (R)" in titles
    assert "Filter jobs  (/)" in titles  # each entry shows its key
    rows = dict(help_rows())
    for action in ACTIONS:  # every key is on the help screen, alone or in a neighbour's row
        assert action.help is not None or any(action.label in key for key in rows), action.label
    assert rows["y / N"] == "approve / deny the selected job waiting for approval"
    assert HelpScreen.__module__ == "tui.screens.help"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_screen_or_widget_imports_the_app() -> None:
    """Attributes down, messages up: the app builds screens, screens never reach back into it."""
    homes = [*(TUI / "screens").glob("*.py"), *(TUI / "widgets").glob("*.py")]
    for path in [*homes, TUI / "shared.py", TUI / "operations.py", TUI / "reader.py"]:
        assert "tui.app" not in imported_modules(path), path.name


def test_the_outbox_opens_beside_a_writer_without_waiting_for_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    NotificationStore(path).close()  # the first open creates the tables
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # an engine mid-write holds the lock
        started = time.monotonic()
        store = NotificationStore(path)  # creating tables again would wait 10 s, then fail
        try:
            assert store.recent(5) == []
        finally:
            store.close()
        assert time.monotonic() - started < 5
    finally:
        writer.execute("ROLLBACK")
        writer.close()
