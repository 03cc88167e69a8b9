"""Streaming into the window while keys are pressed: lines/s and key-to-frame vs a naive Textual app.

``--lines`` (default 300k) text-delta lines stream into each side, each cut at ``--seconds``
(the apps, the generator and the line count: ``bench/uikit.py``).
- ours: the window's OutputPane follows the only job.
- naive: its worker hands each line to ``Log.write_line`` through ``call_from_thread``.
Keys: the output widget is focused, then ``--keys`` (default ``k``, ``f``) are pressed in turn
every ``--key-gap`` s while lines flow: ``k`` scrolls the output up a line (the pane holds),
``f`` follows the end again; both repaint the output and neither changes the shown job (``j``/``k``
on the jobs table would switch the pane to another job, and ``tab`` costs 60-110 ms of CPU a press
in Textual's focus change and Footer recompose, which would swamp the stream at 10 keys/s). Timed:
from the Key event handed to the app as a terminal driver does (``driver.send_message``) to the end
of the first frame composed after the key's action returned (``App.run_action`` and
``App._display`` hooked). ``k``'s scroll is animated: its first frame may show the first step only.
Target: ours >= 20,000 lines/s with key-to-frame p95 <= 50 ms.

Run: ``uv run python bench/ui_stream.py [--lines 300000] [--rate 0] [--seconds 15] [--keys k,f]
[--key-gap 0.1]``; about 40 s on 2 idle cores.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from uikit import (
    Bench,
    FrameProbe,
    LineMeter,
    bench_main,
    bench_parser,
    now,
    percentile,
    press_while,
    rate_text,
    report_crashes,
    run_naive,
    run_ours,
    verdict,
)


async def child(side: str, options: dict[str, Any], entered: float) -> dict[str, Any]:
    keys: list[str] = options["keys"]
    found: dict[str, Any] = {
        "latencies": [],
        "timeouts": 0,
        "frames": 0,
        "cpu_percent": 0.0,
        "press_seconds": 0.0,
    }

    async def body(app: Any, meter: LineMeter, expected: int) -> None:
        app.screen.query_one("#output").focus()  # the output: the OutputPane, or the naive Log
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


def measure(args: argparse.Namespace, bench: Bench) -> None:
    options = {
        "generator": str(bench.generator),
        "lines": args.lines,
        "rate": args.rate,
        "seconds": args.seconds,
        "keys": args.keys,
        "key_gap": args.key_gap,
    }
    report(args, bench.each(("ours", "naive"), options))


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    print(
        f"streaming: {args.lines:,} text-delta lines ({rate_text(args.rate)}); keys {'/'.join(args.keys)} "
        f"on the output, one every {args.key_gap * 1000:.0f} ms while lines flow "
        f"(each side cut at {args.seconds:g} s)"
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


def main() -> int:
    parser = bench_parser(__doc__)
    parser.add_argument("--lines", type=int, default=300_000, help="lines streamed (default 300k)")
    parser.add_argument("--rate", type=float, default=0, help="generator lines/s, 0 = as fast as it can")
    parser.add_argument("--seconds", type=float, default=15, help="longest streaming time of a side, s")
    parser.add_argument("--keys", type=lambda text: text.split(","), default=["k", "f"])
    parser.add_argument("--key-gap", type=float, default=0.1, help="time between key presses, s")
    return bench_main("ui stream", __file__, parser, child, measure)


if __name__ == "__main__":
    sys.exit(main())
