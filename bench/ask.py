"""Asking before a tool runs: from Claude's question to the window, and from `y` back to Claude.

The real Claude Code CLI runs against the loopback Messages API stand-in
(``tests/fixtures/standin.py``, served by this script's parent process) with a prompt
``[[bash:touch q-1;;touch q-2;;...]]``: one run asks for Bash ``--warmup`` + ``--questions``
times, one question after the other (``touch`` is not read-only, so the CLI asks each time).
Each question is answered with the ``y`` key as soon as it is on screen; the first
``--warmup`` are not counted. Two sides, each in a fresh process (``bench/uikit.py``):

- ours: ``build_app`` with an engine started in-process (``Session.start``) running headless in
  ``App.run_test(size=(120, 36))``; the job is the only row, so it is selected. In the child
  only, ``core.claude.runner.decode_line`` and Claude's stdin are wrapped (the source is
  untouched) to stamp the question's line the moment the runner decodes it and the answer the
  moment its ``control_response`` is flushed into Claude's stdin.
- bare: a bare Textual app (one DataTable row) whose thread worker starts the same CLI with the
  same flags (``--input-format stream-json --permission-prompt-tool stdio``), stamps the
  ``control_request`` as it decodes it and sets the row's state cell through
  ``call_from_thread``; its ``y`` binding writes the ``control_response`` to Claude's stdin from
  the app's thread. No ledger, engine, reads or workers: the floor of a Textual window over
  the CLI (a driver that answers on its own reading thread is faster still, but puts nothing
  on a screen and waits for no key).

(a) request to screen: from the stamp of the question's line to the end of the first frame
(``App._display`` hooked; the headless driver writes nothing, so each frame is rendered to the
escape string a terminal driver would write) by which, since the line arrived, the window has
drawn ``--drawn-text`` (default ``needs you``: the job's state and the header) and, ours, also
``--box-text`` (default ``asks to use Bash``: the title of the question box with the tool's
input), once the dashboard has been shown a snapshot holding that very question (ours) or the
cell was set (bare). A window that never draws that text (checked on the first
question, for 2 s) is timed to the first frame after the dashboard got the snapshot with the
question instead, and the report says so. (b) key to Claude: from the ``y`` Key event handed to
the app as a terminal driver does (``driver.send_message``) to the ``control_response``'s flush
into Claude's stdin. As context, the time from that flush to Claude's next API request at the
stand-in (it reads the answer, runs ``touch``, calls the API again).

Target: ours p95 <= 50 ms for (a) and for (b).

Run: ``uv run python bench/ask.py [--questions 50] [--warmup 3] [--claude PATH]``; about 15 s
on 2 idle cores. The CLI is ``--claude``, else ``$FLOWTUI_TEST_CLAUDE``, else ``claude``
on PATH, else ``.tools/node_modules/.bin/claude``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, ClassVar

from uikit import (
    PROJECT_DIR,
    SIZE,
    Bench,
    ChildFailed,
    bench_main,
    bench_parser,
    describe_crash,
    now,
    percentile,
    report_crashes,
    verdict,
)

FIXTURES_DIR = PROJECT_DIR / "tests" / "fixtures"
CONTROL_ARGV = (
    "-p",
    "--output-format",
    "stream-json",
    "--verbose",
    "--input-format",
    "stream-json",
    "--permission-prompt-tool",
    "stdio",
)
"""The flags flowtui's runner gives the CLI for questions (``core.claude.runner``), for the bare side."""
STEP_TIMEOUT = 60.0
"""Longest wait for one question (Claude's start-up, the tool, the API round trip)."""
TEXT_PROBE_SECONDS = 2.0
"""How long the first question may take to draw ``--drawn-text`` once its snapshot is shown."""
STAGES = ("published", "read started", "read answered", "shown")
"""Ours, in order: the engine published the change to the window, the window started a read of
the shared state, the read answered, the dashboard was shown the snapshot with the question
(or drew the question from the engine's ``QuestionChanged`` event, without a read)."""
_ESCAPE = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")


