"""Retention: finished jobs older than a span go, with everything kept for them.

A pruned job leaves nothing behind: its ledger rows (the job, its events and inputs), its
notifications, its transcripts in the data dir, and a worktree it made once its changes were
kept or discarded. Its recorded trees are git objects no ref names: with the row gone nothing
points at them, and git's own ``gc`` drops them. Nothing unfinished, nothing still to review,
and nothing a staying job was made from is ever touched (the ledger decides that in one step).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from core.changes.git import GitError
from core.changes.worktree import branch_for, remove_worktree
from core.clock import Clock, to_iso
from core.errors import describe_os_error
from core.jobs import REVIEW_DISCARDED, REVIEW_KEPT, Job
from core.ledger.notifications import NotificationStore
from core.ledger.prune import Reclaimed
from core.ledger.store import LedgerStore
from core.paths import Paths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneReport:
    """What a prune removed (or, in a dry run, would remove), and the space it gave back."""

    older_than: timedelta
    before_utc: str
    dry_run: bool
    jobs: list[int] = field(default_factory=list)
    events: int = 0
    inputs: int = 0
    notifications: int = 0
    transcripts: int = 0
    """Files: each attempt's stream-json lines and its stderr."""
    transcript_bytes: int = 0
    worktrees: int = 0
    worktree_bytes: int = 0
    sent_files: int = 0
    """Folders of files sent to the bot for the jobs (photos, documents, voice notes)."""
    sent_file_bytes: int = 0
    ledger: Reclaimed | None = None
    kept_for_review: int = 0
    kept_as_parent: int = 0
    problems: list[str] = field(default_factory=list)
    """What could not be removed (a worktree git refused), one line each; the rest went."""

    @property
    def files_bytes(self) -> int:
        return self.transcript_bytes + self.worktree_bytes + self.sent_file_bytes

    def lines(self) -> list[str]:
        """How ``flowtui prune`` says it: what went, the space, what stayed and why."""
        verb = "would remove" if self.dry_run else "removed"
        jobs = len(self.jobs)
        said = [
            f"{verb} {jobs} job{'' if jobs == 1 else 's'} finished before {self.before_utc}: "
            f"{self.events} events, {self.inputs} inputs, {self.notifications} notifications, "
            f"{self.transcripts} transcript files ({human_bytes(self.transcript_bytes)}), "
            f"{self.worktrees} worktrees ({human_bytes(self.worktree_bytes)})"
            + (
                f", {self.sent_files} folders of files sent on Telegram ({human_bytes(self.sent_file_bytes)})"
                if self.sent_files
                else ""
            )
        ]
        said.append(self._space())
        if self.kept_for_review:
            said.append(
                f"kept {self.kept_for_review} old enough whose changes wait for review "
                "(`flowtui keep ID` or `flowtui discard ID`)"
            )
        if self.kept_as_parent:
            said.append(
                f"kept {self.kept_as_parent} that newer or unfinished jobs were retried or followed up from"
            )
        said.extend(f"not removed: {problem}" for problem in self.problems)
        return said

    def _space(self) -> str:
        files = human_bytes(self.files_bytes)
        if self.dry_run:
            return f"space: {files} of files would be freed, and the ledger's rows"
        ledger = self.ledger
        if ledger is None:
            return f"space reclaimed: {files}"
        if ledger.bytes is None:
            return f"space reclaimed: {files} of files; the ledger's rows were deleted from Redis"
        if ledger.returned_to_disk:
            total = human_bytes(self.files_bytes + ledger.bytes)
            return f"space reclaimed: {total} ({files} of files, {human_bytes(ledger.bytes)} of ledger.db)"
        return (
            f"space reclaimed: {files} of files; {human_bytes(ledger.bytes)} free inside ledger.db "
            "for new rows (`sqlite3 ledger.db VACUUM` with no engine running gives it back to the disk)"
        )


