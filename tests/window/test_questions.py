"""The window answers a running job's tool question and tells a running job something (issue
15, items 4 and 5): the job that asks sorts first in a state of its own, the header counts it,
its question shows above its output (a file edit as a coloured diff), a toast says it arrived,
and y / N / A / T go through the door, which keeps each answer as the job's input row."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import Input, Label, Static, TextArea

from core.claude.conversation import Question
from core.claude.tool_preview import preview
from core.jobs import JobState, RunOutcome
from core.ledger.sqlite import NewJob
from core.ops.control import not_running_to_tell
from tui.app import FlowtuiApp
from tui.demo import demo_app, question_app
from tui.operations import person
from tui.screens.answer import DenyScreen, TellScreen
from tui.screens.dialog import SENDING
from tui.screens.job_detail import JobDetailScreen
from tui.screenshots import settle
from tui.widgets.job_table import NEEDS_YOU, JobTable
from tui.widgets.output_pane import OutputPane
from tui.widgets.question_box import QuestionBox, preview_text
from tui.widgets.status_line import StatusLine

SIZE = (120, 36)
RUNNING_JOB = 4
"""The demo's running job."""


def ask(
    app: FlowtuiApp, job_id: int, tool: str, tool_input: dict[str, Any], request_id: str = "req-1"
) -> None:
    """Make the running job wait on a question, as the engine's run does."""
    question = Question(request_id, tool, tool_input, "2026-11-25T09:29:50.000Z")
    assert app.control.ledger.set_waiting(job_id, question.to_json(), f"asks to use {tool}")
    app.refresh_soon()


def inputs(app: FlowtuiApp, job_id: int) -> list[dict[str, Any]]:
    """The answers and messages the door kept for the job's engine (taken, as it takes them)."""
    return [json.loads(entry) for entry in app.control.ledger.take_inputs(job_id)]


def toasts(app: FlowtuiApp) -> list[str]:
    return [notification.message for notification in app._notifications]


def header(app: FlowtuiApp) -> str:
    return str(app.screen.query_one(StatusLine).render())


def row_order(app: FlowtuiApp) -> list[int]:
    table = app.screen.query_one(JobTable)
    return [int(str(table.coordinate_to_cell_key((row, 0)).row_key.value)) for row in range(table.row_count)]


def state_cell(app: FlowtuiApp, job_id: int) -> str:
    cell = app.screen.query_one(JobTable).get_cell(str(job_id), "state")
    return str(getattr(cell, "plain", cell))


def footer_keys(app: FlowtuiApp) -> set[str]:
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show}


def error_line(app: FlowtuiApp) -> str:
    return str(app.screen.query_one("#error", Label).render())


