"""Every file flowtui keeps is named by core/paths.py, inside the profile it belongs to."""

from __future__ import annotations

import re
from pathlib import Path

from core.paths import HOME_ENV, TELEGRAM_SESSION_NAME, Paths, resolve_paths

PROJECT = Path(__file__).resolve().parents[2]


def test_a_home_holds_the_config_and_every_data_file(tmp_path: Path) -> None:
    paths = resolve_paths({HOME_ENV: str(tmp_path)})
    assert paths == Paths.under(tmp_path.resolve())
    assert paths.config_file == tmp_path / "config.toml"
    named = [
        paths.ledger_db,
        paths.queue_db,
        paths.transcripts_dir,
        paths.logs_dir,
        paths.log_file,
        paths.engine_lock,
        paths.wake_fifo,
        paths.spool_dir,
        paths.watch_snapshots_dir,
        paths.telegram_session_dir,
        paths.telegram_session_file,
        paths.transcript_for(7, 2),
    ]
    assert all(path.is_relative_to(paths.data_dir) for path in named)
    assert len(set(named)) == len(named)
    assert paths.log_file.parent == paths.logs_dir
    assert paths.telegram_session_file == paths.telegram_session_dir / f"{TELEGRAM_SESSION_NAME}.session"


def test_claudes_stderr_sits_beside_its_transcript(tmp_path: Path) -> None:
    transcript = Paths.under(tmp_path).transcript_for(3, 1)
    stderr = Paths.claude_stderr_for(transcript)
    assert stderr.parent == transcript.parent and stderr != transcript
    assert stderr.name == "job-3-attempt-1.stderr.log"


def test_ensure_data_dir_makes_the_directories_writers_expect(tmp_path: Path) -> None:
    paths = Paths.under(tmp_path / "home")
    paths.ensure_data_dir()
    assert paths.transcripts_dir.is_dir() and paths.logs_dir.is_dir()


def test_no_module_but_paths_joins_a_name_onto_the_data_dir() -> None:
    """``data_dir / "x"`` anywhere else would be a second answer to where a file lives."""
    joined = re.compile(r"data_dir\s*/")
    offenders = [
        f"{source.relative_to(PROJECT)}:{number}"
        for folder in ("core", "cli", "tui")
        for source in sorted((PROJECT / folder).rglob("*.py"))
        if source != PROJECT / "core" / "paths.py"
        for number, line in enumerate(source.read_text(encoding="utf-8").splitlines(), 1)
        if joined.search(line)
    ]
    assert offenders == []
