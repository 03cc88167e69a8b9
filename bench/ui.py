"""The control centre under load: streaming, key response, memory and start-up vs a naive Textual app.

Every measurement runs in a fresh Python process (so RSS and start-up are its own); the
baseline and ours run in the same invocation, one after the other. A generator process
stands in for Claude: it prints N stream-json text-delta lines (one line of text each, as
in ``bench/stream.py``) and a result line, as fast as it can or at ``--rate`` lines/s, and
ignores every argument after its own two (flowtui's ``-p ... -- PROMPT``).

1. Streaming + key response (``--lines``, default 300k, each side cut at ``--seconds``).
   - ours: ``build_app`` with an engine started in-process (``Session.start``, default
     settings, ``FLOWTUI_CLAUDE`` = the generator) running headless in
     ``App.run_test(size=(120, 36))``. One job is added; being the only row it is
     selected, so the OutputPane shows and follows it (core publishes ``JobOutput``, the app
     calls ``pull_output`` every 50 ms, the pane reads the transcript file). In this process
     only, ``OutputPane.pull`` is wrapped (the source is untouched) to count the transcript
     lines the pane consumed and how long each pull held the event loop ("batch").
   - naive: a bare Textual app (Header, DataTable, ``Log()``, Footer, the dashboard's
     j/k/f bindings) whose thread worker reads the generator's pipe line by line, decodes
     the JSON and hands each text to ``Log.write_line`` through ``call_from_thread``.
   Lines/s = lines the widget consumed / time from its first to its last consumed line.
   Keys: the output widget is focused, then ``--keys`` (default ``k``, ``f``) are pressed
   in turn every ``--key-gap`` s while lines flow: ``k`` scrolls the output up a line (the
   pane holds), ``f`` follows the end again; both repaint the output and neither changes
   the shown job (``j``/``k`` on the jobs table would switch the pane to another job, and
   ``tab`` costs 60-110 ms of CPU a press in Textual's focus change and Footer recompose,
   which would swamp the stream at 10 keys/s). Timed: from the Key event handed to the app
   as a terminal driver does (``driver.send_message``) to the end of the first frame
   composed after the key's action returned (``App.run_action`` and ``App._display``
   hooked). The headless driver writes nothing, so the hook also renders each frame to the
   escape string a real driver would write. ``k``'s scroll is animated: its first frame
   may show the first step only. An app that crashes (an exception ends it) is reported
   with the exception and its numbers up to then. Target: ours >= 20,000 lines/s with
   key-to-frame p95 <= 50 ms.

2. Memory (``--memory-lines``, default 1M, each side cut at ``--memory-seconds``): the
   same two apps, no keys; RSS (psutil, current) when the widget has consumed 100k lines
   and at the end, and the peak (``ru_maxrss``). The naive side here is ``Log()`` without
   ``max_lines`` fed with ``write_lines`` in batches (2,000 lines or 50 ms), as
   ``write_line`` per line would need many minutes for 1M lines; what it keeps is the
   same. Target: ours <= 150 MB and flat (< 10 MB growth after the first 100k lines).

3. Start-up to the first frame (``--startup-runs``, default 5 per side, after one
   unreported warm-up each, interleaved): from just before the parent launches the process
   to the end of the first frame (hooked as above) of ``run_async(headless=True,
   size=(120, 36))``; the child has imported only the standard library when its
   "imports" part begins.
   - ours: as ``flowtui`` run alone does it: ``cli.entry`` imported (not the CLI parser),
     ``run_app``'s steps
     (data dir, logging to a file), ``build_app`` with its own opener on an empty temp data
     dir; the first frame of the DashboardScreen (its ``on_mount`` reads the ledger first,
     so that frame shows the state). Like the command, the window opens the shared state
     (``Session.open``) and starts its real engine (``Session.start_engine``: lock,
     recovery, workers, services) in a thread after that first frame; the engine's start
     is therefore not in this number.
   - bare: a Textual app with Header, DataTable (5 rows), Log and Footer.
   Medians, split into interpreter start, imports and app start to the first frame.
   Target: ours <= 1.5x bare.

No asserts: it prints both sides, the ratios and the targets, and the load average (other
work on the machine moves these numbers). Temp dirs and child processes (their process
groups; the generators end on a broken pipe) are removed, also on Ctrl-C.

Run: ``uv run python bench/ui.py [--lines 300000] [--rate 0] [--seconds 15] [--keys k,f]
[--key-gap 0.1] [--memory-lines 1000000] [--memory-seconds 45] [--startup-runs 5]
[--skip stream,memory,startup]``. The default run takes about 2 minutes on 2 idle cores
(3 on a busy machine).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

# Only the standard library at the top: this file is also the child process of the
# start-up measurement, which must pay for its own imports.

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
SIZE = (120, 36)
RSS_MARK = 100_000
CHILD_TIMEOUT = 240.0
KEY_TIMEOUT = 2.0
START_TIMEOUT = 30.0

GENERATOR = """
import json, sys, time
n, rate = int(sys.argv[1]), float(sys.argv[2])  # flowtui's -p ... -- PROMPT follow: ignored
text = "the quick brown fox jumps over the lazy dog\\n"
delta = json.dumps({"type": "stream_event", "event": {"type": "content_block_delta", "index": 0,
    "delta": {"type": "text_delta", "text": text}}, "session_id": "bench",
    "parent_tool_use_id": None, "uuid": "00000000-0000-0000-0000-000000000000"}) + "\\n"