def find_claude(explicit: str | None) -> str:
    """The real CLI, found the way the tests find it."""
    for candidate in (explicit, os.environ.get("FLOWTUI_TEST_CLAUDE"), shutil.which("claude")):
        if candidate and Path(candidate).exists():
            return candidate
    local = PROJECT_DIR / ".tools" / "node_modules" / ".bin" / "claude"
    if local.exists():
        return str(local)
    raise SystemExit("the Claude Code CLI was not found: pass --claude PATH or set FLOWTUI_TEST_CLAUDE")


def claude_environment(work: Path, base_url: str) -> dict[str, str]:
    """Offline against the stand-in, with a throw-away HOME and config (as ``tests/conftest.py``)."""
    home, config = work / "claude-home", work / "claude-config"
    home.mkdir(exist_ok=True)
    config.mkdir(exist_ok=True)
    env = {name: value for name, value in os.environ.items() if not name.startswith(("ANTHROPIC_", "CLAUDE"))}
    env.update(
        ANTHROPIC_BASE_URL=base_url,
        ANTHROPIC_API_KEY="test-key",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        DISABLE_AUTOUPDATER="1",
        HOME=str(home),
        CLAUDE_CONFIG_DIR=str(config),
    )
    return env


def ask_prompt(side: str, count: int) -> str:
    commands = ";;".join(f"touch q-{index}" for index in range(1, count + 1))
    return f"{side}: make the files [[bash:{commands}]]"


def plain(text: str) -> str:
    return _ESCAPE.sub("", text)


# -- measuring inside a child ---------------------------------------------------------


class Stamps:
    """When each question (by request id) arrived, was on screen, was answered by key, reached Claude."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.arrived: dict[str, float] = {}
        self.drawn: dict[str, float] = {}
        self.pressed: dict[str, float] = {}
        self.written: dict[str, float] = {}
        self.written_wall: dict[str, float] = {}
        self.cell_text: dict[str, str] = {}
        self.stages: dict[str, list[float]] = {stage: [] for stage in STAGES}
        """When each step between a question's line and the window's frame happened (ours)."""

    def arrive(self, request_id: str) -> None:
        self.arrived[request_id] = now()
        self.order.append(request_id)  # after the stamp: a reader of order finds it stamped

    def write(self, request_id: str) -> None:
        self.written[request_id] = now()
        self.written_wall[request_id] = time.time()


class StampingStdin:
    """Claude's stdin, stamping each ``control_response`` once it is flushed into the pipe."""

    def __init__(self, stdin: IO[bytes], stamps: Stamps) -> None:
        self._stdin = stdin
        self._stamps = stamps
        self._unflushed: list[str] = []

    def write(self, data: bytes) -> int:
        with contextlib.suppress(ValueError):
            line = json.loads(data)
            response = line.get("response") if line.get("type") == "control_response" else None
            if isinstance(response, dict) and isinstance(response.get("request_id"), str):
                self._unflushed.append(response["request_id"])
        return self._stdin.write(data)

    def flush(self) -> None:
        self._stdin.flush()
        for request_id in self._unflushed:
            self._stamps.write(request_id)
        self._unflushed.clear()

    def close(self) -> None:
        self._stdin.close()


def question_id(line: object) -> str | None:
    """The request id of a ``can_use_tool`` control request, else None."""
    if not isinstance(line, dict) or line.get("type") != "control_request":
        return None
    request = line.get("request")
    if not isinstance(request, dict) or request.get("subtype") != "can_use_tool":
        return None
    request_id = line.get("request_id")
    return request_id if isinstance(request_id, str) else None


class FrameWatch:
    """Hooks ``App._display``: each frame's text, and a check run after each frame."""

    def __init__(self, app: Any) -> None:
        from textual._compositor import CompositorUpdate

        self.app = app
        self.frames = 0
        self.on_frame: Callable[[float, str], None] = lambda stamp, text: None
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is None or app._batch_count:
                return
            text = renderable.render_segments(app.console) if isinstance(renderable, CompositorUpdate) else ""
            stamp = now()
            self.frames += 1
            self.on_frame(stamp, plain(text))

        app._display = display

    def press(self, key: str) -> float:
        """Hand ``key`` to the app as a terminal driver does; returns when it was sent."""
        from textual import events

        event = events.Key(key, key)
        event.set_sender(self.app)
        stamp = now()
        self.app._driver.send_message(event)
        return stamp


