"""Every file flowtui reads or writes, computed in one place.

Config and data live in the platformdirs locations for "flowtui", or both under
``$FLOWTUI_HOME`` when it is set (tests, portable installs, several profiles).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "flowtui"
HOME_ENV = "FLOWTUI_HOME"


@dataclass(frozen=True)
class Paths:
    """Where one flowtui profile keeps its config and state."""

    config_file: Path
    data_dir: Path

    @property
    def ledger_db(self) -> Path:
        """The job ledger: the truth about every job."""
        return self.data_dir / "ledger.db"

    @property
    def queue_db(self) -> Path:
        """Huey's SQLite queue: transport only, rebuilt from the ledger on start."""
        return self.data_dir / "queue.db"

    @property
    def transcripts_dir(self) -> Path:
        """One JSONL file per job attempt, every line Claude printed."""
        return self.data_dir / "transcripts"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def engine_lock(self) -> Path:
        """Held (flock) by the one process running the engine for this data dir."""
        return self.data_dir / "engine.lock"

    @property
    def wake_fifo(self) -> Path:
        """A named pipe the engine listens on, so other processes can wake it at once."""
        return self.data_dir / "wake.fifo"

    def ensure_data_dir(self) -> None:
        for directory in (self.data_dir, self.transcripts_dir, self.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def transcript_for(self, job_id: int, attempt: int) -> Path:
        return self.transcripts_dir / f"job-{job_id}-attempt-{attempt}.jsonl"


def resolve_paths(environ: Mapping[str, str] | None = None) -> Paths:
    """Paths for this process: ``$FLOWTUI_HOME`` when set, else platformdirs."""
    env = os.environ if environ is None else environ
    home = env.get(HOME_ENV, "").strip()
    if home:
        root = Path(home).expanduser().resolve()
        return Paths(config_file=root / "config.toml", data_dir=root)
    return Paths(
        config_file=Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml",
        data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
    )
