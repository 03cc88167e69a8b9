"""Cost, tokens, jobs and failures per day, workflow and source, from the ledger."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass

from core.clock import Clock, to_iso


@dataclass(frozen=True)
class StatsRow:
    """The totals of one day, workflow or source."""

    key: str
    jobs: int
    succeeded: int
    failed: int
    cost_usd: float
    input_tokens: int
    output_tokens: int

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Stats:
    """``flowtui stats``: totals per local day, per workflow and per source."""

    days: list[StatsRow]
    workflows: list[StatsRow]
    sources: list[StatsRow]

    def to_dict(self) -> dict[str, object]:
        return {name: [row.to_dict() for row in rows] for name, rows in self.__dict__.items()}


def collect_stats(conn: sqlite3.Connection, days: int, clock: Clock) -> Stats:
    """Jobs that finished within the last ``days`` local days (today included).

    Cost counts every attempt (a retried job's failed attempts cost money too), by the
    local day the attempt ended: each timestamp's own day in the zone's rules, so a day
    across a DST change is still one day.
    """
    since = to_iso(clock.days_ago_start(days - 1))
    conn.create_function(
        "local_date", 1, lambda stamp: clock.local_date(stamp).isoformat(), deterministic=True
    )
    per_day = _rows(conn, "local_date(j.finished_at)", since)
    cost_by_day = dict(
        conn.execute(
            "SELECT local_date(at), sum(cost_usd) FROM job_events"
            " WHERE at >= ? AND cost_usd IS NOT NULL GROUP BY 1",
            (since,),
        ).fetchall()
    )
    days_rows = [
        StatsRow(**{**row.to_dict(), "cost_usd": float(cost_by_day.get(row.key) or 0.0)})  # type: ignore[arg-type]
        for row in per_day
    ]
    for day, cost in cost_by_day.items():
        if day not in {row.key for row in days_rows}:
            days_rows.append(StatsRow(day, 0, 0, 0, float(cost), 0, 0))
    days_rows.sort(key=lambda row: row.key, reverse=True)
    return Stats(
        days=days_rows, workflows=_rows(conn, "j.workflow", since), sources=_rows(conn, "j.source", since)
    )


def _rows(conn: sqlite3.Connection, key_sql: str, since: str) -> list[StatsRow]:
    query = (
        f"SELECT {key_sql} AS k, count(*), sum(j.state = 'succeeded'), sum(j.state = 'failed'),"
        " coalesce(sum(j.cost_usd), 0), coalesce(sum(j.input_tokens), 0), coalesce(sum(j.output_tokens), 0)"
        " FROM jobs j WHERE j.finished_at >= ? GROUP BY k ORDER BY k"
    )
    return [
        StatsRow(str(key), int(jobs), int(ok or 0), int(failed or 0), float(cost), int(tin), int(tout))
        for key, jobs, ok, failed, cost, tin, tout in conn.execute(query, (since,)).fetchall()
    ]


def format_stats(stats: Stats) -> str:
    if not stats.days and not stats.workflows:
        return "no finished jobs in this period"
    blocks = []
    for title, rows in (("day", stats.days), ("workflow", stats.workflows), ("source", stats.sources)):
        lines = [
            f"{title.upper():<12} {'JOBS':>5} {'OK':>5} {'FAILED':>7} {'COST':>10} {'TOKENS IN/OUT':>20}"
        ]
        for row in rows:
            tokens = f"{row.input_tokens:,}/{row.output_tokens:,}"
            counts = f"{row.jobs:>5} {row.succeeded:>5} {row.failed:>7}"
            lines.append(f"{row.key:<12} {counts} ${row.cost_usd:>9.4f} {tokens:>20}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
