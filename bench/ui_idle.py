"""CPU of an idle window over 1,000 jobs vs a bare Textual app's.

Each side runs in a fresh process, headless in ``App.run_test(size=(120, 36))`` (frames are
rendered to the escape string a terminal driver would write, see ``bench/uikit.py``). After
the first frame and ``--warmup`` seconds, the process's CPU time (all its threads, from
``time.process_time``) is measured over ``--seconds`` of wall time while nobody touches it.
- ours: ``build_app`` with its own opener (``Session.open``, then the real engine in the
  same process, as ``flowtui`` runs) over a data dir whose ledger holds ``--jobs`` finished
  jobs (written straight into the ledger before the window opens, so none runs).
- bare: a Textual app with Header, a DataTable of ``--jobs`` rows, a Log and a Footer.
Reported: % of one core each side, frames drawn while idle, and the ratio.
Target: ours <= 1 % of a core.

Run: ``uv run python bench/ui_idle.py [--seconds 20] [--jobs 1000]``; about a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

# Only the standard library (and uikit, which holds to it) at the top, as in the other benches.
from uikit import SIZE, Bench, FrameProbe, LineMeter, bench_main, bench_parser, naive_app_class, verdict

TARGET_PERCENT = 1.0


def seed_ledger(root: Path, jobs: int) -> None:
    """``jobs`` finished jobs in a fresh ledger under ``root``: what a window that has run
    for a while shows, with nothing left to run."""
    import os

    from core.jobs import JobState, RunOutcome
    from core.ledger.sqlite import Ledger, NewJob
    from core.paths import Paths

    paths = Paths.under(root)
    paths.ensure_data_dir()
    ledger = Ledger(paths.ledger_db)
    try:
        for number in range(jobs):
            job = ledger.create(
                NewJob(f"job number {number}: summarise the notes", "default", "cli", str(root), 1), "queued"
            )
            ledger.claim(job.id, os.getpid())
            ledger.finish(job.id, RunOutcome(JobState.SUCCEEDED, exit_code=0, cost_usd=0.001, answer="ok"))
    finally:
        ledger.close()


async def idle_cpu(app: Any, ready: Any, options: dict[str, Any]) -> dict[str, Any]:
    """Run ``app`` headless until ``ready()``, wait the warm-up, then measure its idle CPU."""
    probe = FrameProbe(app)
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + 60
        while not ready():
            if time.monotonic() > deadline:
                raise TimeoutError("the app did not show its state within 60 s")
            await pilot.pause()
        await asyncio.sleep(float(options["warmup"]))
        frames_before = probe.frames
        cpu_before, wall_before = time.process_time(), time.monotonic()
        await asyncio.sleep(float(options["seconds"]))
        cpu, wall = time.process_time() - cpu_before, time.monotonic() - wall_before
        frames = probe.frames - frames_before
    return {"cpu_s": cpu, "wall_s": wall, "frames": frames}


async def child(side: str, options: dict[str, Any], entered: float) -> dict[str, Any]:
    root = Path(options["root"])
    jobs = int(options["jobs"])
    if side == "ours":
        from core.config.settings import load_settings
        from core.paths import HOME_ENV, resolve_paths
        from tui.app import build_app

        seed_ledger(root, jobs)
        paths = resolve_paths({HOME_ENV: str(root)})
        app = build_app(load_settings(paths.config_file), paths)

        def ready() -> bool:
            return app.shows_state and app.owns_engine and app.settled

        return await idle_cpu(app, ready, options)
    from textual.widgets import DataTable

    app = naive_app_class()(None, LineMeter(), None, False)

    def bare_ready() -> bool:
        return bool(app.screen.query(DataTable))

    async def fill() -> None:
        table = app.query_one(DataTable)
        table.clear()
        table.add_rows(
            [
                (str(n), "succeeded", "default", f"job number {n}: summarise the notes")
                for n in range(jobs, 0, -1)
            ]
        )

    app.call_later(fill)
    return await idle_cpu(app, bare_ready, options)


def measure(args: argparse.Namespace, bench: Bench) -> None:
    options = {"jobs": args.jobs, "seconds": args.seconds, "warmup": args.warmup}
    results = bench.each(("ours", "bare"), options)
    print(f"idle CPU over {args.seconds:g} s after a {args.warmup:g} s warm-up, {args.jobs:,} jobs")
    percent: dict[str, float] = {}
    for side in ("ours", "bare"):
        result = results[side]
        percent[side] = 100 * result["cpu_s"] / result["wall_s"]
        print(
            f"   {side:<5} {percent[side]:6.2f} % of a core  ({result['cpu_s']:.2f} s CPU in "
            f"{result['wall_s']:.1f} s, {result['frames']} frames)"
        )
    ratio = percent["ours"] / percent["bare"] if percent["bare"] > 0 else float("inf")
    print(f"   ratio ours/bare: {ratio:.2f}x")
    print(f"   target ours <= {TARGET_PERCENT:g} % of a core: {verdict(percent['ours'] <= TARGET_PERCENT)}")


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=20.0, help="idle seconds measured (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after the first frame (default 3)")
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in the ledger (default 1000)")
    return bench_main("ui idle", __file__, parser, child, measure)


if __name__ == "__main__":
    sys.exit(main())
