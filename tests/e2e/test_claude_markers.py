"""The real Claude Code CLI's transcripts carry flowtui's markers: a cancel says who and after
how long, and a run the engine's death cut short is marked before its job runs again."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import wait_for

pytestmark = pytest.mark.claude


@pytest.fixture
def flowtui(tmp_path: Path, claude_bin: str, claude_env: dict[str, str]) -> Iterator[Flowtui]:
    yield Flowtui(tmp_path / "home", claude_bin, environ=claude_env)


def show(flowtui: Flowtui, job_id: str) -> dict[str, object]:
    return json.loads(flowtui.ok("show", job_id, "--json"))  # type: ignore[no-any-return]


def stop(process: subprocess.Popen[str], sig: signal.Signals) -> None:
    process.send_signal(sig)
    process.wait(timeout=30)


def test_a_cancelled_real_run_ends_with_the_cancel_in_flowtui_logs(flowtui: Flowtui, tmp_path: Path) -> None:
    engine = flowtui.serve()
    try:
        job_id = flowtui.ok("add", "Slow reply [[slow:60]]", "--cwd", str(tmp_path)).strip()
        wait_for(lambda: show(flowtui, job_id)["claude_pid"], timeout=60, what="claude to start")
        flowtui.ok("cancel", job_id)
        wait_for(lambda: show(flowtui, job_id)["state"] == "cancelled", timeout=60, what="the cancel")
    finally:
        stop(engine, signal.SIGTERM)
    logs = flowtui.ok("logs", job_id).splitlines()
    assert logs[0].startswith("── run started ") and logs[0].endswith(" · attempt 1 ──")
    assert logs[-1].startswith("■ cancelled by the user after ")


def test_a_run_cut_by_a_dead_engine_is_marked_and_its_rerun_starts_apart(
    flowtui: Flowtui, tmp_path: Path
) -> None:
    engine = flowtui.serve()
    job_id = flowtui.ok("add", "Talks then stalls [[once]][[stall:60]]", "--cwd", str(tmp_path)).strip()

    def streamed_partial() -> bool:
        path = show(flowtui, job_id)["transcript_path"]
        return bool(path) and "partial" in Path(str(path)).read_text()

    wait_for(streamed_partial, timeout=60, what="the first run to stream")
    stop(engine, signal.SIGKILL)
    engine = flowtui.serve()
    try:
        wait_for(lambda: show(flowtui, job_id)["state"] == "succeeded", timeout=90, what="the re-run")
    finally:
        stop(engine, signal.SIGTERM)
    logs = flowtui.ok("logs", job_id).splitlines()
    cut = next(index for index, line in enumerate(logs) if line.startswith("■ interrupted: pid "))
    assert logs[cut].endswith(" died mid-run")
    assert logs[cut + 1 : cut + 3] == ["", "── attempt 2 ──"]
    assert logs[cut + 3].startswith("── run started ") and logs[cut + 3].endswith(" · attempt 2 ──")
    assert logs[-1].startswith("✓ done")
