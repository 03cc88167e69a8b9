"""Driving the real ``flowtui`` in a real terminal: tmux on its own socket, keys in, screen out."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest


class TmuxSession:
    def __init__(
        self, command: list[str], env: Mapping[str, str], cwd: Path, size: tuple[int, int] = (120, 36)
    ):
        if shutil.which("tmux") is None:
            pytest.skip("tmux is not installed: apt-get install tmux (CI installs it)")
        self.socket = f"flowtui-test-{uuid.uuid4().hex[:8]}"
        self.name = "main"
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        shell_command = f"cd {shlex.quote(str(cwd))} && exec env -i {exports} {shlex.join(command)}"
        self._tmux(
            "new-session", "-d", "-s", self.name, "-x", str(size[0]), "-y", str(size[1]), shell_command
        )

    def _tmux(self, *args: str) -> str:
        done = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        return done.stdout

    def keys(self, *keys: str) -> None:
        """Key names as tmux knows them (Enter, Escape, C-p) or single characters."""
        for key in keys:
            self._tmux("send-keys", "-t", self.name, key)
            time.sleep(0.05)

    def type(self, text: str) -> None:
        self._tmux("send-keys", "-t", self.name, "-l", text)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", self.name)

    def wait_for(
        self, predicate: Callable[[str], bool], timeout: float = 30, what: str = "the screen"
    ) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.screen()
            if predicate(text):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the screen was:\n{text}")
            time.sleep(0.1)

    def wait_for_text(self, text: str, timeout: float = 30) -> str:
        return self.wait_for(lambda screen: text in screen, timeout, repr(text))

    def alive(self) -> bool:
        return "main" in self._tmux("list-sessions")

    def close(self) -> None:
        self._tmux("kill-server")


def flowtui_command() -> list[str]:
    return [sys.executable, "-m", "cli"]