chunk = 1000 if rate <= 0 else max(1, int(rate / 100))
block = (delta * chunk).encode()
out = sys.stdout.buffer
start = time.monotonic()
sent = 0
try:
    while sent < n:
        k = min(chunk, n - sent)
        out.write(block if k == chunk else (delta * k).encode())
        sent += k
        if rate > 0:
            out.flush()
            delay = start + sent / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    out.write((json.dumps({"type": "result", "subtype": "success", "is_error": False, "result": "ok",
        "total_cost_usd": 0, "num_turns": 1, "session_id": "bench"}) + "\\n").encode())
    out.flush()
except BrokenPipeError:
    pass
"""


# -- measuring inside a child ---------------------------------------------------------


def now() -> float:
    return time.perf_counter()


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB on Linux


class LineMeter:
    """Lines a widget consumed, when, and how long each batch held the event loop."""

    def __init__(self) -> None:
        self.lines = 0
        self.first: float | None = None
        self.last: float | None = None
        self.batches = 0
        self.batch_ms: list[float] = []
        self.rss_at_mark: float | None = None

    def record(self, count: int, started: float, ended: float) -> None:
        if self.first is None:
            self.first = started
        self.last = ended
        self.lines += count
        self.batches += 1
        self.batch_ms.append((ended - started) * 1000)
        if self.rss_at_mark is None and self.lines >= RSS_MARK:
            self.rss_at_mark = rss_mb()

    def rate(self) -> float:
        if self.first is None or self.last is None or self.last <= self.first:
            return 0.0
        return self.lines / (self.last - self.first)

    def summary(self) -> dict[str, Any]:
        batch = sorted(self.batch_ms)
        return {
            "lines": self.lines,
            "rate": self.rate(),
            "seconds": (self.last - self.first) if self.first and self.last else 0.0,
            "batches": self.batches,
            "batch_p50_ms": percentile(batch, 50) if batch else 0.0,
            "batch_p95_ms": percentile(batch, 95) if batch else 0.0,
            "batch_max_ms": batch[-1] if batch else 0.0,
            "rss_at_mark": self.rss_at_mark,
        }


class FrameProbe:
    """Hooks one app: counts frames, and times a key from its sending to the first frame
    composed after the key's action ran. The headless driver writes nothing, so each frame
    is also rendered to the escape string a terminal driver would write."""

    def __init__(self, app: Any) -> None:
        from textual._compositor import CompositorUpdate

        self.app = app
        self.frames = 0
        self.on_frame: Callable[[Any], None] | None = None
        self._acted = False
        self._waiter: asyncio.Future[float] | None = None
        original_display = app._display
        original_run_action = app.run_action

        def display(screen: Any, renderable: Any) -> None:
            original_display(screen, renderable)
            if renderable is None or app._batch_count:
                return
            if isinstance(renderable, CompositorUpdate):
                renderable.render_segments(app.console)
            stamp = now()
            self.frames += 1
            if self.on_frame is not None:
                self.on_frame(screen)
            if self._acted and self._waiter is not None and not self._waiter.done():
                self._waiter.set_result(stamp)

        async def run_action(*args: Any, **kwargs: Any) -> Any:
            result = await original_run_action(*args, **kwargs)
            if self._waiter is not None:
                self._acted = True
            return result

        app._display = display
        app.run_action = run_action

    async def press(self, key: str) -> float | None:
        """Milliseconds from sending ``key`` to the frame that shows its effect (None: timed out)."""
        from textual import events

        char = key if len(key) == 1 else {"tab": "\t", "enter": "\r", "escape": "\x1b"}.get(key)
        self._acted = False
        self._waiter = asyncio.get_running_loop().create_future()
        event = events.Key(key, char)
        event.set_sender(self.app)
        started = now()
        self.app._driver.send_message(event)
        try:
            shown = await asyncio.wait_for(self._waiter, KEY_TIMEOUT)
        except TimeoutError:
            return None
        finally:
            self._waiter = None
        return (shown - started) * 1000


async def press_while(
    probe: FrameProbe, keys: Sequence[str], gap: float, keep_going: Callable[[], bool], found: dict[str, Any]
) -> None:
    """Press ``keys`` in turn every ``gap`` s while ``keep_going()`` and the app lives; the
    latencies (ms) and timeouts go into ``found`` as they come (kept if the app crashes)."""
    latencies: list[float] = found.setdefault("latencies", [])
    found.setdefault("timeouts", 0)
    index = 0
    while keep_going() and probe.app.return_code is None:
        started = now()
        latency = await probe.press(keys[index % len(keys)])
        index += 1
        if latency is None:
            found["timeouts"] += 1
        else:
            latencies.append(latency)
        await asyncio.sleep(max(0.0, gap - (now() - started)))


async def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = now() + timeout
    while not condition():
        if now() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def generator_command(generator: Path, lines: int, rate: float) -> list[str]:
    return [sys.executable, str(generator), str(lines), str(rate)]


# -- ours: the real app with an in-process engine ---------------------------------------


def meter_output_pane(meter: LineMeter) -> None:
    """Wrap ``OutputPane.pull`` (in this process only) to count what the pane consumed."""
    from tui.widgets.output_pane import OutputPane

    original = OutputPane.pull

    def pull(self: OutputPane) -> int:
        started = now()
        count = original(self)
        if count:
            meter.record(count, started, now())
        return count

    OutputPane.pull = pull  # type: ignore[method-assign]


async def run_ours(
    root: Path,
    generator: Path,
    lines: int,
    rate: float,
    body: Callable[[Any, LineMeter, int], Awaitable[None]],
) -> dict[str, Any]:
    from core.config.settings import CLAUDE_ENV, load_settings
    from core.events import JobChanged
    from core.host.session import Session
    from core.paths import Paths
    from tui.app import build_app

    meter = LineMeter()
    meter_output_pane(meter)
    paths = Paths(config_file=root / "config.toml", data_dir=root)
    settings = load_settings(paths.config_file)
    environ = {**os.environ, CLAUDE_ENV: shlex.join(generator_command(generator, lines, rate))}
    app = build_app(settings, paths, open_session=lambda: Session.start(settings, paths, environ))
    ended: dict[str, float] = {}  # when the job finished, and the pane's count then
    result: dict[str, Any] = {"job_state": "unknown"}
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            if app.session is None:
                raise RuntimeError("the app has no session")

            def on_event(event: object) -> None:  # on the engine's thread
                if isinstance(event, JobChanged) and event.job.state.is_final and "at" not in ended:
                    ended["lines"] = meter.lines
                    ended["at"] = now()

            app.session.bus.subscribe(on_event)
            job = app.control.add("stream", cwd=str(root))
            await wait_for(
                lambda: meter.lines > 0 or app.return_code is not None,
                START_TIMEOUT,
                "the pane's first lines",
            )
            await body(app, meter, lines + 1)  # + the result line
            if app.return_code is None:
                result["job_state"] = str(app.control.get(job.id).state)
    except Exception as error:  # the app crashed: a finding to report, not a failed measurement
        result["crash"] = describe_crash(error)
    result.update(meter.summary())
    if "at" in ended and meter.first is not None:
        result["job_end_s"] = ended["at"] - meter.first
        result["lines_at_job_end"] = int(ended["lines"])
    return result


def describe_crash(error: BaseException) -> str:
    """One line: the exception and the innermost frame it was raised in."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno} ({frames[-1].line})" if frames else ""
    return f"{type(error).__name__}: {error}{where}"


