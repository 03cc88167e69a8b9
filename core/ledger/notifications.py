"""The outbox's tables, in the ledger's SQLite file through their own connection.

A notification is a row before anything is sent (``pending``), then ``sent`` or ``failed``
with the reason, so nothing is lost to a crash or a dead network, and the history pane
and ``flowtui notifications`` read delivery state from here. Beside it: which Telegram
message belongs to which job (replies become follow-ups), which chat a job came from,
which jobs were already announced, and how often strangers wrote to the bot.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.clock import SYSTEM_CLOCK, Clock


@dataclass(frozen=True)
class Button:
    """An inline button; ``data`` comes back in the callback query (at most 64 bytes)."""

    text: str
    data: str


@dataclass(frozen=True)
class Markup:
    """What goes under a message: rows of inline buttons, or a prompt to reply to it."""

    rows: tuple[tuple[Button, ...], ...] = ()
    force_reply: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": [[[button.text, button.data] for button in row] for row in self.rows],
            "force_reply": self.force_reply,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Markup:
        rows = tuple(tuple(Button(text, value) for text, value in row) for row in data.get("rows", []))
        return cls(rows=rows, force_reply=bool(data.get("force_reply", False)))


SCHEMA = """
CREATE TABLE IF NOT EXISTS notifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id      INTEGER,
    chat_id     INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('job', 'approval', 'reply', 'log')),
    text        TEXT    NOT NULL,
    markup      TEXT,
    document    TEXT,
    reply_to    INTEGER,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    retry_at    REAL,
    created_at  TEXT    NOT NULL,
    sent_at     TEXT,
    message_id  INTEGER,
    resent_from INTEGER,
    channel     TEXT    NOT NULL DEFAULT 'telegram',
    payload     TEXT
);
CREATE INDEX IF NOT EXISTS notifications_pending ON notifications (state, chat_id, id);
CREATE TABLE IF NOT EXISTS notification_messages (
    chat_id         INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    job_id          INTEGER NOT NULL,
    notification_id INTEGER NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
CREATE TABLE IF NOT EXISTS telegram_origins (
    job_id     INTEGER PRIMARY KEY,
    chat_id    INTEGER NOT NULL,
    message_id INTEGER
);
CREATE TABLE IF NOT EXISTS telegram_notices (
    job_id   INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    decision TEXT    NOT NULL,
    at       TEXT    NOT NULL,
    PRIMARY KEY (job_id, kind)
);
CREATE TABLE IF NOT EXISTS telegram_denied (
    user_id  INTEGER PRIMARY KEY,
    count    INTEGER NOT NULL,
    first_at TEXT    NOT NULL,
    last_at  TEXT    NOT NULL
);
CREATE TABLE IF NOT EXISTS telegram_files (
    job_id INTEGER NOT NULL,
    folder TEXT    NOT NULL,
    PRIMARY KEY (job_id, folder)
);
CREATE TABLE IF NOT EXISTS telegram_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

SCHEMA_NAMES = frozenset(re.findall(r"CREATE (?:TABLE|INDEX) IF NOT EXISTS (\w+)", SCHEMA))
"""Every table and index ``SCHEMA`` creates."""

_COLUMNS = (
    "id, job_id, chat_id, kind, text, markup, document, reply_to, state, attempts, error, retry_at,"
    " created_at, sent_at, message_id, resent_from, channel, payload"
)
TELEGRAM = "telegram"
"""The channel of a Telegram message; any other is a ``[[notify]]`` channel's name."""
CHANNEL_COLUMNS = (("channel", "TEXT NOT NULL DEFAULT 'telegram'"), ("payload", "TEXT"))
"""Added in ledger schema 8 (``notifications`` gained channels beyond Telegram)."""
NOTICE_QUERY_CHUNK = 500
"""Job ids per query (SQLite allows 32,766 parameters; smaller chunks keep the lock short)."""
JSON_KEYS = ("id", "job_id", "channel", "chat_id", "state", "error", "created_at", "sent_at")


def migrate_notifications(conn: sqlite3.Connection) -> bool:
    """Give a ``notifications`` table from before schema 8 its channel columns (its rows are
    Telegram's); True when it changed anything. Nothing to do without the table."""
    existing = {row[1] for row in conn.execute("PRAGMA table_info(notifications)")}
    missing = [(name, sql) for name, sql in CHANNEL_COLUMNS if existing and name not in existing]
    for name, sql in missing:
        conn.execute(f"ALTER TABLE notifications ADD COLUMN {name} {sql}")
    return bool(missing)


@dataclass(frozen=True)
class Draft:
    """A notification to queue."""

    chat_id: int
    text: str
    kind: str = "reply"
    job_id: int | None = None
    markup: Markup | None = None
    document: str | None = None
    """For ``log``: the transcript file rendered and sent as a document."""
    reply_to: int | None = None
    channel: str = TELEGRAM
    """``telegram`` (to ``chat_id``), or a ``[[notify]]`` channel's name (``chat_id`` is 0)."""
    payload: dict[str, Any] | None = None
    """A ``[[notify]]`` channel's facts about the job (its webhook's JSON), fixed when queued."""


@dataclass(frozen=True)
class Notification:
    """One row of ``notifications``: one Telegram message (or document) and its delivery state."""

    id: int
    job_id: int | None
    chat_id: int
    kind: str
    text: str
    markup: Markup | None
    document: str | None
    reply_to: int | None
    state: str
    attempts: int
    error: str | None
    retry_at: float | None
    created_at: str
    sent_at: str | None
    message_id: int | None
    resent_from: int | None
    channel: str = TELEGRAM
    payload: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Notification:
        values = dict(row)
        values["markup"] = Markup.from_json(json.loads(values["markup"])) if values["markup"] else None
        values["payload"] = json.loads(values["payload"]) if values["payload"] else None
        return cls(**values)

    @property
    def destination(self) -> str:
        """Where it goes, safe to show: ``telegram 11111111`` (the chat), or a ``[[notify]]``
        channel's name and its redacted target (``phone · ntfy https://ntfy.sh/…``)."""
        if self.channel == TELEGRAM:
            return f"telegram {self.chat_id}"
        target = (self.payload or {}).get("target")
        return f"{self.channel} · {target}" if target else self.channel

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` shape (stable keys for scripts)."""
        return {key: getattr(self, key) for key in JSON_KEYS}


class NotificationStore:
    """Thread-safe access to the Telegram tables; one connection, short transactions."""

    def __init__(self, path: Path, clock: Clock = SYSTEM_CLOCK) -> None:
        self.path = path
        self.clock = clock
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        # Creating tables takes SQLite's write lock: once they exist, opening only reads, so a
        # window opening the store beside a busy engine never waits for (or holds) the lock.
        if not self._schema_present():
            with self._write() as conn:
                migrate_notifications(conn)
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)

    def _schema_present(self) -> bool:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'index')"
            ).fetchall()
            columns = {row[1] for row in self._conn.execute("PRAGMA table_info(notifications)")}
        return {row[0] for row in rows} >= SCHEMA_NAMES and columns >= {name for name, _ in CHANNEL_COLUMNS}

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            else:
                self._conn.execute("COMMIT")

    def _select(self, where: str, params: Sequence[object] = ()) -> list[Notification]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM notifications {where}", params).fetchall()
        return [Notification.from_row(row) for row in rows]

    # -- queueing ------------------------------------------------------------------------

    def enqueue(
        self, drafts: Sequence[Draft], notice: tuple[int, str] | None = None, decision: str = "queued"
    ) -> list[Notification]:
        """Insert ``drafts`` as pending rows in one transaction. With ``notice`` (job id, kind),
        only the first call for that job and kind inserts anything: announcements happen once."""
        with self._write() as conn:
            if notice is not None and not self._claim_notice(conn, notice, decision):
                return []
            ids = [
                conn.execute(
                    "INSERT INTO notifications (job_id, chat_id, kind, text, markup, document, reply_to,"
                    " state, created_at, channel, payload) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)"
                    " RETURNING id",
                    (
                        draft.job_id,
                        draft.chat_id,
                        draft.kind,
                        draft.text,
                        json.dumps(draft.markup.to_json()) if draft.markup else None,
                        draft.document,
                        draft.reply_to,
                        self.clock.iso(),
                        draft.channel,
                        json.dumps(draft.payload) if draft.payload is not None else None,
                    ),
                ).fetchone()[0]
                for draft in drafts
            ]
        return [self.require(notification_id) for notification_id in ids]

    def skip_notice(self, job_id: int, kind: str, decision: str) -> bool:
        """Record that a job's announcement was decided against (policy, no chat); once."""
        with self._write() as conn:
            return self._claim_notice(conn, (job_id, kind), decision)

    def _claim_notice(self, conn: sqlite3.Connection, notice: tuple[int, str], decision: str) -> bool:
        cursor = conn.execute(
            "INSERT OR IGNORE INTO telegram_notices (job_id, kind, decision, at) VALUES (?, ?, ?, ?)",
            (notice[0], notice[1], decision, self.clock.iso()),
        )
        return bool(cursor.rowcount)

    def notice(self, job_id: int, kind: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT decision FROM telegram_notices WHERE job_id = ? AND kind = ?", (job_id, kind)
            ).fetchone()
        return row[0] if row else None

    def resend(self, notification_id: int) -> Notification:
        """A new pending copy of a notification (the old row keeps its history)."""
        with self._write() as conn:
            new_id = conn.execute(
                "INSERT INTO notifications (job_id, chat_id, kind, text, markup, document, reply_to,"
                " state, created_at, resent_from, channel, payload) SELECT job_id, chat_id, kind, text,"
                " markup, document, reply_to, 'pending', ?, id, channel, payload FROM notifications"
                " WHERE id = ? RETURNING id",
                (self.clock.iso(), notification_id),
            ).fetchone()
        if new_id is None:
            raise KeyError(notification_id)
        return self.require(new_id[0])

    # -- reading -------------------------------------------------------------------------

    def get(self, notification_id: int) -> Notification | None:
        found = self._select("WHERE id = ?", (notification_id,))
        return found[0] if found else None

    def require(self, notification_id: int) -> Notification:
        found = self.get(notification_id)
        if found is None:
            raise KeyError(notification_id)
        return found

    def recent(self, limit: int | None = None, job_id: int | None = None) -> list[Notification]:
        """Newest first (the history pane and ``flowtui notifications``)."""
        where = "WHERE job_id = ?" if job_id is not None else ""
        params: list[object] = [job_id] if job_id is not None else []
        where += " ORDER BY id DESC"
        if limit is not None:
            where += " LIMIT ?"
            params.append(limit)
        return self._select(where, params)

    def pending_heads(self, channels: Sequence[str] = (TELEGRAM,)) -> list[Notification]:
        """The oldest pending row of each chat of each of ``channels``: a chat's (a channel's)
        messages go out in order."""
        marks = ", ".join("?" for _ in channels)
        return self._select(
            "WHERE id IN (SELECT min(id) FROM notifications WHERE state = 'pending'"
            f" AND channel IN ({marks}) GROUP BY channel, chat_id) ORDER BY id",
            list(channels),
        )

    def state_counts(self, channels: Sequence[str] | None = None) -> dict[str, int]:
        """Rows per state (of ``channels`` only, when given)."""
        where, params = "", list(channels or ())
        if channels is not None:
            where = f" WHERE channel IN ({', '.join('?' for _ in params)})"
        with self._lock:
            rows = self._conn.execute(
                f"SELECT state, count(*) FROM notifications{where} GROUP BY state", params
            ).fetchall()
        return {str(state): int(count) for state, count in rows}

    def pending_count(self) -> int:
        with self._lock:
            return int(
                self._conn.execute("SELECT count(*) FROM notifications WHERE state = 'pending'").fetchone()[0]
            )

    def open_questions(self) -> list[Notification]:
        """Sent tool-question messages that still carry their Allow / Always / Deny buttons."""
        return self._select(
            "WHERE kind = 'approval' AND state = 'sent' AND message_id IS NOT NULL"
            " AND markup LIKE '%\"allow:%' ORDER BY id"
        )

    def rewrite(self, chat_id: int, message_id: int, text: str, markup: Markup | None = None) -> None:
        """The sent message was edited: its text now, and the buttons it kept (none by default)."""
        kept = json.dumps(markup.to_json()) if markup else None
        with self._write() as conn:
            conn.execute(
                "UPDATE notifications SET text = ?, markup = ? WHERE chat_id = ? AND message_id = ?",
                (text, kept, chat_id, message_id),
            )

    # -- delivery ------------------------------------------------------------------------

    def mark_sent(self, notification: Notification, message_id: int) -> Notification:
        """Delivered; a Telegram message's id is kept (a reply to it finds its job)."""
        telegram = notification.channel == TELEGRAM
        with self._write() as conn:
            conn.execute(
                "UPDATE notifications SET state = 'sent', sent_at = ?, message_id = ?, error = NULL,"
                " retry_at = NULL, attempts = attempts + 1 WHERE id = ?",
                (self.clock.iso(), message_id if telegram else None, notification.id),
            )
            if notification.job_id is not None and telegram:
                conn.execute(
                    "INSERT OR REPLACE INTO notification_messages (chat_id, message_id, job_id,"
                    " notification_id) VALUES (?, ?, ?, ?)",
                    (notification.chat_id, message_id, notification.job_id, notification.id),
                )
        return self.require(notification.id)

    def mark_retry(
        self, notification_id: int, error: str, retry_at: float, count_attempt: bool
    ) -> Notification:
        """Still pending; try again at ``retry_at`` (epoch seconds)."""
        with self._write() as conn:
            conn.execute(
                "UPDATE notifications SET error = ?, retry_at = ?, attempts = attempts + ? WHERE id = ?",
                (error, retry_at, 1 if count_attempt else 0, notification_id),
            )
        return self.require(notification_id)

    def mark_failed(self, notification_id: int, error: str) -> Notification:
        with self._write() as conn:
            conn.execute(
                "UPDATE notifications SET state = 'failed', error = ?, retry_at = NULL,"
                " attempts = attempts + 1 WHERE id = ?",
                (error, notification_id),
            )
        return self.require(notification_id)

    def clear_backoff(self, channels: Sequence[str] = (TELEGRAM,)) -> int:
        """After a restart, pending rows are tried at once (the fix may be why it restarted)."""
        marks = ", ".join("?" for _ in channels)
        with self._write() as conn:
            return conn.execute(
                "UPDATE notifications SET retry_at = NULL WHERE state = 'pending' AND retry_at IS NOT NULL"
                f" AND channel IN ({marks})",
                list(channels),
            ).rowcount

    def job_for_message(self, chat_id: int, message_id: int) -> int | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT job_id FROM notification_messages WHERE chat_id = ? AND message_id = ?",
                (chat_id, message_id),
            ).fetchone()
        return int(row[0]) if row else None

    # -- where jobs came from ------------------------------------------------------------

    def record_origin(self, job_id: int, chat_id: int, message_id: int | None) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO telegram_origins (job_id, chat_id, message_id) VALUES (?, ?, ?)",
                (job_id, chat_id, message_id),
            )

    def origin(self, job_id: int) -> tuple[int, int | None] | None:
        """(chat id, message id) of the Telegram message that started the job."""
        with self._lock:
            row = self._conn.execute(
                "SELECT chat_id, message_id FROM telegram_origins WHERE job_id = ?", (job_id,)
            ).fetchone()
        return (int(row[0]), row[1]) if row else None

    # -- files sent to the bot -----------------------------------------------------------

    def record_files(self, job_id: int, folder: str) -> None:
        """``folder`` holds files sent for job ``job_id``: it goes when the job is pruned."""
        with self._write() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO telegram_files (job_id, folder) VALUES (?, ?)", (job_id, folder)
            )

    def file_folders(self, job_ids: Sequence[int]) -> list[str]:
        """The folders of files sent for these jobs."""
        folders: list[str] = []
        with self._lock:
            for index in range(0, len(job_ids), NOTICE_QUERY_CHUNK):
                chunk = list(job_ids[index : index + NOTICE_QUERY_CHUNK])
                marks = ", ".join("?" for _ in chunk)
                rows = self._conn.execute(
                    f"SELECT DISTINCT folder FROM telegram_files WHERE job_id IN ({marks})", chunk
                ).fetchall()
                folders.extend(str(row[0]) for row in rows)
        return folders

    # -- strangers -----------------------------------------------------------------------

    def count_denied(self, user_id: int) -> int:
        now = self.clock.iso()
        with self._write() as conn:
            row = conn.execute(
                "INSERT INTO telegram_denied (user_id, count, first_at, last_at) VALUES (?, 1, ?, ?)"
                " ON CONFLICT(user_id) DO UPDATE SET count = count + 1, last_at = excluded.last_at"
                " RETURNING count",
                (user_id, now, now),
            ).fetchone()
        return int(row[0])

    def denied_summary(self) -> tuple[int, int]:
        """(messages ignored, distinct senders) since the data dir was made."""
        with self._lock:
            row = self._conn.execute(
                "SELECT coalesce(sum(count), 0), count(*) FROM telegram_denied"
            ).fetchone()
        return int(row[0]), int(row[1])

    # -- small state ---------------------------------------------------------------------

    def get_state(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM telegram_state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO telegram_state (key, value) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def states(self, prefix: str) -> dict[str, str]:
        """Every stored value whose key starts with ``prefix`` (the progress messages left open)."""
        with self._lock:
            found = self._conn.execute(
                "SELECT key, value FROM telegram_state WHERE substr(key, 1, ?) = ?", (len(prefix), prefix)
            ).fetchall()
        return {str(key): str(value) for key, value in found}

    def delete_state(self, key: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM telegram_state WHERE key = ?", (key,))

    def first_value(self, key: str, value: str) -> str:
        """The stored value, storing ``value`` first if there is none."""
        with self._write() as conn:
            conn.execute("INSERT OR IGNORE INTO telegram_state (key, value) VALUES (?, ?)", (key, value))
            row = conn.execute("SELECT value FROM telegram_state WHERE key = ?", (key,)).fetchone()
        return str(row[0])

    # -- which jobs were announced --------------------------------------------------------

    def noticed(self, kind: str, job_ids: Sequence[int]) -> set[int]:
        """Those of ``job_ids`` that already have a ``kind`` notice (the jobs themselves live
        in the ledger, SQLite or Redis, so they are read through it, not from this file)."""
        noticed: set[int] = set()
        with self._lock:
            for index in range(0, len(job_ids), NOTICE_QUERY_CHUNK):
                chunk = list(job_ids[index : index + NOTICE_QUERY_CHUNK])
                marks = ", ".join("?" for _ in chunk)
                rows = self._conn.execute(
                    f"SELECT job_id FROM telegram_notices WHERE kind = ? AND job_id IN ({marks})",
                    (kind, *chunk),
                ).fetchall()
                noticed.update(int(row[0]) for row in rows)
        return noticed

    # -- retention ------------------------------------------------------------------------

    def delete_for_jobs(self, job_ids: Sequence[int], dry_run: bool = False) -> int:
        """Delete the notifications of jobs pruned from the ledger, with what ties Telegram
        messages, chats and notices to them; returns how many notifications (``dry_run``:
        would)."""
        deleted = 0
        with self._write() as conn:
            for index in range(0, len(job_ids), NOTICE_QUERY_CHUNK):
                chunk = list(job_ids[index : index + NOTICE_QUERY_CHUNK])
                marks = ", ".join("?" for _ in chunk)
                (count,) = conn.execute(
                    f"SELECT count(*) FROM notifications WHERE job_id IN ({marks})", chunk
                ).fetchone()
                deleted += int(count)
                if dry_run:
                    continue
                for table in (
                    "notifications",
                    "notification_messages",
                    "telegram_origins",
                    "telegram_notices",
                    "telegram_files",
                ):
                    conn.execute(f"DELETE FROM {table} WHERE job_id IN ({marks})", chunk)
        return deleted
