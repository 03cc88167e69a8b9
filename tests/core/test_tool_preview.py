"""The preview a person answers a tool question by: a diff for file edits, the input otherwise."""

from __future__ import annotations

from pathlib import Path

from core.claude.tool_preview import preview


def test_an_edit_is_its_diff_against_the_file(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("a = 1\nb = 2\nc = 3\n", encoding="utf-8")
    shown = preview("Edit", {"file_path": "app.py", "old_string": "b = 2", "new_string": "b = 20"}, tmp_path)
    assert shown.summary == "app.py"
    assert "-b = 2" in shown.diff and "+b = 20" in shown.diff
    assert " a = 1" in shown.diff  # context lines
    assert shown.diff[0] == "--- a/app.py" and shown.diff[1] == "+++ b/app.py"


def test_replace_all_and_multi_edit(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    target.write_text("x\ny\nx\n", encoding="utf-8")
    every = preview(
        "Edit", {"file_path": str(target), "old_string": "x", "new_string": "z", "replace_all": True}
    )
    assert every.diff.count("+z") == 2
    multi = preview(
        "MultiEdit",
        {
            "file_path": str(target),
            "edits": [{"old_string": "y", "new_string": "Y"}, {"old_string": "x", "new_string": "X"}],
        },
    )
    assert "+Y" in multi.diff and "+X" in multi.diff and "-y" in multi.diff


def test_a_write_of_a_new_file_is_all_added(tmp_path: Path) -> None:
    shown = preview("Write", {"file_path": str(tmp_path / "new.md"), "content": "# Title\nbody\n"})
    assert [line for line in shown.diff if line.startswith("+") and not line.startswith("+++")] == [
        "+# Title",
        "+body",
    ]


def test_an_edit_the_file_does_not_hold_shows_the_change_asked_for(tmp_path: Path) -> None:
    shown = preview(
        "Edit", {"file_path": str(tmp_path / "gone.py"), "old_string": "old()", "new_string": "new()"}
    )
    assert "-old()" in shown.diff and "+new()" in shown.diff


def test_other_tools_show_their_input_and_lines_are_cut() -> None:
    shown = preview("Bash", {"command": "touch approved.txt", "description": "make a file"})
    assert shown.diff == [] and shown.summary == "touch approved.txt"
    assert any('"command": "touch approved.txt"' in line for line in shown.detail)
    assert shown.lines(2)[-1].startswith("… ") and len(shown.lines(2)) == 3


def test_a_damaged_input_never_raises(tmp_path: Path) -> None:
    assert preview("Edit", {"file_path": 3}).diff == []
    assert preview("MultiEdit", {"file_path": str(tmp_path / "f"), "edits": "nope"}).diff == []
    assert preview("Write", {"file_path": str(tmp_path / "f")}).diff == []
