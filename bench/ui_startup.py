"""Start-up to the window's first frame vs a bare Textual app's.

``--runs`` (default 5) fresh processes a side, after one unreported warm-up each, interleaved:
from just before the parent launches the process to the end of the first frame (hooked at
``App._display``, see ``bench/uikit.py``) of ``run_async(headless=True, size=(120, 36))``; the
child has imported only the standard library when its "imports" part begins.
- ours: as ``flowtui`` run alone does it: ``cli.entry`` imported (not the CLI parser),
  ``run_app``'s steps (data dir, logging to a file), ``build_app`` with its own opener on an
  empty temp data dir; the first frame of the DashboardScreen that shows the state (the window
  reads the ledger in a thread worker and draws the snapshot it posts; an earlier frame of the
  empty dashboard does not count). Like the command, the window opens the shared state
  (``Session.open``) and starts its real engine (``Session.start_engine``: lock, recovery,
  workers, services) in a thread after that first read; the engine's start is therefore not in
  this number.
- bare: a Textual app with Header, DataTable (5 rows), Log and Footer.
Medians, split into interpreter start, imports and app start to the first frame.
Target: ours <= 1.5x bare.

Run: ``uv run python bench/ui_startup.py [--runs 5]``; about 20 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

# Only the standard library (and uikit, which holds to it) at the top: this file is also the
# child process whose imports are timed.
from uikit import SIZE, Bench, FrameProbe, LineMeter, bench_main, bench_parser, naive_app_class, verdict


async def child(side: str, options: dict[str, Any], entered: float) -> dict[str, Any]:
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
            return isinstance(screen, DashboardScreen) and app.shows_state

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


def measure(args: argparse.Namespace, bench: Bench) -> None:
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
    for index in range(args.runs + 1):  # the first round warms the caches
        for side in ("ours", "bare"):
            result = bench.run(side, {"root": bench.fresh_root(side)})
            if index:
                runs[side].append(result)
    report(runs)


def report(runs: dict[str, list[dict[str, Any]]]) -> None:
    count = len(runs["ours"])
    print(f"start-up to the first frame: {count} fresh processes a side (after a warm-up), medians")
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


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--runs", type=int, default=5, help="processes timed per side (default 5)")
    return bench_main("ui startup", __file__, parser, child, measure)


if __name__ == "__main__":
    sys.exit(main())