# -- naive: a bare Textual app fed line by line ----------------------------------------


def naive_app_class() -> type[Any]:
    from textual.app import App, ComposeResult
    from textual.binding import Binding, BindingType
    from textual.widgets import DataTable, Footer, Header, Log

    class NaiveApp(App[None]):
        CSS = "DataTable { height: 12; } Log { height: 1fr; border: round $primary; }"
        BINDINGS: ClassVar[list[BindingType]] = [
            Binding("j", "cursor_down", "Down"),
            Binding("k", "cursor_up", "Up"),
            Binding("f", "follow", "Follow"),
        ]

        def __init__(self, argv: list[str] | None, meter: LineMeter, max_lines: int | None, batched: bool):
            super().__init__()
            self.argv = argv
            self.meter = meter
            self.max_lines = max_lines
            self.batched = batched
            self.stop_reading = threading.Event()
            self.reader_done = threading.Event()
            self.process: subprocess.Popen[bytes] | None = None

        def compose(self) -> ComposeResult:
            yield Header()
            yield DataTable(id="jobs")
            yield Log(id="output", max_lines=self.max_lines)
            yield Footer()

        def on_mount(self) -> None:
            table = self.query_one(DataTable)
            table.add_columns("ID", "State", "Workflow", "Prompt")
            table.add_rows([(str(n), "queued", "default", f"job number {n}") for n in range(5, 0, -1)])
            table.focus()
            if self.argv is not None:
                self.run_worker(self._read, thread=True, exit_on_error=False)

        # The same keys as the dashboard's: j/k move in the table or scroll the log, f follows.
        def action_cursor_down(self) -> None:
            if isinstance(self.focused, DataTable):
                self.focused.action_cursor_down()
            elif isinstance(self.focused, Log):
                self.focused.scroll_down()

        def action_cursor_up(self) -> None:
            if isinstance(self.focused, DataTable):
                self.focused.action_cursor_up()
            elif isinstance(self.focused, Log):
                self.focused.scroll_up()

        def action_follow(self) -> None:
            self.query_one(Log).scroll_end(animate=False, immediate=True)

        def _read(self) -> None:
            try:
                self.process = subprocess.Popen(
                    self.argv or [], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True
                )
                stdout = self.process.stdout
                if stdout is None:
                    return
                if self.batched:
                    self._read_batches(stdout.fileno())
                else:
                    for raw in stdout:
                        if self.stop_reading.is_set():
                            break
                        self.call_from_thread(self._write_line, _text_of(raw))
            finally:
                self.reader_done.set()

        def _read_batches(self, fd: int) -> None:
            """Lines buffered in the thread and written in batches (>= 2,000 lines or 50 ms)."""
            partial = b""
            texts: list[str] = []
            flushed = time.monotonic()
            while not self.stop_reading.is_set():
                chunk = os.read(fd, 65536)
                *complete, partial = (partial + chunk).split(b"\n")
                texts.extend(_text_of(raw) for raw in complete if raw)
                if texts and (not chunk or len(texts) >= 2000 or time.monotonic() - flushed > 0.05):
                    self.call_from_thread(self._write_lines, texts)
                    texts, flushed = [], time.monotonic()
                if not chunk:
                    break

        def _write_line(self, text: str) -> None:
            started = now()
            self.query_one(Log).write_line(text)
            self.meter.record(1, started, now())

        def _write_lines(self, texts: list[str]) -> None:
            started = now()
            self.query_one(Log).write_lines(texts)
            self.meter.record(len(texts), started, now())

        async def stop(self) -> None:
            """Stop the reader and its generator while the loop still serves the thread."""
            self.stop_reading.set()
            if self.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
            await wait_for(self.reader_done.is_set, 10, "the reader thread")
            if self.process is not None:
                self.process.wait()

    return NaiveApp


