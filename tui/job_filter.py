"""The queue filter: free text plus ``state:``, ``source:`` and ``workflow:`` terms
(``state:needs-you``: the running jobs that wait for a person's answer)."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.jobs import NEEDS_YOU, Job, JobState

FIELDS = ("state", "source", "workflow")
STATE_NAMES = (*(str(state) for state in JobState), NEEDS_YOU)


@dataclass(frozen=True)
class JobFilter:
    """The `/` filter as parsed: free words, and `state:`, `source:` and `workflow:` terms."""

    words: tuple[str, ...] = ()
    terms: dict[str, set[str]] = field(default_factory=dict)
    problem: str | None = None
    """Why the filter can match nothing (a state no job can be in), said under the table."""

    @classmethod
    def parse(cls, text: str) -> JobFilter:
        words: list[str] = []
        terms: dict[str, set[str]] = {}
        problem = None
        for token in text.split():
            name, sep, value = token.partition(":")
            if sep and name.lower() in FIELDS and value:
                terms.setdefault(name.lower(), set()).add(value.lower())
                if name.lower() == "state" and value.lower() not in STATE_NAMES and problem is None:
                    problem = f"unknown state {value!r}: use {', '.join(STATE_NAMES)}"
            else:
                words.append(token.lower())
        return cls(tuple(words), terms, problem)

    @property
    def active(self) -> bool:
        return bool(self.words or self.terms)

    def matches(self, job: Job) -> bool:
        states = {str(job.state), NEEDS_YOU} if job.needs_you else {str(job.state)}
        values = {"state": states, "source": {job.source}, "workflow": {job.workflow.lower()}}
        if any(not values[name] & wanted for name, wanted in self.terms.items()):
            return False
        haystack = " ".join((job.prompt, job.trigger or "", job.workflow, str(job.id))).lower()
        return all(word in haystack for word in self.words)
