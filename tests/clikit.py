"""Running the ``flowtui`` command in a subprocess against one FLOWTUI_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


class Flowtui:
    """Runs ``python -m cli`` (what the ``flowtui`` script runs) against one FLOWTUI_HOME."""

    def __init__(self, home: Path, claude: Path | str, environ: Mapping[str, str] | None = None) -> None:
        self.home = home
        base = os.environ if environ is None else environ
        self.env = {**base, "FLOWTUI_HOME": str(home), "FLOWTUI_CLAUDE": str(claude)}

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "cli", *args]

    def run(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args), env=self.env, capture_output=True, text=True, timeout=60, cwd=cwd
        )

    def ok(self, *args: str, cwd: Path | None = None) -> str:
        done = self.run(*args, cwd=cwd)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def serve(self) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            self.argv("serve"), env=self.env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        assert process.stderr is not None
        for line in process.stderr:
            if "engine running" in line:
                return process
        raise AssertionError(f"serve did not start (exit {process.wait()})")