def _text_of(raw: bytes) -> str:
    event = json.loads(raw)
    if event.get("type") == "stream_event":
        return str(event["event"]["delta"].get("text", "")).rstrip("\n")
    return f"done: {event.get('result', '')}"


async def run_naive(
    generator: Path,
    lines: int,
    rate: float,
    max_lines: int | None,
    batched: bool,
    body: Callable[[Any, LineMeter, int], Awaitable[None]],
) -> dict[str, Any]:
    meter = LineMeter()
    app = naive_app_class()(generator_command(generator, lines, rate), meter, max_lines, batched)
    result: dict[str, Any] = {}
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            try:
                await wait_for(lambda: meter.lines > 0, START_TIMEOUT, "the log's first lines")
                await body(app, meter, lines + 1)
            finally:
                await app.stop()
    except Exception as error:
        result["crash"] = describe_crash(error)
    return {**result, **meter.summary()}


# -- the child measurements ----------------------------------------------------------------


async def child_stream(side: str, options: dict[str, Any]) -> dict[str, Any]:
    keys: list[str] = options["keys"]
    found: dict[str, Any] = {
        "latencies": [],
        "timeouts": 0,
        "frames": 0,
        "cpu_percent": 0.0,
        "press_seconds": 0.0,
    }

    async def body(app: Any, meter: LineMeter, expected: int) -> None:
        from textual.widgets import Log

        app.screen.query_one(Log).focus()  # the output (the OutputPane is a Log)
        await asyncio.sleep(0.1)
        probe = FrameProbe(app)
        deadline = now() + options["seconds"]
        cpu, wall = time.process_time(), now()
        try:
            await press_while(
                probe, keys, options["key_gap"], lambda: meter.lines < expected and now() < deadline, found
            )
        finally:
            seconds = now() - wall
            found.update(
                frames=probe.frames,
                cpu_percent=100 * (time.process_time() - cpu) / seconds,
                press_seconds=seconds,
            )

    generator = Path(options["generator"])
    if side == "ours":
        result = await run_ours(Path(options["root"]), generator, options["lines"], options["rate"], body)
    else:
        result = await run_naive(generator, options["lines"], options["rate"], None, False, body)
    return {**result, **found}