async def wait_until(condition: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def select(app: FlowtuiApp, pilot: Any, job_id: int) -> None:
    table = app.screen.query_one(JobTable)
    table.move_cursor(row=table.get_row_index(str(job_id)))
    await settle(pilot)
    assert table.selected_job_id == job_id


# -- the Jobs pane, the header, the toast ---------------------------------------------------


async def test_a_job_that_asks_sorts_first_is_counted_and_announced_once(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert row_order(app) == [5, 4, 3, 2, 1]
        assert app.screen.query_one(JobTable).selected_job_id == 5
        assert "needs you" not in header(app)
        ask(app, RUNNING_JOB, "Bash", {"command": "touch x"})
        await wait_until(lambda: state_cell(app, RUNNING_JOB) == NEEDS_YOU)
        await settle(pilot)
        assert row_order(app) == [4, 5, 3, 2, 1]
        assert app.screen.query_one(JobTable).selected_job_id == 5  # the selection stays put
        assert "1 needs you (y / N / A)" in header(app)
        assert "1 running" in header(app)
        announced = "#4 asks to use Bash: touch x · y / N / A"
        assert toasts(app).count(announced) == 1  # though another job is selected
        app.refresh_soon()  # another read with the same question: no second toast
        await settle(pilot)
        assert toasts(app).count(announced) == 1
        # a job awaiting approval keeps its own state and its own count
        gated = NewJob("deploy the site", "default", "cli", "/tmp", max_attempts=1, awaiting_approval=True)
        gate = app.control.ledger.create(gated, "needs approval")
        app.refresh_soon()
        await wait_until(lambda: str(gate.id) in app.screen.query_one(JobTable).rows)
        await settle(pilot)
        assert state_cell(app, gate.id) == "? awaiting_approval"
        assert row_order(app)[:2] == [4, gate.id]
        assert "1 needs you (y / N / A)" in header(app) and "1 awaiting approval (y / N)" in header(app)
        # answered (the engine clears the question): the job goes back among the others
        app.control.ledger.set_waiting(RUNNING_JOB, None, None)
        app.refresh_soon()
        await wait_until(lambda: state_cell(app, RUNNING_JOB) == "▶ running")
        await settle(pilot)
        assert row_order(app) == [gate.id, 5, 4, 3, 2, 1]
        assert "needs you" not in header(app)
        ask(
            app, RUNNING_JOB, "Bash", {"command": "touch y"}, request_id="req-2"
        )  # a new question: a new toast
        await wait_until(lambda: "#4 asks to use Bash: touch y · y / N / A" in toasts(app))


async def test_two_jobs_that_ask_are_counted_together(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ledger = app.control.ledger
        ledger.claim(5, owner_pid=1)  # the queued job starts too
        ask(app, RUNNING_JOB, "Bash", {"command": "touch a"}, request_id="a")
        ask(app, 5, "Write", {"file_path": "/nowhere/b.txt", "content": "b\n"}, request_id="b")
        await wait_until(lambda: "2 need you (y / N / A)" in header(app))
        await settle(pilot)
        assert row_order(app)[:2] == [5, 4]
        assert {
            "#4 asks to use Bash: touch a · y / N / A",
            "#5 asks to use Write: /nowhere/b.txt · y / N / A",
        } <= set(toasts(app))


async def test_the_filter_state_needs_you_keeps_the_jobs_that_ask(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = app.screen.query_one(JobTable)
        await pilot.press("slash", *"state:needs-you", "enter")
        await settle(pilot)
        assert table.row_count == 0  # the running job asks nothing yet
        ask(app, RUNNING_JOB, "Bash", {"command": "touch x"})
        await wait_until(lambda: table.row_count == 1)
        await settle(pilot)
        assert row_order(app) == [RUNNING_JOB] and state_cell(app, RUNNING_JOB) == NEEDS_YOU
        await pilot.press("slash", "ctrl+u", *"state:running", "enter")
        await settle(pilot)
        assert RUNNING_JOB in row_order(app)  # a job that asks still runs
        await pilot.press("slash", "ctrl+u", *"state:needs-you", "enter")
        await settle(pilot)
        app.control.ledger.set_waiting(RUNNING_JOB, None, None)  # answered elsewhere
        app.refresh_soon()
        await wait_until(lambda: table.row_count == 0)


# -- the question in the Output pane -------------------------------------------------------


async def test_the_selected_question_shows_above_the_output_with_its_diff(tmp_path: Path) -> None:
    app = question_app(tmp_path, "edit")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        box = screen.query_one(QuestionBox)
        assert screen.query_one(JobTable).selected_job_id == RUNNING_JOB  # sorted first, so selected
        assert box.display and box.shown
        assert str(box.border_title) == "#4 asks to use Edit"
        assert "y allows once · N denies · A allows always" in str(box.border_subtitle)
        content = box.content
        assert isinstance(content, Text)
        lines = content.plain.splitlines()
        assert lines[0] == "shop/export/csv.py"
        assert "-        price = str(row.price)" in lines
        assert "+        price = format_decimal(row.price, locale=row.locale)" in lines
        output = screen.query_one(OutputPane)
        assert output.display and output.job_id == RUNNING_JOB  # the stream stays below
        assert box.region.bottom <= output.region.y
        jobs_region, box_top = screen.query_one(JobTable).region, box.region.y
        assert any("git diff main...feature/export" in line for line in output.lines)
        # another job selected: the box goes, the output has the pane; the Jobs pane never moved
        await pilot.press("j")
        await settle(pilot)
        assert not box.display
        assert output.region.y == box_top  # the output takes the box's place
        assert screen.query_one(JobTable).region == jobs_region
        await pilot.press("k")
        await settle(pilot)
        assert box.display and box.job_id == RUNNING_JOB


def test_a_diff_is_coloured_and_outside_text_stays_literal(tmp_path: Path) -> None:
    target = tmp_path / "notes.md"
    target.write_text("one\n[red]two[/red]\nthree\n")
    edit = {"file_path": str(target), "old_string": "[red]two[/red]", "new_string": "\x1b[31mtwo\x1b[0m"}
    text = preview_text(preview("Edit", edit, tmp_path))
    styles = {text.plain[span.start : span.end]: str(span.style) for span in text.spans}
    assert styles[f"--- a/{target}"] == "bold" and styles[f"+++ b/{target}"] == "bold"
    assert styles["@@ -1,3 +1,3 @@"] == "cyan"
    assert styles["-[red]two[/red]"] == "red"  # drawn as written, never read as markup
    assert styles["+\\x1b[31mtwo\\x1b[0m"] == "green"  # a control character is shown, not obeyed
    assert " one" in text.plain.splitlines() and " one" not in styles  # context: plain
    long = preview("Bash", {"command": "x", "description": "y" * 10, **{f"k{n}": n for n in range(20)}})
    shown = preview_text(long).plain.splitlines()
    assert shown[0] == "x" and shown[-1].startswith("… ") and len(shown) == 12


# -- the keys: y, A, N (with its dialog), T ----------------------------------------------------


async def test_the_footer_offers_y_n_a_on_a_question_and_t_on_a_running_job(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(app, pilot, RUNNING_JOB)
        keys = footer_keys(app)
        assert "T" in keys and not keys & {"y", "N", "A"}
        ask(app, RUNNING_JOB, "Bash", {"command": "touch x"})
        await wait_until(lambda: "A" in footer_keys(app))
        assert {"y", "N", "A", "c"} <= footer_keys(app)
        assert "T" not in footer_keys(app)  # room for the answer's keys; T still acts
        await select(app, pilot, 1)
        assert not footer_keys(app) & {"y", "N", "A", "T"}


async def test_y_allows_once_through_the_door(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ask(app, RUNNING_JOB, "Bash", {"command": "touch x"})
        await wait_until(lambda: state_cell(app, RUNNING_JOB) == NEEDS_YOU)
        await select(app, pilot, RUNNING_JOB)
        await pilot.press("y")
        await settle(pilot)
        who = person(app.session.environ) if app.session else ""
        assert inputs(app, RUNNING_JOB) == [
            {
                "kind": "answer",
                "request_id": "req-1",
                "allow": True,
                "always": False,
                "message": None,
                "by": who,
                "via": "tui",
            }
        ]
        assert "allowed Bash for #4" in toasts(app)
        reasons = [event.reason for event in app.control.ledger.events(RUNNING_JOB)]
        assert f"allowed Bash (by {who} via tui)" in reasons


async def test_a_allows_always_and_says_so_where_nothing_is_asked(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(app, pilot, RUNNING_JOB)
        await pilot.press("A")  # nothing asked yet
        await settle(pilot)
        assert "job #4 asks to use no tool: A answers a tool question (? needs you)" in toasts(app)
        assert inputs(app, RUNNING_JOB) == []
        ask(app, RUNNING_JOB, "Bash", {"command": "touch x"})
        await wait_until(lambda: state_cell(app, RUNNING_JOB) == NEEDS_YOU)
        await settle(pilot)
        await pilot.press("A")
        await settle(pilot)
        (answer,) = inputs(app, RUNNING_JOB)
        assert (answer["allow"], answer["always"], answer["via"]) == (True, True, "tui")
        assert "allowed Bash always for #4" in toasts(app)


async def test_n_asks_for_an_optional_reason_then_denies(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ask(app, RUNNING_JOB, "Bash", {"command": "rm -rf [build]"})
        await wait_until(lambda: state_cell(app, RUNNING_JOB) == NEEDS_YOU)
        await select(app, pilot, RUNNING_JOB)
        await pilot.press("N")
        assert isinstance(app.screen, DenyScreen)
        assert str(app.screen.query_one(".title", Label).render()) == "Deny Bash for job #4"
        assert "rm -rf [build]" in str(app.screen.query_one(".hint", Label).render())  # literal
        await pilot.press("escape")  # closes without answering
        assert not isinstance(app.screen, DenyScreen)
        await settle(pilot)
        assert inputs(app, RUNNING_JOB) == []
        await pilot.press("N", *"not on main", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, DenyScreen)
        (answer,) = inputs(app, RUNNING_JOB)
        assert (answer["allow"], answer["message"], answer["via"]) == (False, "not on main", "tui")
        assert "denied Bash for #4: not on main" in toasts(app)
        await pilot.press("N", "enter")  # enter with the box empty: denied without a reason
        await settle(pilot)
        (answer,) = inputs(app, RUNNING_JOB)
        assert (answer["allow"], answer["message"]) == (False, None)


async def test_the_deny_dialog_keeps_a_refusal_in_place_with_the_reason(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ask(app, RUNNING_JOB, "Bash", {"command": "touch x"})
        await wait_until(lambda: state_cell(app, RUNNING_JOB) == NEEDS_YOU)
        await select(app, pilot, RUNNING_JOB)
        await pilot.press("N", *"later")
        app.control.ledger.finish(
            RUNNING_JOB, RunOutcome(JobState.SUCCEEDED, exit_code=0)
        )  # it ended meanwhile
        await pilot.press("enter")
        await wait_until(lambda: error_line(app) not in ("", SENDING))
        assert isinstance(app.screen, DenyScreen)
        assert error_line(app).startswith("job #4 has no question waiting (it is succeeded)")
        assert app.screen.query_one("#reason", Input).value == "later"
        await pilot.press("escape")


async def test_n_on_a_job_awaiting_approval_denies_it_at_once(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        gated = NewJob("deploy the site", "default", "cli", "/tmp", max_attempts=1, awaiting_approval=True)
        gate = app.control.ledger.create(gated, "needs approval")
        app.refresh_soon()
        await wait_until(lambda: str(gate.id) in app.screen.query_one(JobTable).rows)
        await select(app, pilot, gate.id)
        assert "A" not in footer_keys(app)
        await pilot.press("N")
        await settle(pilot)
        assert not isinstance(app.screen, DenyScreen)
        assert app.control.get(gate.id).state is JobState.CANCELLED


async def test_t_tells_a_running_job_and_refuses_a_finished_one(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(app, pilot, 1)  # finished: the door's line, no dialog
        await pilot.press("T")
        await settle(pilot)
        assert not isinstance(app.screen, TellScreen)
        assert not_running_to_tell(1, JobState.SUCCEEDED) in toasts(app)
        assert "flowtui followup 1" in not_running_to_tell(1, JobState.SUCCEEDED)
        await select(app, pilot, RUNNING_JOB)
        await pilot.press("T")
        assert isinstance(app.screen, TellScreen)
        await pilot.press("ctrl+s")  # nothing typed: said in place
        assert error_line(app) == "the message is empty: say what Claude should hear"
        await pilot.press(*"also check", "enter", *"the [README]", "ctrl+s")
        await settle(pilot)
        assert not isinstance(app.screen, TellScreen)
        who = person(app.session.environ) if app.session else ""
        assert inputs(app, RUNNING_JOB) == [
            {"kind": "message", "text": "also check\nthe [README]", "by": who, "via": "tui"}
        ]
        assert "told #4: also check the [README]" in toasts(app)


async def test_the_tell_dialog_keeps_the_doors_refusal_and_the_message(tmp_path: Path) -> None:
    app = demo_app(tmp_path, seed=True)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await select(app, pilot, RUNNING_JOB)
        await pilot.press("T", *"stop after the tests")
        app.control.ledger.finish(RUNNING_JOB, RunOutcome(JobState.FAILED, error="boom"))
        await pilot.press("ctrl+s")
        await wait_until(lambda: error_line(app) not in ("", SENDING))
        assert isinstance(app.screen, TellScreen)
        assert error_line(app) == not_running_to_tell(RUNNING_JOB, JobState.FAILED)
        assert app.screen.query_one("#prompt", TextArea).text == "stop after the tests"


# -- the job's details ----------------------------------------------------------------------


def detail_keys(app: FlowtuiApp) -> dict[str, str]:
    """Each key the details screen offers now, and the action it runs."""
    return {
        key: active.binding.action
        for key, active in app.screen.active_bindings.items()
        if active.binding.show and active.enabled
    }


async def open_details(app: FlowtuiApp, pilot: Any, job_id: int) -> JobDetailScreen:
    await select(app, pilot, job_id)
    await pilot.press("enter")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, JobDetailScreen)
    return screen


async def test_the_details_show_the_question_and_y_answers_it_there(tmp_path: Path) -> None:
    app = question_app(tmp_path, "edit")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = await open_details(app, pilot, RUNNING_JOB)
        box = screen.query_one(QuestionBox)
        await wait_until(lambda: box.display)
        assert str(box.border_title) == "#4 asks to use Edit"
        content = box.content
        assert isinstance(content, Text)
        assert "+        price = format_decimal(row.price, locale=row.locale)" in content.plain.splitlines()
        assert box.region.y > screen.query_one("#facts").region.y  # under the facts
        assert {"y": "allow", "N": "deny", "A": "allow_always"}.items() <= detail_keys(app).items()
        assert "(y copies it)" not in str(screen.query_one("#facts", Static).render())
        await pilot.press("y")
        await settle(pilot)
        (answer,) = inputs(app, RUNNING_JOB)
        assert (answer["request_id"], answer["allow"], answer["always"], answer["via"]) == (
            "demo-question",
            True,
            False,
            "tui",
        )
        assert "allowed Edit for #4" in toasts(app)
        # the engine hands the answer on and the question ends: the box goes, y copies again
        app.control.ledger.set_waiting(RUNNING_JOB, None, None)
        app.refresh_soon()
        await wait_until(lambda: not box.display)
        await settle(pilot)
        keys = detail_keys(app)
        assert "N" not in keys and "A" not in keys
        assert keys.get("y") == "copy_resume" or app.control.get(RUNNING_JOB).session_id is None


async def test_the_details_deny_with_a_reason_and_allow_always(tmp_path: Path) -> None:
    app = question_app(tmp_path, "edit")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_details(app, pilot, RUNNING_JOB)
        await wait_until(lambda: app.screen.query_one(QuestionBox).display)
        await pilot.press("N")
        await settle(pilot)
        assert isinstance(app.screen, DenyScreen)
        await pilot.press(*"keep the old format", "enter")
        await settle(pilot)
        assert isinstance(app.screen, JobDetailScreen)  # the dialog closed on the answer
        (denied,) = inputs(app, RUNNING_JOB)
        assert (denied["allow"], denied["message"]) == (False, "keep the old format")
        assert "denied Edit for #4: keep the old format" in toasts(app)
        # the next question (another request) is answered "always" from here too
        ask(app, RUNNING_JOB, "Bash", {"command": "make test"}, request_id="req-2")
        await wait_until(lambda: app.screen.query_one(QuestionBox).request_id == "req-2")
        await pilot.press("A")
        await settle(pilot)
        (always,) = inputs(app, RUNNING_JOB)
        assert (always["request_id"], always["allow"], always["always"]) == ("req-2", True, True)
        assert "allowed Bash always for #4" in toasts(app)
