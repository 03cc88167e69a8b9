"""How changes combine, what the prompt and trigger say, and whose change is whose."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from core.claude.events import Finished, ToolCall, ToolResult
from core.claude.stream import ResultLine
from core.config.settings import WorkflowSettings
from core.ledger.sqlite import Ledger, NewJob
from core.watch.activity import JobActivity
from core.watch.batching import merge_changes, merge_kind
from core.watch.prompt import final_prompt, template_values, trigger_text


@pytest.mark.parametrize(
    ("first", "second", "combined"),
    [
        ("added", "modified", "added"),
        ("added", "deleted", None),  # a temp file that came and went
        ("modified", "deleted", "deleted"),
        ("deleted", "added", "modified"),  # replaced, as an atomic save does
        ("modified", "modified", "modified"),
        ("deleted", "deleted", "deleted"),
    ],
)
def test_merge_kind(first: str, second: str, combined: str | None) -> None:
    assert merge_kind(first, second) == combined


def test_merge_changes_keeps_first_seen_order() -> None:
    merged = merge_changes({"b.md": "added", "tmp": "added"}, {"a.md": "modified", "tmp": "deleted"})
    assert list(merged.items()) == [("b.md", "added"), ("a.md", "modified")]


def test_prompt_values_and_trigger(tmp_path: Path) -> None:
    moment = datetime(2026, 11, 25, 9, 30).astimezone()
    changes = {"notes/today.md": "modified", "notes/b.md": "added", "c.md": "modified"}
    values = template_values(str(tmp_path), tmp_path, changes, moment)
    assert values == {
        "path": f"{tmp_path}/notes/today.md",
        "paths": f"{tmp_path}/notes/today.md\n{tmp_path}/notes/b.md\n{tmp_path}/c.md",
        "event": "changed",
        "watch": str(tmp_path),
        "now": moment.isoformat(timespec="seconds"),
    }
    assert trigger_text(changes) == "notes/today.md (+2 more)"
    assert template_values(str(tmp_path), tmp_path, {"x": "deleted"}, moment)["event"] == "deleted"
    custom = WorkflowSettings(prompt="Summarise {path} ({event}) at {now}; {unknown} stays")
    assert final_prompt(custom, values) == (
        f"Summarise {tmp_path}/notes/today.md (changed) at {values['now']}; {{unknown}} stays"
    )
    default = final_prompt(WorkflowSettings(), values)
    assert default.startswith(f"These files changed under {tmp_path} (changed):\n{tmp_path}/notes/today.md\n")


def test_ledger_rewrites_only_a_waiting_job(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.db")
    new = NewJob(prompt="old", workflow="default", source="watch", cwd="/", max_attempts=1)
    job = ledger.create(new, "queued by a watch")
    updated = ledger.rewrite_waiting(job.id, "new", "a.md (+1 more)", "changes joined")
    assert updated is not None and (updated.prompt, updated.trigger) == ("new", "a.md (+1 more)")
    assert ledger.claim(job.id, 1) is not None
    assert ledger.rewrite_waiting(job.id, "newer", None, "too late") is None
    assert ledger.require(job.id).prompt == "new"
    assert [event.reason for event in ledger.events(job.id)][1] == "changes joined"
    ledger.close()


def test_job_activity_attributes_changes_to_write_tool_calls(tmp_path: Path) -> None:
    activity = JobActivity(7, str(tmp_path), started_at=100.0)
    slack = 0.3
    activity.take([ToolCall("t1", "Read", "x.md")], 101.0)  # read-only: no window
    assert not activity.owns(str(tmp_path / "x.md"), 101.1, slack)
    activity.take([ToolCall("t2", "Bash", "make")], 102.0)
    assert activity.owns(str(tmp_path / "out.o"), 102.5, slack)
    activity.take([ToolResult("t2", True, (), 0)], 103.0)
    assert activity.owns(str(tmp_path / "out.o"), 103.2, slack)  # still on its way to us
    assert not activity.owns(str(tmp_path / "user.md"), 104.0, slack)  # a person's, later
    activity.take([ToolCall("t3", "Edit", "notes/a.md")], 105.0)
    activity.take([ToolResult("t3", True, (), 0), Finished(ResultLine.from_event({}), None)], 105.1)
    activity.finish(106.0)
    assert activity.owns(str(tmp_path / "notes" / "a.md"), 106.2, slack)  # the file it edited
    assert not activity.owns(str(tmp_path / "notes" / "a.md"), 107.0, slack)  # after it ended
    assert not activity.owns(str(tmp_path / "notes" / "a.md"), 99.0, slack)  # before it began