async def child_memory(side: str, options: dict[str, Any]) -> dict[str, Any]:
    samples: list[float] = []

    async def body(app: Any, meter: LineMeter, expected: int) -> None:
        deadline = now() + options["seconds"]
        while meter.lines < expected and now() < deadline and app.return_code is None:
            samples.append(rss_mb())
            await asyncio.sleep(0.25)
        await asyncio.sleep(0.2)  # the last frame
        samples.append(rss_mb())

    generator = Path(options["generator"])
    lines = options["lines"]
    if side == "ours":
        result = await run_ours(Path(options["root"]), generator, lines, options["rate"], body)
    else:
        result = await run_naive(generator, lines, options["rate"], None, True, body)
    if not samples:  # the app died before the body ran
        samples.append(rss_mb())
    return {**result, "rss_end": samples[-1], "rss_max_sampled": max(samples), "rss_peak": peak_rss_mb()}


async def child_startup(side: str, options: dict[str, Any], entered: float) -> dict[str, Any]:
    imports_started = time.time()
    if side == "ours":
        import cli.entry  # noqa: F401 - the `flowtui` command (alone, it skips the CLI parser)
        from core.config.settings import load_settings
        from core.host.logs import configure_logging
        from core.paths import HOME_ENV, resolve_paths
        from tui.app import build_app
        from tui.screens.dashboard import DashboardScreen

        imported = time.time()
        paths = resolve_paths({HOME_ENV: options["root"]})
        settings = load_settings(paths.config_file)
        paths.ensure_data_dir()
        configure_logging(paths, to_stderr=False)
        app = build_app(settings, paths)

        def is_first(screen: Any) -> bool:
            return isinstance(screen, DashboardScreen)

    else:
        from textual.widgets import Log

        naive_app = naive_app_class()
        imported = time.time()
        app = naive_app(None, LineMeter(), None, False)

        def is_first(screen: Any) -> bool:
            return bool(screen.query(Log))

    probe = FrameProbe(app)
    stamps: dict[str, float] = {}

    def on_frame(screen: Any) -> None:
        if "frame" not in stamps and is_first(screen):
            stamps["frame"] = time.time()
            app.call_later(app.exit)

    probe.on_frame = on_frame
    await app.run_async(headless=True, size=SIZE)
    return {"entered": entered, "imports_started": imports_started, "imported": imported, **stamps}


