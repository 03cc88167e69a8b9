"""Every file flowtui reads or writes, computed in one place.

Config and data live in the platformdirs locations for "flowtui", or both under
``$FLOWTUI_HOME`` when it is set (tests, portable installs, several profiles).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "flowtui"
HOME_ENV = "FLOWTUI_HOME"
MACHINE_ENV = "FLOWTUI_MACHINE"
"""Overrides the name this machine goes by (its host name): where a job ran, whose engine it is."""
TELEGRAM_SESSION_NAME = "flowtui-bot"
"""The bot's pyrogram session name; pyrogram keeps it in ``<name>.session``."""


@dataclass(frozen=True)
class Paths:
    """Where one flowtui profile keeps its config and state."""

    config_file: Path
    data_dir: Path

    @classmethod
    def under(cls, root: Path) -> Paths:
        """A profile kept whole in one folder: ``$FLOWTUI_HOME``, a test's or the demo's."""
        return cls(config_file=root / "config.toml", data_dir=root)

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
        """flowtui's own log, rotated; kept apart from the job transcripts."""
        return self.data_dir / "logs"

    @property
    def log_file(self) -> Path:
        """What every flowtui process logs, so a window's errors are found after it closes."""
        return self.logs_dir / "flowtui.log"

    @property
    def spool_dir(self) -> Path:
        """Jobs added while the shared queue (Redis) was unreachable, one JSON file each."""
        return self.data_dir / "spool"

    @property
    def watch_snapshots_dir(self) -> Path:
        """One snapshot per watch, so changes made while flowtui was down still become a job."""
        return self.data_dir / "watch"

    @property
    def telegram_session_dir(self) -> Path:
        """The bot's session (its auth key): private to the user, mode 0700."""
        return self.data_dir / "telegram"

    @property
    def telegram_session_file(self) -> Path:
        """The session file pyrogram writes; it must stay unreadable by others (mode 0600)."""
        return self.telegram_session_dir / f"{TELEGRAM_SESSION_NAME}.session"

    @property
    def telegram_files_dir(self) -> Path:
        """Photos, documents and voice notes sent to the bot, one folder per burst that became a
        job (inside the private Telegram directory); pruned with their job."""
        return self.telegram_session_dir / "files"

    @property
    def outgoing_dir(self) -> Path:
        """Copies of the files a finished job sends (``send_files``), taken when it is announced,
        so a later edit, discard or worktree removal changes nothing that is sent."""
        return self.data_dir / "outgoing"

    def outgoing_for(self, job_id: int) -> Path:
        return self.outgoing_dir / f"job-{job_id}"

    @property
    def worktrees_dir(self) -> Path:
        """The worktrees of isolated jobs, one folder per job that made one."""
        return self.data_dir / "worktrees"

    def worktree_for(self, job_id: int) -> Path:
        """Where job ``job_id``'s worktree lives: fixed, so a run after a crash finds it again."""
        return self.worktrees_dir / f"job-{job_id}"

    @property
    def engine_lock(self) -> Path:
        """Held (flock) by the one process running the engine for this data dir."""
        return self.data_dir / "engine.lock"

    @property
    def wake_fifo(self) -> Path:
        """A named pipe the engine listens on, so other processes can wake it at once."""
        return self.data_dir / "wake.fifo"

    def ensure_data_dir(self) -> None:
        """Make the directories every process writes into, so no writer has to check first."""
        for directory in (self.data_dir, self.transcripts_dir, self.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)

    def transcript_for(self, job_id: int, attempt: int) -> Path:
        """One file per attempt, so a retry never mixes its lines into the last one's."""
        return self.transcripts_dir / f"job-{job_id}-attempt-{attempt}.jsonl"

    @staticmethod
    def claude_stderr_for(transcript: Path) -> Path:
        """Claude's stderr beside its transcript: the last line explains a run that printed no result."""
        return transcript.with_suffix(".stderr.log")


def machine_name(environ: Mapping[str, str] | None = None) -> str:
    """The name this machine goes by among the engines sharing a queue: ``$FLOWTUI_MACHINE``,
    else its host name. A job's worktree is on the disk of the machine of this name."""
    env = os.environ if environ is None else environ
    return env.get(MACHINE_ENV, "").strip() or socket.gethostname()


def resolve_paths(environ: Mapping[str, str] | None = None) -> Paths:
    """Paths for this process: ``$FLOWTUI_HOME`` when set, else platformdirs."""
    env = os.environ if environ is None else environ
    home = env.get(HOME_ENV, "").strip()
    if home:
        return Paths.under(Path(home).expanduser().resolve())
    return Paths(
        config_file=Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml",
        data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
    )
