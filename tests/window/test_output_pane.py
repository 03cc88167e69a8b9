"""The output pane shows streamed text exactly as the renderer produced it, however it is split."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

from core.claude.transcript import render_transcript
from tui.widgets.output_pane import OutputPane


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield OutputPane()


def delta(text: str) -> str:
    return json.dumps(
        {
            "type": "stream_event",
            "event": {"type": "content_block_delta", "delta": {"type": "text_delta", "text": text}},
        }
    )


@pytest.mark.parametrize("pieces_per_pull", [1, 2, 100])
async def test_streamed_pieces_land_on_the_right_lines(tmp_path: Path, pieces_per_pull: int) -> None:
    pieces = [
        "Risks:\n",
        "1. The CSV writer ignores the ",
        "locale.\n2. Exports",
        " over 10,000 rows",
        " stall.\n",
        "done",
    ]
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("")
    app = PaneApp()
    async with app.run_test() as pilot:
        pane = app.query_one(OutputPane)
        pane.show_job(1, [transcript])
        for start in range(0, len(pieces), pieces_per_pull):
            with transcript.open("a") as out:
                for piece in pieces[start : start + pieces_per_pull]:
                    out.write(delta(piece) + "\n")
            pane.pull()
            await pilot.pause()
        shown = "\n".join(pane.lines)
    assert shown == render_transcript(transcript).rstrip("\n")
    assert shown.splitlines() == [
        "Risks:",
        "1. The CSV writer ignores the locale.",
        "2. Exports over 10,000 rows stall.",
        "done",
    ]