def prune(ledger: LedgerStore, paths: Paths, older_than: timedelta, dry_run: bool = False) -> PruneReport:
    """Delete the jobs that finished more than ``older_than`` ago and all that was kept for them."""
    before_utc = to_iso(ledger.clock.now() - older_than)
    deleted = ledger.delete_finished(before_utc, dry_run=dry_run)
    job_ids = [job.id for job in deleted.jobs]
    sent_files, sent_file_bytes = (
        _delete_sent_files(paths, ledger.clock, job_ids, dry_run) if job_ids else (0, 0)
    )
    notifications = _delete_notifications(paths, ledger.clock, job_ids, dry_run) if job_ids else 0
    transcripts, transcript_bytes = _delete_transcripts(paths, job_ids, dry_run)
    if not dry_run:
        for job_id in job_ids:  # the copies its finish message sent (send_files)
            shutil.rmtree(paths.outgoing_for(job_id), ignore_errors=True)
    problems: list[str] = []
    worktrees = worktree_bytes = 0
    for job in deleted.jobs:
        removed = _delete_worktree(job, dry_run, problems)
        if removed is not None:
            worktrees += 1
            worktree_bytes += removed
    return PruneReport(
        older_than=older_than,
        before_utc=before_utc,
        dry_run=dry_run,
        jobs=job_ids,
        events=deleted.events,
        inputs=deleted.inputs,
        notifications=notifications,
        transcripts=transcripts,
        transcript_bytes=transcript_bytes,
        worktrees=worktrees,
        worktree_bytes=worktree_bytes,
        sent_files=sent_files,
        sent_file_bytes=sent_file_bytes,
        ledger=None if dry_run or not job_ids else ledger.reclaim_space(),
        kept_for_review=deleted.kept_for_review,
        kept_as_parent=deleted.kept_as_parent,
        problems=problems,
    )


def _delete_notifications(paths: Paths, clock: Clock, job_ids: list[int], dry_run: bool) -> int:
    """The outbox's rows live in this machine's ledger.db whichever ledger holds the jobs."""
    if not paths.ledger_db.exists():
        return 0
    store = NotificationStore(paths.ledger_db, clock)
    try:
        return store.delete_for_jobs(job_ids, dry_run)
    finally:
        store.close()


def _delete_sent_files(paths: Paths, clock: Clock, job_ids: list[int], dry_run: bool) -> tuple[int, int]:
    """The folders of files sent to the bot for these jobs (named in the outbox's tables, so
    read before those rows go); only folders inside the data dir's Telegram files are touched."""
    if not paths.ledger_db.exists():
        return 0, 0
    store = NotificationStore(paths.ledger_db, clock)
    try:
        folders = store.file_folders(job_ids)
    finally:
        store.close()
    root = paths.telegram_files_dir.resolve()
    count = size = 0
    for folder in map(Path, folders):
        if folder.resolve().parent != root or not folder.is_dir():
            continue
        count += 1
        size += _tree_bytes(folder)
        if not dry_run:
            shutil.rmtree(folder, ignore_errors=True)
    return count, size


def _delete_transcripts(paths: Paths, job_ids: list[int], dry_run: bool) -> tuple[int, int]:
    """Every attempt's transcript and stderr file of the jobs, in this machine's data dir."""
    files = size = 0
    wanted = {f"job-{job_id}-" for job_id in job_ids}
    try:
        entries = list(os.scandir(paths.transcripts_dir))
    except FileNotFoundError:
        return 0, 0
    for entry in entries:
        name = entry.name
        if not name.startswith("job-") or name[: name.find("-", 4) + 1] not in wanted:
            continue
        try:
            length = entry.stat(follow_symlinks=False).st_size
            if not dry_run:
                os.unlink(entry.path)
        except FileNotFoundError:
            continue
        files += 1
        size += length
    return files, size


def _delete_worktree(job: Job, dry_run: bool, problems: list[str]) -> int | None:
    """The worktree and branch job made, once kept or discarded; its size in bytes, or None
    when there was nothing left to remove. Retries and follow-ups work in their parent's
    worktree, and the ledger never prunes a parent before them, so the maker goes last."""
    if job.review not in (REVIEW_KEPT, REVIEW_DISCARDED) or job.worktree is None or job.git_root is None:
        return None
    if job.branch != branch_for(job.id):
        return None  # it worked in its parent's worktree, which goes with the parent
    path = Path(job.worktree)
    size = _tree_bytes(path)
    if dry_run:
        return size if path.exists() else None
    try:
        if Path(job.git_root).is_dir():
            removed = remove_worktree(job.git_root, path, job.branch)
        else:  # the repository itself is gone: only flowtui's folder is left
            removed = path.exists()
            if removed:
                shutil.rmtree(path)
    except (GitError, OSError) as error:
        reason = describe_os_error(error) if isinstance(error, OSError) else str(error)
        problems.append(f"job #{job.id}'s worktree {path}: {reason}")
        return None
    return size if removed else None


def _tree_bytes(path: Path) -> int:
    """The bytes of the files under ``path`` (links not followed); 0 when it is gone."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                continue
    return total


def human_bytes(count: int) -> str:
    """``0 B``, ``512 B``, ``1.5 KB``, ``12.0 MB`` (powers of 1,024)."""
    if count < 1024:
        return f"{count} B"
    size = count / 1024
    for unit in ("KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
