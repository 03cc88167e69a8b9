"""Files out: a workflow's ``send_files`` sends the files a job created or changed that match, as
documents after its finish message, through the outbox (rows first, so a restart sends what is
left); a file over the limit is named in the finish message instead; what is sent is the copy
taken when the job was announced, whatever happens to the file afterwards.

Real git in temp repositories, the real door, ledger and outbox; the recording gateway stands in
for Telegram's servers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gitkit import git
from telegramkit import CHAT, TELEGRAM_CONFIG, BotKit, bot_kit, started

from core.config.settings import parse_settings
from core.engine.workspace import prepare_workspace, record_after, record_before
from core.errors import ConfigError
from core.jobs import Job
from core.ledger.notifications import NotificationStore
from core.telegram.outbox import Outbox
from core.telegram.recording import RecordingGateway, Sent

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
CONFIG = (
    TELEGRAM_CONFIG
    + '\n[workflows.shots]\nsend_files = ["*.png", "out/**"]\n'
    + '\n[workflows.isolated]\nisolation = "worktree"\nsend_files = ["*.png"]\n'
    + '\n[workflows.plain]\nsend_files = ["*.md"]\n'
    + '\n[workflows.nothing]\nsend_files = ["*.pdf"]\n'
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    where = tmp_path / "repo"
    where.mkdir()
    git(where, "init", "-q", "-b", "main")
    (where / "shared.txt").write_text("original\n")
    (where / "old.png").write_bytes(b"old picture")
    git(where, "add", ".")
    git(where, "commit", "-q", "-m", "first")
    return where


def run_job(kit: BotKit, repo: Path, workflow: str, files: dict[str, bytes | None]) -> Job:
    """A job run as the engine runs one, without Claude: its tree recorded before, ``files``
    written (None: deleted) where it runs, its tree recorded after, then finished."""
    job = kit.control.add("make pictures", workflow=workflow, cwd=repo)
    job = prepare_workspace(job, kit.settings.workflow(workflow), kit.paths, kit.ledger)
    before = record_before(job, kit.ledger)
    for name, data in files.items():
        target = Path(job.run_directory) / name
        if data is None:
            target.unlink()
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    record_after(kit.ledger.require(job.id), before, kit.ledger)
    return kit.finish(job.id)


def documents(kit: BotKit) -> list[Sent]:
    return [sent for sent in kit.gateway.messages() if sent.kind == "document"]


def finish_message(kit: BotKit, job: Job) -> Sent:
    (sent,) = [
        s for s in kit.gateway.messages() if s.kind == "message" and s.text.startswith(f"✓ #{job.id} ")
    ]
    return sent


async def test_matching_files_go_as_documents_after_the_finish_message(tmp_path: Path, repo: Path) -> None:
    with bot_kit(tmp_path / "home", config_text=CONFIG) as kit:
        await started(kit)
        job = run_job(
            kit,
            repo,
            "shots",
            {
                "chart.png": PNG,
                "out/report.txt": b"the report\n",
                "notes.txt": b"not matched\n",
                "shared.txt": b"changed, not matched\n",
                "old.png": None,  # deleted: matched, but there is nothing to send
            },
        )
        kit.announcer.job_finished(job)
        (repo / "chart.png").write_bytes(b"edited after the job")  # the copy was taken already
        await kit.drain()
        sent = kit.gateway.messages()
        assert sent[0] == finish_message(kit, job)  # the finish message first, then the files
        assert "file not sent" not in sent[0].text
        assert [(s.file_name, s.data, s.text) for s in sent[1:]] == [
            ("chart.png", PNG, f"#{job.id} chart.png"),
            ("report.txt", b"the report\n", f"#{job.id} out/report.txt"),
        ]
        assert all(s.chat_id == CHAT for s in sent)
        rows = [row for row in kit.store.recent(job_id=job.id) if row.document]
        assert {row.kind for row in rows} == {"job"} and {row.state for row in rows} == {"sent"}
        # a reply to a file is a reply to the job (a follow-up), as for its finish message
        assert kit.store.job_for_message(CHAT, sent[1].message_id) == job.id


async def test_no_file_matches_no_document(tmp_path: Path, repo: Path) -> None:
    with bot_kit(tmp_path / "home", config_text=CONFIG) as kit:
        await started(kit)
        job = run_job(kit, repo, "nothing", {"chart.png": PNG, "notes.md": b"# notes\n"})
        kit.announcer.job_finished(job)
        await kit.drain()
        assert documents(kit) == []
        assert "file not sent" not in finish_message(kit, job).text
        assert not kit.paths.outgoing_for(job.id).exists()


async def test_a_file_too_large_is_named_in_the_finish_message(tmp_path: Path, repo: Path) -> None:
    with bot_kit(tmp_path / "home", config_text=CONFIG) as kit:
        await started(kit)
        kit.announcer.max_file_bytes = 100
        job = run_job(kit, repo, "shots", {"huge.png": PNG, "small.png": b"tiny"})
        kit.announcer.job_finished(job)
        await kit.drain()
        text = finish_message(kit, job).text
        assert "file not sent: huge.png is 264 bytes, over the 100 bytes a bot may send" in text.splitlines()
        assert [(s.file_name, s.data) for s in documents(kit)] == [("small.png", b"tiny")]


async def test_the_copy_is_sent_after_the_worktree_is_discarded(tmp_path: Path, repo: Path) -> None:
    with bot_kit(tmp_path / "home", config_text=CONFIG) as kit:
        await started(kit)
        job = run_job(kit, repo, "isolated", {"chart.png": PNG})
        assert job.worktree is not None
        kit.announcer.job_finished(job)
        kit.control.discard(job.id)
        assert not Path(job.worktree).exists()
        await kit.drain()
        assert [(s.file_name, s.data) for s in documents(kit)] == [("chart.png", PNG)]


async def test_files_left_unsent_at_a_restart_are_sent_by_the_next_outbox(tmp_path: Path, repo: Path) -> None:
    with bot_kit(tmp_path / "home", config_text=CONFIG) as kit:
        await started(kit)
        job = run_job(kit, repo, "shots", {"a.png": b"first", "b.png": b"second"})
        kit.announcer.job_finished(job)
        await kit.outbox.send_due()  # the finish message goes; the files wait for the chat's pacing
        assert [s.kind for s in kit.gateway.messages()] == ["message"]

        # the process ends; a new one opens the same ledger with a new client
        store = NotificationStore(kit.paths.ledger_db)
        try:
            gateway = RecordingGateway()
            outbox = Outbox(store, gateway, clock=kit.clock)
            while (delay := await outbox.send_due()) is not None:
                kit.clock.advance(delay)
            assert [(s.kind, s.file_name, s.data) for s in gateway.messages()] == [
                ("document", "a.png", b"first"),
                ("document", "b.png", b"second"),
            ]
            assert {row.state for row in store.recent(job_id=job.id)} == {"sent"}
        finally:
            store.close()


async def test_outside_git_the_files_its_edits_named_are_sent(tmp_path: Path) -> None:
    workdir = tmp_path / "plain"
    workdir.mkdir()
    with bot_kit(tmp_path / "home", config_text=CONFIG) as kit:
        await started(kit)
        job = kit.control.add("write a summary", workflow="plain", cwd=workdir)
        (workdir / "summary.md").write_text("# summary\n")
        (workdir / "data.csv").write_text("a,b\n")
        calls = [
            ("Write", {"file_path": str(workdir / "summary.md"), "content": "# summary\n"}),
            ("Edit", {"file_path": str(workdir / "data.csv"), "old_string": "", "new_string": "a,b"}),
            ("Write", {"file_path": str(workdir / "gone.md"), "content": "deleted later"}),
        ]
        blocks = [{"type": "tool_use", "id": name, "name": name, "input": given} for name, given in calls]
        lines = [{"type": "assistant", "message": {"content": [block]}} for block in blocks]
        kit.paths.transcript_for(job.id, 1).write_text("".join(json.dumps(line) + "\n" for line in lines))
        done = kit.finish(job.id)
        kit.announcer.job_finished(done)
        await kit.drain()
        assert [(s.file_name, s.data, s.text) for s in documents(kit)] == [
            ("summary.md", b"# summary\n", f"#{job.id} summary.md")
        ]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('"*.png"', "[workflows.w] send_files: expected a list of glob patterns (got '*.png')"),
        ('["../secrets/*"]', "'../secrets/*' leaves the job's directory"),
        ('["/etc/*"]', "'/etc/*' leaves the job's directory"),
        ('[""]', "an entry is empty"),
        ('["!*.png"]', "a negated pattern cannot send anything"),
    ],
)
def test_bad_send_files_are_refused_at_load_naming_the_key(value: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(f"[workflows.w]\nsend_files = {value}\n", "config.toml")
    assert words in str(caught.value) and "send_files" in str(caught.value)