def child_main(kind: str, options: dict[str, Any], result_file: Path, entered: float) -> int:
    side, _, what = kind.partition("-")
    if what == "stream":
        result = asyncio.run(child_stream(side, options))
    elif what == "memory":
        result = asyncio.run(child_memory(side, options))
    else:
        result = asyncio.run(child_startup(side, options, entered))
    result_file.write_text(json.dumps(result))
    return 0


# -- the parent ------------------------------------------------------------------------


class ChildFailed(RuntimeError):
    pass


def run_child(kind: str, options: dict[str, Any], work: Path) -> dict[str, Any]:
    """Run one measurement in a fresh process; returns its result and its launch time."""
    result_file = work / f"{kind}-result.json"
    result_file.unlink(missing_ok=True)
    log = work / f"{kind}.log"
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", kind]
    argv += ["--child-options", json.dumps(options), "--child-result", str(result_file)]
    with open(log, "wb") as log_handle:
        launched = time.time()
        process = subprocess.Popen(
            argv,
            cwd=PROJECT_DIR,
            stdin=subprocess.DEVNULL,
            stdout=log_handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=CHILD_TIMEOUT)
        finally:
            # The child's own children (generator, engine's claude) share its group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if code != 0 or not result_file.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        raise ChildFailed(f"{kind} exited with {code}; its output:\n{tail}")
    return {**json.loads(result_file.read_text()), "launched": launched}