async def until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = now() + timeout
    while not condition():
        if now() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


async def answer_each(
    app: Any,
    stamps: Stamps,
    total: int,
    shown: Callable[[str], bool],
    cell: Callable[[], str],
    needles: tuple[str, ...],
    found: dict[str, Any],
) -> None:
    """Answer ``total`` questions with ``y`` as each is on screen (every needle drawn by a
    frame since it arrived), stamping as they go."""
    watch = FrameWatch(app)
    seen_text: dict[str, set[str]] = {}
    found["mode"] = "text"

    def on_frame(stamp: float, text: str) -> None:
        if not stamps.order:
            return
        request_id = stamps.order[-1]
        if request_id in stamps.drawn:
            return
        seen = seen_text.setdefault(request_id, set())
        seen.update(needle for needle in needles if needle in text)
        if shown(request_id) and (found["mode"] == "snapshot" or len(seen) == len(needles)):
            stamps.drawn[request_id] = stamp
            stamps.cell_text[request_id] = cell()

    watch.on_frame = on_frame
    for index in range(total):
        await answer_one(app, watch, stamps, index, shown, found)
    found["frames"] = watch.frames


async def answer_one(
    app: Any,
    watch: FrameWatch,
    stamps: Stamps,
    index: int,
    shown: Callable[[str], bool],
    found: dict[str, Any],
) -> None:
    """Wait for question ``index`` on screen, press ``y``, wait for the answer on Claude's stdin."""
    await until(lambda: len(stamps.order) > index, STEP_TIMEOUT, f"question {index + 1}")
    request_id = stamps.order[index]
    if index == 0:
        await until(lambda: shown(request_id), STEP_TIMEOUT, "the first question's snapshot")
        with contextlib.suppress(TimeoutError):
            await until(lambda: request_id in stamps.drawn, TEXT_PROBE_SECONDS, "the text")
        if request_id not in stamps.drawn:
            found["mode"] = "snapshot"  # the window never draws the text: time its snapshot
            app.refresh()
    await until(lambda: request_id in stamps.drawn, STEP_TIMEOUT, f"question {index + 1} on screen")
    stamps.pressed[request_id] = watch.press("y")
    await until(lambda: request_id in stamps.written, STEP_TIMEOUT, f"answer {index + 1} on stdin")


def wrap_ours(stamps: Stamps) -> None:
    """Stamp questions where the runner decodes them and answers where they reach Claude's stdin."""
    import core.claude.runner as runner
    from core.claude.conversation import Conversation

    original_decode = runner.decode_line
    original_start = Conversation.start

    def decode_line(raw: bytes) -> Any:
        decoded = original_decode(raw)
        request_id = question_id(decoded)
        if request_id is not None:
            stamps.arrive(request_id)
        return decoded

    def start(self: Conversation, prompt: str) -> None:
        self.stdin = StampingStdin(self.stdin, stamps)  # type: ignore[assignment]
        original_start(self, prompt)

    runner.decode_line = decode_line  # type: ignore[assignment]
    Conversation.start = start  # type: ignore[method-assign]
    stage_stamps(stamps)


def stage_stamps(stamps: Stamps) -> None:
    """Stamp the window's steps from a change in the engine to the dashboard's snapshot."""
    from core.events import EventBus, SharedStateChanged
    from tui.app import FlowtuiApp
    from tui.reader import StateReader
    from tui.screens.dashboard import DashboardScreen

    stages = stamps.stages
    publish, start = EventBus.publish, StateReader.start
    answered, show = FlowtuiApp.on_snapshot_read, DashboardScreen.show
    show_question = DashboardScreen.show_question_change

    def on_publish(self: EventBus, event: Any) -> None:
        if isinstance(event, SharedStateChanged):
            stages["published"].append(now())
        publish(self, event)

    def on_start(self: StateReader, door: Any) -> None:
        if self._reading_since is None:
            stages["read started"].append(now())
        start(self, door)

    def on_answered(self: FlowtuiApp, message: Any) -> None:
        stages["read answered"].append(now())
        answered(self, message)

    def on_show(self: DashboardScreen, snapshot: Any) -> None:
        show(self, snapshot)
        stages["shown"].append(now())

    def on_show_question(self: DashboardScreen, snapshot: Any) -> None:
        show_question(self, snapshot)
        stages["shown"].append(now())

    DashboardScreen.show_question_change = on_show_question  # type: ignore[method-assign]
    EventBus.publish = on_publish  # type: ignore[method-assign]
    StateReader.start = on_start  # type: ignore[method-assign]
    FlowtuiApp.on_snapshot_read = on_answered  # type: ignore[method-assign]
    DashboardScreen.show = on_show  # type: ignore[method-assign]


