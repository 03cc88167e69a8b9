"""core/ stays UI-free: importing all of it must not pull in Textual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "core"


def test_core_never_imports_textual() -> None:
    modules = sorted(
        f"core.{path.stem}" for path in CORE.glob("*.py") if path.stem not in {"__init__", "__main__"}
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "leaked = sorted(m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'tui')))\n"
        "print(','.join(leaked))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_no_shell_true_anywhere() -> None:
    root = CORE.parent
    offenders = [
        str(path)
        for folder in ("core", "tui")
        for path in (root / folder).rglob("*.py")
        if "shell=True" in path.read_text()
    ]
    assert offenders == []