def percentile(values: Sequence[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def report_stream(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    rate = f"{args.rate:,.0f} lines/s" if args.rate > 0 else "as fast as it can"
    print(
        f"1. streaming: {args.lines:,} text-delta lines ({rate}); keys {'/'.join(args.keys)} on the output, "
        f"one every {args.key_gap * 1000:.0f} ms while lines flow (each side cut at {args.seconds:g} s)"
    )
    print(
        f"   {'':<7}{'lines':>9}{'lines/s':>9}{'keys':>6}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'t/o':>5}"
        f"{'fps':>5}{'CPU':>6}{'batch p95/max ms':>18}"
    )
    for side in ("ours", "naive"):
        r = results[side]
        keys = r["latencies"]
        fps = r["frames"] / max(r["press_seconds"], 1e-9)
        print(
            f"   {side:<7}{r['lines']:>9,}{r['rate']:>9,.0f}{len(keys) + r['timeouts']:>6}"
            f"{percentile(keys, 50):>8.1f}{percentile(keys, 95):>8.1f}{max(keys, default=float('nan')):>8.1f}"
            f"{r['timeouts']:>5}{fps:>5.0f}{r['cpu_percent']:>5.0f}%"
            f"{r['batch_p95_ms']:>10.1f} /{r['batch_max_ms']:>6.1f}"
        )
    report_crashes(results)
    ours, naive = results["ours"], results["naive"]
    ours_p95, naive_p95 = percentile(ours["latencies"], 95), percentile(naive["latencies"], 95)
    print(
        f"   ratio ours/naive: lines/s {ours['rate'] / max(naive['rate'], 1e-9):.1f}x, "
        f"key-to-frame p50 {percentile(ours['latencies'], 50) / percentile(naive['latencies'], 50):.2f}x, "
        f"p95 {ours_p95 / naive_p95:.2f}x"
    )
    print(
        f"   target ours >= 20,000 lines/s: {verdict(ours['rate'] >= 20_000)} ({ours['rate']:,.0f}); "
        f"key-to-frame p95 <= 50 ms: {verdict(ours_p95 <= 50)} ({ours_p95:.1f} ms)"
    )
    if "job_end_s" in ours:
        per_pull = ours["lines"] / max(ours["batches"], 1)
        print(
            f"   ours: the job had printed everything {ours['job_end_s']:.1f} s after the pane's first "
            f"line, when the pane had {ours['lines_at_job_end']:,} lines; it consumed {ours['lines']:,} in "
            f"{ours['seconds']:.1f} s, {ours['batches']} pulls of {per_pull:,.0f} lines "
            f"(pull p50 {ours['batch_p50_ms']:.0f} ms)"
        )
    else:
        print(f"   ours: the job was still running when the window closed ({ours['job_state']})")


def report_crashes(results: dict[str, dict[str, Any]]) -> None:
    for side, result in results.items():
        if "crash" in result:
            print(f"   {side} CRASHED (its numbers stop there): {result['crash']}")


def report_memory(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    mark = f"RSS @{RSS_MARK // 1000}k"
    rate = f"{args.rate:,.0f} lines/s" if args.rate > 0 else "as fast as it can"
    print(
        f"2. memory: {args.memory_lines:,} lines ({rate}), no keys; naive = Log() without max_lines "
        "fed with write_lines in batches; MB = 10^6 bytes"
    )
    print(
        f"   {'':<7}{'lines shown':>12}{'lines/s':>9}{mark:>12}{'RSS end':>10}{'peak RSS':>10}{'growth':>9}"
    )
    for side in ("ours", "naive"):
        r = results[side]
        at_mark = r["rss_at_mark"] or float("nan")
        print(
            f"   {side:<7}{r['lines']:>12,}{r['rate']:>9,.0f}{at_mark:>9.1f} MB{r['rss_end']:>7.1f} MB"
            f"{r['rss_peak']:>7.1f} MB{r['rss_end'] - at_mark:>+6.1f} MB"
        )
    report_crashes(results)
    ours, naive = results["ours"], results["naive"]
    if ours["lines"] < args.memory_lines + 1 and "crash" not in ours:
        streamed = "all of them" if "job_end_s" in ours else "not all of them"
        print(
            f"   ours: the engine streamed {streamed} (job {ours['job_state']}), but the pane had consumed "
            f"only {ours['lines']:,} when the {args.memory_seconds:g} s limit came"
        )
    print(
        f"   ratio naive/ours: RSS at the end {naive['rss_end'] / ours['rss_end']:.1f}x, "
        f"peak {naive['rss_peak'] / ours['rss_peak']:.1f}x"
    )
    growth = ours["rss_end"] - (ours["rss_at_mark"] or float("nan"))
    print(
        f"   target ours <= 150 MB and flat: {verdict(ours['rss_peak'] <= 150 and growth < 10)} "
        f"(peak {ours['rss_peak']:.1f} MB, {growth:+.1f} MB after the first 100k lines)"
    )


def report_startup(runs: dict[str, list[dict[str, Any]]]) -> None:
    print(
        f"3. start-up to the first frame: {len(runs['ours'])} fresh processes a side "
        "(after a warm-up), medians"
    )
    print(
        f"   {'':<7}{'total ms':>10}{'min':>7}{'max':>7}{'interpreter':>13}{'imports':>9}{'app to frame':>14}"
    )
    medians: dict[str, float] = {}
    for side in ("ours", "bare"):
        rows = runs[side]
        total = [(r["frame"] - r["launched"]) * 1000 for r in rows]
        interp = [(r["imports_started"] - r["launched"]) * 1000 for r in rows]
        imports = [(r["imported"] - r["imports_started"]) * 1000 for r in rows]
        app = [(r["frame"] - r["imported"]) * 1000 for r in rows]
        medians[side] = statistics.median(total)
        print(
            f"   {side:<7}{medians[side]:>10.0f}{min(total):>7.0f}{max(total):>7.0f}"
            f"{statistics.median(interp):>13.0f}{statistics.median(imports):>9.0f}"
            f"{statistics.median(app):>14.0f}"
        )
    ratio = medians["ours"] / medians["bare"]
    print(f"   ratio ours/bare: {ratio:.2f}x; target <= 1.5x: {verdict(ratio <= 1.5)}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=300_000, help="lines streamed in part 1 (default 300k)")
    parser.add_argument("--rate", type=float, default=0, help="generator lines/s, 0 = as fast as it can")
    parser.add_argument("--seconds", type=float, default=15, help="longest streaming time of a side, s")
    parser.add_argument("--keys", type=lambda text: text.split(","), default=["k", "f"])
    parser.add_argument("--key-gap", type=float, default=0.1, help="time between key presses, s")
    parser.add_argument("--memory-lines", type=int, default=1_000_000, help="lines streamed in part 2")
    parser.add_argument("--memory-seconds", type=float, default=45, help="longest time of part 2, s")
    parser.add_argument("--startup-runs", type=int, default=5, help="processes timed per side in part 3")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: stream,memory,startup")
    parser.add_argument("--tmp-dir", type=Path, default=None, help="parent of the temp dir (default: system)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-options", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--child-result", type=Path, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: Sequence[str] | None = None) -> int:
    entered = time.time()
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, json.loads(args.child_options), args.child_result, entered)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    skip = set(filter(None, args.skip.split(",")))
    began = time.monotonic()
    print(
        f"ui bench: Python {sys.version.split()[0]}, {os.cpu_count()} cores, one process per measurement, "
        f"load average {os.getloadavg()[0]:.2f} at the start",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix="flowtui-bench-ui-", dir=args.tmp_dir) as tmp:
            work = Path(tmp)
            generator = work / "generator.py"
            generator.write_text(GENERATOR)

            def fresh_root(name: str) -> str:
                root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))
                return str(root)

            if "stream" not in skip:
                options = {
                    "generator": str(generator),
                    "lines": args.lines,
                    "rate": args.rate,
                    "seconds": args.seconds,
                    "keys": args.keys,
                    "key_gap": args.key_gap,
                }
                stream = {
                    side: run_child(f"{side}-stream", {**options, "root": fresh_root(side)}, work)
                    for side in ("ours", "naive")
                }
                report_stream(args, stream)
                print(flush=True)
            if "memory" not in skip:
                options = {
                    "generator": str(generator),
                    "lines": args.memory_lines,
                    "rate": args.rate,
                    "seconds": args.memory_seconds,
                }
                memory = {
                    side: run_child(f"{side}-memory", {**options, "root": fresh_root(side)}, work)
                    for side in ("ours", "naive")
                }
                report_memory(args, memory)
                print(flush=True)
            if "startup" not in skip:
                runs: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
                for index in range(args.startup_runs + 1):  # the first round warms the caches
                    for side in ("ours", "bare"):
                        result = run_child(f"{side}-startup", {"root": fresh_root(side)}, work)
                        if index:
                            runs[side].append(result)
                report_startup(runs)
                print()
    except KeyboardInterrupt:
        print("interrupted: children stopped, temp dir removed", file=sys.stderr)
        return 130
    except ChildFailed as error:
        print(f"a measurement failed: {error}", file=sys.stderr)
        return 1
    print(f"done in {time.monotonic() - began:.0f} s, load average {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