def breakdown(stamps: Stamps, measured: list[str]) -> dict[str, list[float]]:
    """Per stage, ms from the question's line to the stage's first time after it (and before
    the frame that drew it)."""
    found: dict[str, list[float]] = {}
    for stage, times in stamps.stages.items():
        found[stage] = []
        for rid in measured:
            arrived, drawn = stamps.arrived[rid], stamps.drawn[rid]
            after = [t for t in times if arrived <= t <= drawn]
            if after:
                found[stage].append((after[0] - arrived) * 1000)
    return found


async def run_ours(options: dict[str, Any], stamps: Stamps, found: dict[str, Any]) -> None:
    from core.config.settings import CLAUDE_ENV, load_settings
    from core.host.session import Session
    from core.paths import Paths
    from tui.app import build_app
    from tui.widgets.job_table import JobTable

    wrap_ours(stamps)
    root = Path(options["root"])
    paths = Paths.under(root)
    settings = load_settings(paths.config_file)
    environ = {**options["claude_env"], CLAUDE_ENV: options["claude"]}
    app = build_app(settings, paths, open_session=lambda: Session.start(settings, paths, environ))
    work = root / "work"
    work.mkdir()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        if app.session is None:
            raise RuntimeError("the app has no session")
        job = app.control.add(options["prompt"], cwd=str(work))

        def shown(request_id: str) -> bool:
            dashboard = app._dashboard()
            snapshot = dashboard.snapshot if dashboard is not None else None
            held = snapshot.job(job.id) if snapshot is not None else None
            question = held.question if held is not None else None
            return question is not None and question.get("request_id") == request_id

        def cell() -> str:
            try:
                value = app.screen.query_one(JobTable).get_cell(str(job.id), "state")
            except Exception:  # another screen on top, or a table being rebuilt: say nothing
                return "?"
            return str(getattr(value, "plain", value))

        try:
            needles = (options["drawn_text"], options["box_text"])
            await answer_each(app, stamps, options["total"], shown, cell, needles, found)
            await until(lambda: app.control.get(job.id).state.is_final, STEP_TIMEOUT, "the job to end")
        finally:
            found["job_state"] = str(app.control.get(job.id).state)
            found["files"] = len(list(work.glob("q-*")))


