"""Streaming throughput and memory: Claude output through flowtui's runner vs the pipe floor.

A generator process prints N stream-json lines (text deltas, like a talkative Claude run,
then a result line) as fast as it can. Each measurement runs in a fresh Python process so
peak RSS is its own:

- floor: read the generator's stdout pipe in 64 KiB chunks and count newlines (what any
  reader must pay; the physical limit on this machine);
- ours: ``ClaudeRunner.run`` on the same generator: line splitting with the size limit,
  JSON decoding, typed events, the transcript file (every line), and one event subscriber
  (the ``JobOutput`` batches counted, as the TUI bridge would receive them).

Memory: peak RSS after 100k and after N lines; flat means the two are close (no buffer
grows with the output; the transcript on disk is the full record).

Run: ``uv run python bench/stream.py [--lines 1000000]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

GENERATOR = """
import os, sys, json
n = int(sys.argv[1])
text = "the quick brown fox jumps over the lazy dog\\n"
delta = json.dumps({"type": "stream_event", "event": {"type": "content_block_delta", "index": 0,
    "delta": {"type": "text_delta", "text": text}}, "session_id": "bench",
    "parent_tool_use_id": None, "uuid": "00000000-0000-0000-0000-000000000000"}) + "\\n"
block = (delta * 1000).encode()
out = sys.stdout.buffer
for _ in range(n // 1000):
    out.write(block)
out.write(delta.encode() * (n % 1000))
out.write((json.dumps({"type": "result", "subtype": "success", "is_error": False, "result": "ok",
    "total_cost_usd": 0, "num_turns": 1, "session_id": "bench"}) + "\\n").encode())
out.flush()
"""

FLOOR = """
import os, resource, subprocess, sys, time
gen, n = sys.argv[1], sys.argv[2]
start = time.perf_counter()
proc = subprocess.Popen([sys.executable, gen, n], stdout=subprocess.PIPE)
fd = proc.stdout.fileno()
lines = 0
while chunk := os.read(fd, 65536):
    lines += chunk.count(b"\\n")
proc.wait()
elapsed = time.perf_counter() - start
print(lines, elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

OURS = """
import resource, sys, time
from pathlib import Path
from core.claude.runner import ClaudeRunner, RunControl, RunRequest
from core.config.settings import WorkflowSettings
from core.events import EventBus, JobOutput

gen, n, transcript = sys.argv[1], sys.argv[2], Path(sys.argv[3])
bus = EventBus()
counted = [0]
bus.subscribe(lambda event: counted.__setitem__(0, counted[0] + len(event.events)))
runner = ClaudeRunner(command=f"{sys.executable} {gen} {n}", environ={}, kill_grace_seconds=1,
                      max_line_bytes=1_000_000)
request = RunRequest(job_id=1, attempt=1, prompt="x", cwd=".", workflow=WorkflowSettings(),
                     transcript=transcript)
start = time.perf_counter()
outcome = runner.run(request, RunControl(), lambda pid, started: None, lambda note: None,
                     lambda events: bus.publish(JobOutput(job_id=1, attempt=1, events=events)))
elapsed = time.perf_counter() - start
assert outcome.state.value == "succeeded", outcome
print(counted[0], elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def run(script: str, *args: str) -> tuple[int, float, int]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    count, elapsed, rss_kib = done.stdout.split()
    return int(count), float(elapsed), int(rss_kib)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        generator = Path(root) / "generator.py"
        generator.write_text(GENERATOR)
        results = {}
        for name, script in (("floor", FLOOR), ("ours", OURS)):
            for lines in (100_000, args.lines):
                transcript = Path(root) / f"{name}-{lines}.jsonl"
                extra = (str(transcript),) if name == "ours" else ()
                results[(name, lines)] = run(script, str(generator), str(lines), *extra)
        print(f"stream: {args.lines:,} stream-json text-delta lines (+1 result line), one process each")
        print(f"{'':<10}{'lines/s':>12}{'time':>9}{'peak RSS @100k':>17}{f'peak RSS @{args.lines:,}':>20}")
        for name in ("floor", "ours"):
            count, elapsed, rss_small = (*results[(name, args.lines)][:2], results[(name, 100_000)][2])
            rss_big = results[(name, args.lines)][2]
            print(
                f"{name:<10}{count / elapsed:>12,.0f}{elapsed:>8.2f}s{rss_small / 1024:>14.1f} MB"
                f"{rss_big / 1024:>17.1f} MB"
            )
        floor_rate = results[("floor", args.lines)][0] / results[("floor", args.lines)][1]
        ours_rate = results[("ours", args.lines)][0] / results[("ours", args.lines)][1]
        growth = (results[("ours", args.lines)][2] - results[("ours", 100_000)][2]) / 1024
        print(
            f"ratio ours/floor: {ours_rate / floor_rate:.2f}x the pipe's line rate; "
            f"memory growth from 100k to {args.lines:,} lines: {growth:+.1f} MB"
        )
        size = (Path(root) / f"ours-{args.lines}.jsonl").stat().st_size
        print(f"transcript on disk: {size / 1e6:.0f} MB (every line kept)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
