"""``flowtui watch add/rm/ls/test`` and ``flowtui schedules`` as scripts and people use them."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from clikit import Flowtui
from enginekit import wait_for
from fakeclaude import ok_script

from cli.main import cli

USER_CONFIG = """\
# my flowtui config
[workflows.notes]
prompt = "Tidy {path} ({event}) under {watch}"  # keep it short
"""


@pytest.fixture
def flowtui(tmp_path: Path) -> Flowtui:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(USER_CONFIG)
    return Flowtui(home, ok_script(tmp_path / "claude"))


class InProcess:
    """The same commands run in this process (a subprocess costs most of a second here);
    ``Flowtui`` covers the real entry point."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._runner = CliRunner(env={"FLOWTUI_HOME": str(home)})

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self._runner.invoke(cli, list(args))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture
def here(flowtui: Flowtui) -> InProcess:
    return InProcess(flowtui.home)


@pytest.fixture
def served(flowtui: Flowtui) -> Iterator[subprocess.Popen[str]]:
    process = flowtui.serve()
    yield process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def assert_one_line_error(done: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def rows(flowtui: InProcess | Flowtui) -> dict[str, dict[str, object]]:
    return {row["path"]: row for row in json.loads(flowtui.ok("watch", "ls", "--json"))}


def test_add_ls_rm_edit_the_config_and_keep_the_users_comments(here: InProcess, tmp_path: Path) -> None:
    flowtui = here
    notes = tmp_path / "notes"
    notes.mkdir()
    out = flowtui.ok(
        "watch", "add", str(notes), "--workflow", "notes", "--include", "*.md", "--exclude", "tmp/"
    )
    assert out.strip() == f"watching {notes} (workflow notes)"
    config_text = (flowtui.home / "config.toml").read_text()
    assert config_text.startswith(USER_CONFIG)
    assert 'include = ["*.md"]' in config_text and 'exclude = ["tmp/"]' in config_text
    later = tmp_path / "later"
    done = flowtui.run("watch", "add", str(later))
    assert done.returncode == 0 and "does not exist yet" in done.stderr
    listed = rows(flowtui)
    assert listed[str(notes)]["status"] == "inactive" and listed[str(notes)]["workflow"] == "notes"
    assert listed[str(notes)]["include"] == ["*.md"] and listed[str(notes)]["busy"] == "queue"
    assert listed[str(later)]["status"] == "missing"
    table = flowtui.ok("watch", "ls")
    assert table.splitlines()[0].split()[:4] == ["PATH", "WORKFLOW", "STATUS", "LAST"]
    assert flowtui.ok("watch", "rm", str(later)).strip() == f"stopped watching {later}"
    assert flowtui.ok("watch", "rm", str(notes)).strip() == f"stopped watching {notes}"
    assert (flowtui.home / "config.toml").read_text().rstrip() == USER_CONFIG.rstrip()
    assert "no watches yet" in flowtui.ok("watch", "ls")


def test_bad_input_is_one_line_and_exit_2(here: InProcess, flowtui: Flowtui, tmp_path: Path) -> None:
    assert_one_line_error(here.run("watch", "add", str(tmp_path), "-w", "nope"), "unknown workflow 'nope'")
    assert_one_line_error(here.run("watch", "add", str(tmp_path), "--include", "!"), "bad glob '!'")
    here.ok("watch", "add", str(tmp_path))
    assert_one_line_error(here.run("watch", "add", str(tmp_path)), "already watched")
    assert_one_line_error(here.run("watch", "rm", "/nowhere/at/all"), "is not watched")
    assert_one_line_error(flowtui.run("watch", "add"), "Missing argument")  # via the real entry point


def test_watch_test_explains_and_shows_the_exact_prompt(here: InProcess, tmp_path: Path) -> None:
    flowtui = here
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / ".gitignore").write_text("*.log\n")
    (notes / "today.md").write_text("x")
    flowtui.ok("watch", "add", str(notes), "--workflow", "notes")
    out = flowtui.ok("watch", "test", str(notes / "today.md"))
    assert f"watch {notes} (workflow notes): counts: no include patterns" in out
    assert "trigger 'today.md'" in out and f"cwd {notes}" in out
    assert f"    Tidy {notes}/today.md (modified) under {notes}" in out
    ignored = flowtui.run("watch", "test", str(notes / "debug.log"))
    assert ignored.returncode == 1 and "ignored: ignored by .gitignore: `*.log`" in ignored.stdout
    outside = flowtui.run("watch", "test", str(tmp_path / "elsewhere.md"))
    assert outside.returncode == 1 and "outside every watched path" in outside.stdout
    verdict = json.loads(flowtui.ok("watch", "test", "--json", str(notes / "gone.md")))
    (only,) = verdict["watches"]
    assert only["counts"] and only["prompt"] == f"Tidy {notes}/gone.md (added) under {notes}"
    assert flowtui.ok("jobs", "--json").strip() == "[]"  # nothing was queued