def bare_app_class() -> type[Any]:
    from textual.app import App, ComposeResult
    from textual.binding import Binding, BindingType
    from textual.widgets import DataTable

    class BareApp(App[None]):
        """One row for the run; ``y`` answers its oldest question."""

        CSS = "DataTable { height: 6; }"
        BINDINGS: ClassVar[list[BindingType]] = [Binding("y", "allow", "Allow")]

        def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, prompt: str, stamps: Stamps):
            super().__init__()
            self.argv, self.env, self.cwd, self.prompt, self.stamps = argv, env, cwd, prompt, stamps
            self.pending: deque[tuple[str, dict[str, Any]]] = deque()
            self.process: subprocess.Popen[bytes] | None = None
            self.finished = threading.Event()
            self.state = "starting"

        def compose(self) -> ComposeResult:
            yield DataTable(id="jobs")

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_column("ID", key="id")
            table.add_column("State", key="state", width=12)
            table.add_column("Prompt", key="prompt")
            table.add_row("1", "running", self.prompt[:60], key="1")
            self.run_worker(self._read, thread=True, exit_on_error=False)

        def _write(self, message: dict[str, Any]) -> None:
            assert self.process is not None and self.process.stdin is not None
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            self.process.stdin.flush()

        def _read(self) -> None:
            self.process = subprocess.Popen(
                self.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                cwd=self.cwd,
                env=self.env,
            )
            assert self.process.stdout is not None and self.process.stdin is not None
            self.call_from_thread(
                self._write,
                {"type": "control_request", "request_id": "init", "request": {"subtype": "initialize"}},
            )
            user = {"role": "user", "content": self.prompt}
            self.call_from_thread(
                self._write,
                {"type": "user", "message": user, "parent_tool_use_id": None, "session_id": "default"},
            )
            try:
                for raw in self.process.stdout:
                    line = json.loads(raw)
                    request_id = question_id(line)
                    if request_id is not None:
                        self.stamps.arrive(request_id)
                        self.call_from_thread(self._ask, request_id, line["request"].get("input") or {})
                    elif line.get("type") == "result":
                        self.state = "succeeded" if not line.get("is_error") else "failed"
                        self.process.stdin.close()
            finally:
                self.process.wait()
                self.finished.set()

        def _ask(self, request_id: str, tool_input: dict[str, Any]) -> None:
            self.pending.append((request_id, tool_input))
            self.query_one(DataTable).update_cell("1", "state", "needs you")

        def action_allow(self) -> None:
            if not self.pending:
                return
            request_id, tool_input = self.pending.popleft()
            response = {"behavior": "allow", "updatedInput": tool_input}
            self._write(
                {
                    "type": "control_response",
                    "response": {"subtype": "success", "request_id": request_id, "response": response},
                }
            )
            self.stamps.write(request_id)
            self.query_one(DataTable).update_cell("1", "state", "running")

    return BareApp


async def run_bare(options: dict[str, Any], stamps: Stamps, found: dict[str, Any]) -> None:
    from textual.widgets import DataTable

    work = Path(options["root"]) / "work"
    work.mkdir(parents=True)
    argv = [options["claude"], *CONTROL_ARGV]
    app = bare_app_class()(argv, options["claude_env"], work, options["prompt"], stamps)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()

        def cell() -> str:
            return str(app.query_one(DataTable).get_cell("1", "state"))

        try:
            await answer_each(
                app, stamps, options["total"], lambda request_id: True, cell, (options["drawn_text"],), found
            )
            await until(app.finished.is_set, STEP_TIMEOUT, "the CLI to end")
        finally:
            found["job_state"] = app.state
            found["files"] = len(list(work.glob("q-*")))
            if app.process is not None and app.process.poll() is None:
                app.process.kill()


async def child(side: str, options: dict[str, Any], entered: float) -> dict[str, Any]:
    stamps = Stamps()
    found: dict[str, Any] = {}
    try:
        await (run_ours if side == "ours" else run_bare)(options, stamps, found)
    except Exception as error:  # a finding to report with the numbers up to then
        found["crash"] = describe_crash(error)
    measured = [rid for rid in stamps.order[options["warmup"] :] if rid in stamps.written]
    return {
        **found,
        "asked": len(stamps.order),
        "to_screen_ms": [(stamps.drawn[rid] - stamps.arrived[rid]) * 1000 for rid in measured],
        "key_to_claude_ms": [(stamps.written[rid] - stamps.pressed[rid]) * 1000 for rid in measured],
        "written_wall": [stamps.written_wall[rid] for rid in measured],
        "cells": sorted({stamps.cell_text[rid] for rid in measured if rid in stamps.cell_text}),
        "stages": breakdown(stamps, measured) if side == "ours" else {},
    }


# -- the parent ------------------------------------------------------------------------


def measure(args: argparse.Namespace, bench: Bench) -> None:
    sys.path.insert(0, str(FIXTURES_DIR))
    from standin import MessagesStandIn

    claude = find_claude(args.claude)
    total = args.warmup + args.questions
    with MessagesStandIn() as standin:
        env = claude_environment(bench.work, standin.url)
        version = subprocess.run([claude, "--version"], capture_output=True, text=True, env=env, timeout=60)
        print(
            f"asking: {args.questions} Bash questions in one Claude run per side (after {args.warmup} "
            f"warm-up), answered with y as each is on screen; Claude Code {version.stdout.strip()} "
            "against the loopback stand-in",
            flush=True,
        )
        results: dict[str, dict[str, Any]] = {}
        for side in ("ours", "bare"):
            options = {
                "root": bench.fresh_root(side),
                "claude": claude,
                "claude_env": env,
                "prompt": ask_prompt(side, total),
                "total": total,
                "warmup": args.warmup,
                "drawn_text": args.drawn_text,
                "box_text": args.box_text,
            }
            results[side] = bench.run(side, options)
            requests = sorted(r["time"] for r in standin.main_requests() if r["prompt"] == options["prompt"])
            results[side]["to_next_request_ms"] = [
                (next((t for t in requests if t > written), float("nan")) - written) * 1000
                for written in results[side]["written_wall"]
            ]
    report(args, results)


