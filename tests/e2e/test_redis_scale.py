"""Several `flowtui serve` on one Redis: shared queue, leases, and nothing run twice or lost."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from clikit import Flowtui
from enginekit import is_gone, wait_for
from fakeclaude import READ_PROMPT, result_line, write_script

CONFIG = "[queue]\nlease_seconds = 3\n[claude]\nkill_grace_seconds = 0.5\n"


def engine_home(root: Path, name: str) -> Path:
    home = root / name
    home.mkdir(parents=True)
    (home / "config.toml").write_text(CONFIG)
    return home


@pytest.fixture
def claude(tmp_path: Path) -> Path:
    """Logs start and end of each run per prompt; a prompt with 'slow' sleeps long the first time."""
    log = tmp_path / "runs.log"
    return write_script(
        tmp_path / "claude",
        READ_PROMPT + f'echo "start|$prompt|$$" >> {log}\n'
        'case "$prompt" in *slow*) if [ ! -e "' + str(tmp_path) + '/slow-done" ]; then '
        f"touch {tmp_path}/slow-done; sleep 300; fi;; esac\n"
        f'echo "end|$prompt|$$" >> {log}\n'
        f"echo '{result_line()}'\n",
    )


@pytest.fixture
def cluster(
    tmp_path: Path, redis_url: str, claude: Path
) -> Iterator[list[tuple[Flowtui, subprocess.Popen[str]]]]:
    engines = []
    for name in ("one", "two", "three"):
        runner = Flowtui(engine_home(tmp_path, name), claude)
        runner.env["FLOWTUI_QUEUE_URL"] = redis_url
        engines.append((runner, runner.serve()))
    yield engines
    for _, process in engines:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def job(flowtui: Flowtui, job_id: str) -> dict[str, object]:
    return json.loads(flowtui.ok("show", job_id, "--json"))  # type: ignore[no-any-return]


def all_jobs(flowtui: Flowtui) -> dict[str, dict[str, object]]:
    return {str(data["id"]): data for data in json.loads(flowtui.ok("jobs", "--json"))}


def runs(tmp_path: Path) -> list[tuple[str, str, str]]:
    path = tmp_path / "runs.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [tuple(line.split("|", 2)) for line in lines]  # type: ignore[misc]


def test_jobs_from_any_machine_run_exactly_once_across_engines(
    tmp_path: Path, cluster: list[tuple[Flowtui, subprocess.Popen[str]]]
) -> None:
    cli = cluster[0][0]
    ids = [cli.ok("add", f"job-{n}", "--cwd", str(tmp_path)).strip() for n in range(12)]
    other = cluster[2][0]  # another machine sees every job
    seen = wait_for(
        lambda: (jobs := all_jobs(other)) and all(jobs[i]["state"] == "succeeded" for i in ids) and jobs,
        timeout=60,
        what="all jobs",
    )
    starts = [prompt for kind, prompt, _ in runs(tmp_path) if kind == "start"]
    assert sorted(starts) == sorted(f"job-{n}" for n in range(12))  # each exactly once
    assert {seen[i]["owner_pid"] for i in ids} == {None}  # leases released when done
    assert all(seen[i]["attempts"] == 1 for i in ids)


def test_pause_on_one_machine_pauses_every_engine(
    tmp_path: Path, cluster: list[tuple[Flowtui, subprocess.Popen[str]]]
) -> None:
    first, second = cluster[0][0], cluster[1][0]
    assert "paused" in first.ok("pause")
    waiting = second.ok("add", "while paused", "--cwd", str(tmp_path)).strip()
    time.sleep(1.5)
    assert job(second, waiting)["state"] == "queued"
    assert second.ok("jobs").splitlines()[0].startswith("queue paused: by hand")
    second.ok("resume")
    wait_for(lambda: job(first, waiting)["state"] == "succeeded", timeout=30, what="the job after resume")


def test_killed_engine_job_is_taken_back_after_its_lease_and_runs_once_at_a_time(
    tmp_path: Path, cluster: list[tuple[Flowtui, subprocess.Popen[str]]]
) -> None:
    cli = cluster[0][0]
    job_id = cli.ok("add", "slow one", "--cwd", str(tmp_path)).strip()
    running = wait_for(lambda: (data := job(cli, job_id))["claude_pid"] and data, timeout=30, what="the run")
    victim = next(process for _, process in cluster if process.pid == running["owner_pid"])
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    done = wait_for(
        lambda: (data := job(cli, job_id))["state"] == "succeeded" and data,
        timeout=60,
        what="the job to be taken back and finish",
    )
    assert done["attempts"] == 2
    assert is_gone(int(str(running["claude_pid"])))  # the orphaned run was ended, not left to race
    events = [str(event["reason"]) for event in done["events"]]  # type: ignore[attr-defined]
    assert any("lease of" in reason and "expired" in reason for reason in events)
    log = runs(tmp_path)
    assert [kind for kind, prompt, _ in log if prompt == "slow one"] == ["start", "start", "end"]


def test_job_added_while_redis_is_unreachable_is_spooled_then_queued(
    tmp_path: Path, redis_url: str, claude: Path
) -> None:
    home = engine_home(tmp_path, "lonely")
    runner = Flowtui(home, claude)
    runner.env["FLOWTUI_QUEUE_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    added = runner.run("add", "written offline", "--cwd", str(tmp_path))
    assert added.returncode == 0 and added.stdout == ""
    assert "the shared queue is unreachable" in added.stderr and "spool" in added.stderr
    assert len(list((home / "spool").glob("*.json"))) == 1
    runner.env["FLOWTUI_QUEUE_URL"] = redis_url  # the network is back
    engine = runner.serve()
    try:
        done = wait_for(
            lambda: (
                (jobs := json.loads(runner.ok("jobs", "--json"))) and jobs[0]["state"] == "succeeded" and jobs
            ),
            timeout=60,
            what="the spooled job to run",
        )
    finally:
        engine.send_signal(signal.SIGTERM)
        engine.wait(timeout=30)
    assert done[0]["prompt"] == "written offline"
    assert list((home / "spool").glob("*.json")) == []
    broken = runner.run("jobs")
    assert broken.returncode == 0


def test_schedule_fires_once_per_tick_while_the_leader_is_killed_twice(
    tmp_path: Path, redis_url: str, claude: Path
) -> None:
    """Three engines, a schedule every 4 s, the leader killed twice: each tick runs once."""
    import redis

    from core.wake.leader import LEADER_KEY

    config = (
        CONFIG.replace("lease_seconds = 3", "lease_seconds = 3\nleader_lease_seconds = 2")
        + '[[schedule]]\ncron = "* * * * * */4"\nprompt = "tick"\n'
    )
    engines: list[tuple[Flowtui, subprocess.Popen[str]]] = []
    for name in ("a", "b", "c"):
        home = tmp_path / name
        home.mkdir()
        (home / "config.toml").write_text(config)
        runner = Flowtui(home, claude)
        runner.env["FLOWTUI_QUEUE_URL"] = redis_url
        engines.append((runner, runner.serve()))
    client = redis.Redis.from_url(redis_url)
    try:
        started = time.monotonic()
        for _ in range(2):
            time.sleep(9)
            leader = wait_for(lambda: client.get(LEADER_KEY), timeout=10, what="a leader").decode()
            pid = int(leader.rsplit(" ", 1)[1])
            victim = next(process for _, process in engines if process.pid == pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
        time.sleep(9)
        elapsed = time.monotonic() - started
        survivor = next(runner for runner, process in engines if process.poll() is None)
        ticks = [job for job in json.loads(survivor.ok("jobs", "--json")) if job["source"] == "schedule"]
    finally:
        for _, process in engines:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
        client.close()
    created = sorted(datetime.fromisoformat(job["created_at"].replace("Z", "+00:00")) for job in ticks)
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(created)]
    # A tick missed during a hand-over runs late, once; the next one comes on time. So the jobs
    # are exactly one per tick between the first and the last: none doubled, none lost.
    ticks_spanned = round((created[-1] - created[0]).total_seconds() / 4) + 1
    assert len(ticks) == ticks_spanned, gaps
    assert len(ticks) >= elapsed / 4 - 3, (len(ticks), elapsed)
