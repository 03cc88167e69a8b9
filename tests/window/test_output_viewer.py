"""``o`` / ``e`` hand the job's readable transcript to $PAGER / $EDITOR: the command, the file,
and what the window says when that cannot happen (the terminal itself: tests/e2e/test_tui_pager.py)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from core.claude.transcript import render_transcript
from tui.demo import demo_app
from tui.pager import EDITOR, PAGER, ViewerMissing, readable_transcript, viewer_command, write_transcript_file
from tui.screenshots import settle


def script(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_the_variable_is_split_into_an_argv_and_the_file_goes_last(tmp_path: Path) -> None:
    pager = script(tmp_path, "my pager")
    environ = {"PAGER": f"'{pager}' -R --quit-if-one-screen", "PATH": str(tmp_path)}
    file = tmp_path / "t.txt"
    assert viewer_command(PAGER, environ, file) == [str(pager), "-R", "--quit-if-one-screen", str(file)]
    # a bare name is found on PATH; "; rm -rf ~" is just more arguments, never a shell
    script(tmp_path, "edit")
    environ = {"EDITOR": "edit ; rm -rf ~", "PATH": str(tmp_path)}
    assert viewer_command(EDITOR, environ, file) == [str(tmp_path / "edit"), ";", "rm", "-rf", "~", str(file)]


def test_unset_variables_fall_back_and_missing_programs_name_the_variable(tmp_path: Path) -> None:
    script(tmp_path, "less")
    assert viewer_command(PAGER, {"PATH": str(tmp_path)}, tmp_path / "f")[0] == str(tmp_path / "less")
    with pytest.raises(ViewerMissing, match=r"vi \(set \$EDITOR\) was not found"):
        viewer_command(EDITOR, {"PATH": str(tmp_path)}, tmp_path / "f")
    with pytest.raises(ViewerMissing, match=r"\$PAGER \(nosuchpager\) was not found"):
        viewer_command(PAGER, {"PAGER": "nosuchpager -R", "PATH": str(tmp_path)}, tmp_path / "f")
    with pytest.raises(ValueError):
        viewer_command(PAGER, {"PAGER": "less 'unclosed", "PATH": str(tmp_path)}, tmp_path / "f")


def delta(text: str) -> str:
    return json.dumps(
        {
            "type": "stream_event",
            "event": {"type": "content_block_delta", "delta": {"type": "text_delta", "text": text}},
        }
    )


def test_the_text_is_every_attempt_rendered_as_flowtui_logs_prints_it(tmp_path: Path) -> None:
    first, second = tmp_path / "1.jsonl", tmp_path / "2.jsonl"
    first.write_text(delta("first try \x1b[31mred\n") + "\n")
    second.write_text(delta("second try\n") + "\n")
    text = readable_transcript(7, [first, second])
    assert text == (
        f"── attempt 1 ──\n{render_transcript(first)}\n── attempt 2 ──\n{render_transcript(second)}"
    )
    assert "\x1b" not in text and "\\x1b[31mred" in text  # escapes are shown, not obeyed
    assert readable_transcript(7, [first]) == render_transcript(first)
    assert "no transcript for attempt 2" in readable_transcript(7, [first, tmp_path / "missing.jsonl"])
    written = write_transcript_file(7, text, tmp_path)
    assert written.read_text(encoding="utf-8") == text and written.name.startswith("flowtui-job-7-")


async def test_o_without_a_terminal_to_hand_over_says_so_and_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pager = script(tmp_path, "pager")
    monkeypatch.setenv("PAGER", str(pager))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    app = demo_app(tmp_path / "data", seed=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await pilot.press("o")  # #5 is queued: nothing to show yet
        await pilot.press("j", "j", "j", "j")  # #1, finished, with a transcript
        await settle(pilot)
        await pilot.press("o")  # the headless test driver cannot suspend
        monkeypatch.setenv("EDITOR", "no-such-editor --wait")
        await pilot.press("e")
        await pilot.pause()
        messages = [notification.message for notification in app._notifications]
    assert "job #5 has no transcript yet" in messages
    assert "this terminal cannot be handed to another program" in messages
    assert "cannot open the transcript: $EDITOR (no-such-editor) was not found" in messages
    assert os.listdir(tmp_path / "tmp") == []  # the temp files are gone
