"""An engine with the watch service on a temp home, stand-in claude scripts, and waits."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from enginekit import home_paths, wait_for
from fakeclaude import RESULT_OK, write_script

from core.config.settings import load_settings
from core.config.watch_path import watch_key
from core.engine.engine import Engine
from core.events import Event
from core.jobs import Job, JobState
from core.watch.service import WatchService
from core.watch.watcher import WatchTarget

FAST_SETTLE = "settle_ms = 60\n"


@dataclass
class Watching:
    engine: Engine
    service: WatchService
    events: list[Event]

    def target(self, path: Path) -> WatchTarget:
        found = wait_for(lambda: self.service.target(str(path)), what=f"a watch on {path}")
        return found

    def state(self, path: Path) -> str | None:
        status = self.service.statuses().get(watch_key(str(path)))
        return status.state if status else None

    def wait_state(self, path: Path, state: str) -> None:
        wait_for(lambda: self.state(path) == state, what=f"watch {path} to be {state}")

    def wait_quiet(self, path: Path) -> None:
        """Until the watch's burst has settled: later changes are a burst of their own."""
        target = self.target(path)
        wait_for(lambda: target.quiet, what=f"the burst on {path} to settle")

    def jobs(self) -> list[Job]:
        assert self.engine.ledger is not None
        return sorted(self.engine.ledger.list_jobs(), key=lambda job: job.id)

    def wait_jobs(self, count: int) -> list[Job]:
        wait_for(lambda: len(self.jobs()) >= count, what=f"{count} job(s)")
        return self.jobs()

    def wait_done(self, job: Job) -> Job:
        assert self.engine.ledger is not None
        ledger = self.engine.ledger

        def done() -> Job | None:
            latest = ledger.get(job.id)
            return latest if latest is not None and latest.state.is_final else None

        return wait_for(done, what=f"job #{job.id} to end")

    def wait_state_of(self, job: Job, state: JobState) -> Job:
        assert self.engine.ledger is not None
        ledger = self.engine.ledger
        return wait_for(
            lambda: latest if (latest := ledger.get(job.id)) and latest.state is state else None,
            what=f"job #{job.id} to be {state}",
        )


def watch_block(path: Path, extra: str = FAST_SETTLE) -> str:
    return f'[[watch]]\npath = "{path}"\n{extra}'


@contextmanager
def watching(
    home: Path, config: str, claude: Path, environ: dict[str, str] | None = None
) -> Iterator[Watching]:
    """An engine whose config is a real file (so live edits apply), with the watch service."""
    home.mkdir(parents=True, exist_ok=True)
    config_file = home / "config.toml"
    config_file.write_text(config)
    service = WatchService(config_file)
    engine = Engine(
        load_settings(config_file),
        home_paths(home),
        environ={**(environ or os.environ), "FLOWTUI_CLAUDE": str(claude)},
        services=[service],
    )
    events: list[Event] = []
    engine.bus.subscribe(events.append)
    engine.start()
    try:
        yield Watching(engine, service, events)
    finally:
        engine.stop()


def changed_paths(job: Job, directory: Path) -> list[str]:
    """The paths a watch job's default prompt lists, relative to ``directory``."""
    prefix = str(directory) + "/"
    return [line[len(prefix) :] for line in job.prompt.splitlines() if line.startswith(prefix)]


def blocking_script(path: Path, release: Path) -> Path:
    """Runs until ``release`` exists, so a job stays running while the test changes files."""
    return write_script(
        path, f"while [ ! -e \"{release}\" ]; do sleep 0.02; done\necho '{json.dumps(RESULT_OK)}'\n"
    )


def self_editing_script(path: Path, target: Path) -> Path:
    """Writes ``target`` from a Bash tool call, as Claude would, unless the prompt names it."""
    call = {
        "type": "assistant",
        "message": {
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "write it"}}
            ]
        },
    }
    result = {
        "type": "user",
        "message": {"content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
    }
    return write_script(
        path,
        "for prompt; do :; done\n"
        f'case "$prompt" in *{target.name}*) ;; *)\n'
        f"  echo '{json.dumps(call)}'\n"
        f'  echo "written by the job $$" > "{target}"\n'
        f"  echo '{json.dumps(result)}' ;;\n"
        "esac\n"
        f"echo '{json.dumps(RESULT_OK)}'\n",
    )