@pytest.mark.usefixtures("served")
def test_a_running_engine_applies_watch_add_and_reports_status(
    flowtui: Flowtui, here: InProcess, tmp_path: Path
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    flowtui.ok("watch", "add", str(notes))  # the real command: it pokes the engine
    wait_for(lambda: rows(here)[str(notes)]["status"] == "active", what="the engine to pick the watch up")
    (notes / "idea.md").write_text("an idea")
    jobs = wait_for(lambda: json.loads(here.ok("jobs", "--json")), what="a watch job")
    assert jobs[0]["source"] == "watch" and jobs[0]["trigger"] == "idea.md"
    assert f"{notes}/idea.md" in jobs[0]["prompt"]
    wait_for(lambda: rows(here)[str(notes)]["last_event"], what="the last event time")
    flowtui.ok("watch", "rm", str(notes))
    wait_for(lambda: str(notes) not in rows(here), what="the watch to be gone")


def test_schedules_lists_next_and_last_runs(here: InProcess) -> None:
    flowtui = here
    assert "no schedules" in flowtui.ok("schedules")
    config = flowtui.home / "config.toml"
    config.write_text(
        USER_CONFIG + '\n[[schedule]]\ncron = "30 7 * * 1-5"\nworkflow = "notes"\n'
        '\n[[schedule]]\ncron = "not a cron"\n'
    )
    table = flowtui.ok("schedules").splitlines()
    assert table[0].split()[:5] == ["#", "NAME", "CRON", "WORKFLOW", "NEXT"]
    assert "30 7 * * 1-5" in table[1] and table[1].rstrip().endswith("ok")
    assert "invalid cron expression" in table[2]
    listed = json.loads(flowtui.ok("schedules", "--json"))
    assert listed[0]["next_run"] and "07:30:00" in listed[0]["next_run"] and listed[0]["last_run"] is None
    assert listed[1]["problem"].startswith("invalid cron expression 'not a cron'")


def test_schedules_run_pause_and_resume_by_name(here: InProcess) -> None:
    flowtui = here
    (flowtui.home / "config.toml").write_text(
        USER_CONFIG + '\n[[schedule]]\nname = "digest"\ncron = "0 7 * * *"\nprompt = "Digest."\n'
        '\n[[schedule]]\ncron = "30 7 * * 1-5"\nworkflow = "notes"\nprompt = "x"\n'
    )
    table = flowtui.ok("schedules").splitlines()
    assert table[0].split()[:3] == ["#", "NAME", "CRON"]
    assert table[1].split()[1] == "digest" and table[2].split()[1] == "notes@30_7_x_x_1-5"

    job_id = int(flowtui.ok("schedules", "run", "digest"))
    job = json.loads(flowtui.ok("show", str(job_id), "--json"))
    assert (job["source"], job["prompt"], job["state"]) == ("schedule", "Digest.", "queued")
    assert job["trigger"].startswith("schedule digest: run now by ")
    assert json.loads(flowtui.ok("schedules", "--json"))[0]["last_run"] is not None

    assert flowtui.ok("schedules", "pause", "digest").strip() == "schedule digest paused"
    listed = json.loads(flowtui.ok("schedules", "--json"))
    assert listed[0]["paused"] is True and listed[0]["next_run"] is None and listed[1]["paused"] is False
    assert "paused since" in flowtui.ok("schedules").splitlines()[1]
    assert_one_line_error(flowtui.run("schedules", "pause", "digest"), "schedule 'digest' is paused already")

    resumed = flowtui.ok("schedules", "resume", "digest")
    assert resumed.startswith("schedule digest resumed: next run ") and "07:00:00" in resumed
    assert json.loads(flowtui.ok("schedules", "--json"))[0]["paused"] is False
    assert_one_line_error(flowtui.run("schedules", "resume", "digest"), "schedule 'digest' is not paused")
    assert_one_line_error(
        flowtui.run("schedules", "run", "nope"), "no schedule 'nope': use one of digest, notes@30_7_x_x_1-5"
    )
