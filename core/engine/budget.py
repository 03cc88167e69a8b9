"""Daily spending limits: the whole queue's (``[budget] daily_usd``) and each workflow's.

Days are the user's local days (the ledger's clock, in its zone's rules); spend is the
recorded cost of attempts that ended today.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.clock import to_iso
from core.config.settings import Settings
from core.ledger.store import LedgerStore


@dataclass(frozen=True)
class BudgetState:
    """Today's spend against a daily limit, for the queue's pause and each workflow's deferral."""

    spent_usd: float
    limit_usd: float

    @property
    def reached(self) -> bool:
        return self.spent_usd >= self.limit_usd

    def reason(self, scope: str = "budget") -> str:
        return f"{scope}: ${self.spent_usd:.2f} of ${self.limit_usd:.2f} spent today"


def queue_budget(ledger: LedgerStore, settings: Settings) -> BudgetState | None:
    limit = settings.budget.daily_usd
    if limit is None:
        return None
    return BudgetState(ledger.spent_since(to_iso(ledger.clock.day_start())), limit)


def workflow_budget(ledger: LedgerStore, settings: Settings, workflow: str) -> BudgetState | None:
    limit = settings.workflows[workflow].daily_usd if workflow in settings.workflows else None
    if limit is None:
        return None
    return BudgetState(ledger.spent_since(to_iso(ledger.clock.day_start()), workflow), limit)
