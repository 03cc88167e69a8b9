"""The window's memory while 1M lines stream into it vs a naive Textual app's.

``--lines`` (default 1M) stream into each side, cut at ``--seconds``, no keys (the apps and
the generator: ``bench/uikit.py``); RSS (psutil, current) when the widget has consumed 100k
lines and at the end, and the peak (``ru_maxrss``). The naive side here is ``Log()`` without
``max_lines`` fed with ``write_lines`` in batches (2,000 lines or 50 ms), as ``write_line`` per
line would need many minutes for 1M lines; what it keeps is the same.
Target: ours <= 150 MB and flat (< 10 MB growth after the first 100k lines).

Run: ``uv run python bench/ui_memory.py [--lines 1000000] [--rate 0] [--seconds 45]``; about
1.5 minutes on 2 idle cores.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from uikit import (
    RSS_MARK,
    Bench,
    LineMeter,
    bench_main,
    bench_parser,
    now,
    peak_rss_mb,
    rate_text,
    report_crashes,
    rss_mb,
    run_naive,
    run_ours,
    verdict,
)


async def child(side: str, options: dict[str, Any], entered: float) -> dict[str, Any]:
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


def measure(args: argparse.Namespace, bench: Bench) -> None:
    options = {
        "generator": str(bench.generator),
        "lines": args.lines,
        "rate": args.rate,
        "seconds": args.seconds,
    }
    report(args, bench.each(("ours", "naive"), options))


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    mark = f"RSS @{RSS_MARK // 1000}k"
    print(
        f"memory: {args.lines:,} lines ({rate_text(args.rate)}), no keys; naive = Log() without max_lines "
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
    if ours["lines"] < args.lines + 1 and "crash" not in ours:
        streamed = "all of them" if "job_end_s" in ours else "not all of them"
        print(
            f"   ours: the engine streamed {streamed} (job {ours['job_state']}), but the pane had consumed "
            f"only {ours['lines']:,} when the {args.seconds:g} s limit came"
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


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines streamed (default 1M)")
    parser.add_argument("--rate", type=float, default=0, help="generator lines/s, 0 = as fast as it can")
    parser.add_argument("--seconds", type=float, default=45, help="longest time of a side, s")
    return bench_main("ui memory", __file__, parser, child, measure)


if __name__ == "__main__":
    sys.exit(main())
