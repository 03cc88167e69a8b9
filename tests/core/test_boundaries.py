"""The layers hold: core imports no surface nor Textual, the window no CLI, and nothing a shell."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SURFACES = ("cli", "tui")


def modules_under(folder: str) -> list[str]:
    """Every module of a package, its subpackages included (``__main__`` would run the command)."""
    names = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__":
            continue
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def imported_roots(modules: list[str]) -> set[str]:
    """Which of textual, tui and cli importing ``modules`` in a fresh interpreter pulls in."""
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & {'textual', 'tui', 'cli'})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return set(filter(None, done.stdout.strip().split(",")))


def test_every_core_subpackage_is_covered() -> None:
    packages = {name.split(".")[1] for name in modules_under("core") if name.count(".") >= 2}
    assert {"config", "ledger", "queue", "claude", "engine", "wake", "ops", "host", "schedule"} <= packages
    assert {"watch", "telegram"} <= packages


def test_core_never_imports_textual_or_a_surface() -> None:
    assert imported_roots(modules_under("core")) == set()


def test_the_window_never_imports_the_cli() -> None:
    assert imported_roots(modules_under("tui")) == {"textual", "tui"}


def test_no_shell_true_anywhere() -> None:
    offenders = [
        str(path)
        for folder in ("core", *SURFACES)
        for path in (ROOT / folder).rglob("*.py")
        if "shell=True" in path.read_text()
    ]
    assert offenders == []