def stats(values: list[float]) -> str:
    if not values:
        return f"{'-':>7}{'-':>7}{'-':>7}"
    return f"{percentile(values, 50):>7.1f}{percentile(values, 95):>7.1f}{max(values):>7.1f}"


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    print(
        f"   {'':<6}{'n':>4}  {'(a) request to screen':>21}  {'(b) key to Claude':>21}  "
        f"{'answer to next API call':>23}"
    )
    columns = "p50    p95    max ms"
    print(f"   {'':<10}  {columns:>21}  {columns:>21}  {columns:>23}")
    for side in ("ours", "bare"):
        r = results[side]
        print(
            f"   {side:<6}{len(r['to_screen_ms']):>4}  {stats(r['to_screen_ms'])}  "
            f"{stats(r['key_to_claude_ms'])}    {stats(r['to_next_request_ms'])}"
        )
    report_crashes(results)
    ours, bare = results["ours"], results["bare"]
    if not ours["to_screen_ms"] or not bare["to_screen_ms"]:
        raise ChildFailed("a side answered no question: see above")

    def ratio(key: str, pct: float) -> str:
        return f"{percentile(ours[key], pct) / max(percentile(bare[key], pct), 1e-9):.1f}x"

    print(
        f"   ratio ours/bare: (a) p50 {ratio('to_screen_ms', 50)}, p95 {ratio('to_screen_ms', 95)}; "
        f"(b) p50 {ratio('key_to_claude_ms', 50)}, p95 {ratio('key_to_claude_ms', 95)}"
    )
    a95, b95 = percentile(ours["to_screen_ms"], 95), percentile(ours["key_to_claude_ms"], 95)
    print(
        f"   target ours p95 <= 50 ms: (a) {verdict(a95 <= 50)} ({a95:.1f} ms); "
        f"(b) {verdict(b95 <= 50)} ({b95:.1f} ms)"
    )
    stages = ours.get("stages", {})
    if stages:
        steps = ", ".join(
            f"{stage} {percentile(times, 50):.1f}/{percentile(times, 95):.1f}"
            for stage, times in stages.items()
            if times
        )
        print(f"   ours (a) step by step, ms after the line p50/p95: {steps}")
    for side in ("ours", "bare"):
        r = results[side]
        drawn = (args.drawn_text, args.box_text) if side == "ours" else (args.drawn_text,)
        how = (
            "the first frame by which " + " and ".join(repr(text) for text in drawn) + " were drawn"
            if r.get("mode") == "text"
            else f"the first frame after the snapshot with the question (it never drew {' and '.join(drawn)})"
        )
        cells = ", ".join(repr(text) for text in r.get("cells", [])) or "?"
        print(
            f"   {side}: on screen = {how}; the state cell then said {cells}; {r.get('asked', 0)} asked, "
            f"{r.get('files', 0)} files made, run {r.get('job_state', '?')}, {r.get('frames', 0)} frames"
        )


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--questions", type=int, default=50, help="questions timed (default 50)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=3,
        help="questions answered first, untimed (default 3; the first tells how 'on screen' is seen)",
    )
    parser.add_argument("--claude", default=None, help="the Claude Code CLI (default: as the tests find it)")
    parser.add_argument(
        "--drawn-text", default="needs you", help="what the window draws for a question (default 'needs you')"
    )
    parser.add_argument(
        "--box-text",
        default="asks to use Bash",
        help="what ours also draws: the question box's title (default 'asks to use Bash')",
    )
    return bench_main("ask", __file__, parser, child, measure)


if __name__ == "__main__":
    sys.exit(main())
