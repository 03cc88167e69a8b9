"""What the ui_*.py benchmarks share: a stand-in Claude, the apps, the probes, one process per side.

Each ``bench/ui_*.py`` script measures one thing, running flowtui's window ("ours") and a naive
or bare Textual app (the baseline) one after the other in the same invocation, each side in a
fresh Python process (so RSS and start-up are its own), and prints both and their ratio. A
generator process stands in for Claude: it prints N stream-json text-delta lines (one line of
text each, as in ``bench/stream.py``) and a result line, as fast as it can or at ``--rate``
lines/s, and ignores every argument after its own two (flowtui's ``-p ... -- PROMPT``).

- ours: ``build_app`` with an engine started in-process (``Session.start``, default settings,
  ``FLOWTUI_CLAUDE`` = the generator) running headless in ``App.run_test(size=(120, 36))``. One
  job is added; being the only row it is selected, so the OutputPane shows and follows it (core
  publishes ``JobOutput``, the app calls ``pull_output`` every 50 ms, the pane reads the
  transcript file). In the child process only, ``OutputPane.pull`` is wrapped (the source is
  untouched) to count the transcript lines the pane consumed and how long each pull held the
  event loop ("batch").
- naive: a bare Textual app (Header, DataTable, ``Log()``, Footer, the dashboard's j/k/f
  bindings) whose thread worker reads the generator's pipe and hands the texts to its ``Log``
  through ``call_from_thread``.
Lines/s = lines the widget consumed / time from its first to its last consumed line. Frames are
hooked at ``App._display``; the headless driver writes nothing, so the hook also renders each
frame to the escape string a real driver would write. An app that crashes (an exception ends
it) is reported with the exception and its numbers up to then.

No asserts: a script prints both sides, the ratios and the targets, and the load average (other
work on the machine moves these numbers). Temp dirs and child processes (their process groups;
the generators end on a broken pipe) are removed, also on Ctrl-C.
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
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

# Only the standard library at the top: the start-up measurement's child imports this module
# and must pay for flowtui's and Textual's imports itself.

PROJECT_DIR = Path(__file__).resolve().parent.parent
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
    paths = Paths.under(root)
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


# -- the parent ------------------------------------------------------------------------


class ChildFailed(RuntimeError):
    """A side's process ended without a result: the run stops with the tail of its output."""


def run_child(script: Path, kind: str, options: dict[str, Any], work: Path) -> dict[str, Any]:
    """Run one measurement in a fresh process of ``script``; returns its result and its launch time."""
    result_file = work / f"{kind}-result.json"
    result_file.unlink(missing_ok=True)
    log = work / f"{kind}.log"
    argv = [sys.executable, str(script), "--child", kind]
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


def report_crashes(results: dict[str, dict[str, Any]]) -> None:
    for side, result in results.items():
        if "crash" in result:
            print(f"   {side} CRASHED (its numbers stop there): {result['crash']}")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


# -- one script's run ----------------------------------------------------------------------

ChildMain = Callable[[str, dict[str, Any], float], Awaitable[dict[str, Any]]]
"""A side's measurement in its child: (side, options, when the process entered main) -> result."""


@dataclass
class Bench:
    """One invocation's temp dir: the generator, fresh data dirs, and children of one script."""

    script: Path
    work: Path

    @property
    def generator(self) -> Path:
        """The stand-in Claude (written once per run)."""
        generator = self.work / "generator.py"
        if not generator.exists():
            generator.write_text(GENERATOR)
        return generator

    def fresh_root(self, name: str) -> str:
        """An empty data dir, so no side sees the other's ledger."""
        return tempfile.mkdtemp(prefix=f"{name}-", dir=self.work)

    def run(self, side: str, options: dict[str, Any]) -> dict[str, Any]:
        """One side's measurement in a fresh process of this script."""
        return run_child(self.script, side, options, self.work)

    def each(self, sides: Sequence[str], options: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Every side in turn, one after the other in this run, each on an empty data dir."""
        return {side: self.run(side, {**options, "root": self.fresh_root(side)}) for side in sides}


def bench_parser(description: str | None) -> argparse.ArgumentParser:
    """The options every ui_*.py script takes, beside its own."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tmp-dir", type=Path, default=None, help="parent of the temp dir (default: system)")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-options", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--child-result", type=Path, default=None, help=argparse.SUPPRESS)
    return parser


def bench_main(
    name: str,
    script: str,
    parser: argparse.ArgumentParser,
    child: ChildMain,
    measure: Callable[[argparse.Namespace, Bench], None],
    argv: Sequence[str] | None = None,
) -> int:
    """Run ``measure`` in a temp dir (the parent), or one side's ``child`` (its process)."""
    entered = time.time()
    args = parser.parse_args(argv)
    if args.child:
        result = asyncio.run(child(args.child, json.loads(args.child_options), entered))
        args.child_result.write_text(json.dumps(result))
        return 0
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGHUP, _raise_interrupt)
    began = time.monotonic()
    print(
        f"{name} bench: Python {sys.version.split()[0]}, {os.cpu_count()} cores, one process per side, "
        f"load average {os.getloadavg()[0]:.2f} at the start",
        flush=True,
    )
    try:
        with tempfile.TemporaryDirectory(prefix=f"flowtui-bench-{name}-", dir=args.tmp_dir) as tmp:
            measure(args, Bench(Path(script).resolve(), Path(tmp)))
            print(flush=True)
    except KeyboardInterrupt:
        print("interrupted: children stopped, temp dir removed", file=sys.stderr)
        return 130
    except ChildFailed as error:
        print(f"a measurement failed: {error}", file=sys.stderr)
        return 1
    print(f"done in {time.monotonic() - began:.0f} s, load average {os.getloadavg()[0]:.2f} at the end")
    return 0


def rate_text(rate: float) -> str:
    """The generator's pace, as the reports say it."""
    return f"{rate:,.0f} lines/s" if rate > 0 else "as fast as it can"
