"""The queue filter: free text plus ``state:``, ``source:`` and ``workflow:`` terms."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.jobs import Job

FIELDS = ("state", "source", "workflow")


@dataclass(frozen=True)
class JobFilter:
    """The `/` filter as parsed: free words, and `state:`, `source:` and `workflow:` terms."""

    words: tuple[str, ...] = ()
    terms: dict[str, set[str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> JobFilter:
        words: list[str] = []
        terms: dict[str, set[str]] = {}
        for token in text.split():
            name, sep, value = token.partition(":")
            if sep and name.lower() in FIELDS and value:
                terms.setdefault(name.lower(), set()).add(value.lower())
            else:
                words.append(token.lower())
        return cls(tuple(words), terms)

    @property
    def active(self) -> bool:
        return bool(self.words or self.terms)

    def matches(self, job: Job) -> bool:
        values = {"state": str(job.state), "source": job.source, "workflow": job.workflow.lower()}
        if any(values[name] not in wanted for name, wanted in self.terms.items()):
            return False
        haystack = " ".join((job.prompt, job.trigger or "", job.workflow, str(job.id))).lower()
        return all(word in haystack for word in self.words)
