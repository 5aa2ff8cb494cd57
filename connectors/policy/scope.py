"""What one GraphQL request lends every vendor call it makes: its deadline, and the log of what each
call did (the source of `extensions.vendors`, of the request's log line and of its traces)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.models import Outcome, Source
from connectors.policy.deadline import Deadline


@dataclass(frozen=True, slots=True)
class CallRecord:
    vendor: str
    operation: str
    outcome: Outcome
    source: Source | None  # where the value served came from; None when nothing was served
    ms: float  # time this call held the request
    age_ms: int = 0  # age of a cached or stale answer
    tier: str | None = None  # "local" or "redis" for a cached or stale answer
    attempts: int = 0  # HTTP calls made (0: answered without calling the vendor)
    hedged: bool = False
    retries: tuple[str, ...] = ()  # why each retry was made (or refused)
    shared: bool = False  # answered by another request's (or another process's) call
    timeout_ms: float = 0.0  # the timeout the last attempt was given
    breaker: str = "closed"  # the vendor's breaker state after the call
    detail: str = ""  # for logs only: never shown to clients


@dataclass
class CallLog:
    records: list[CallRecord] = field(default_factory=list)

    def add(self, record: CallRecord) -> None:
        self.records.append(record)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per vendor: the worst outcome and its source, the longest call's ms, the number of policy
        calls and of HTTP attempts they made (0 when all came from cache), and `hedged` if any was."""
        out: dict[str, dict[str, Any]] = {}
        for r in self.records:
            entry = out.get(r.vendor)
            if entry is None:
                out[r.vendor] = entry = {"outcome": r.outcome, "source": _name(r.source), "ms": 0.0, "calls": 0,
                                         "attempts": 0}
            elif r.outcome.severity > entry["outcome"].severity:
                entry["outcome"], entry["source"] = r.outcome, _name(r.source)
            entry["ms"] = round(max(entry["ms"], r.ms), 1)
            entry["calls"] += 1
            entry["attempts"] += r.attempts
            if r.hedged:
                entry["hedged"] = True
        return out


@dataclass
class CallScope:
    """A request's deadline, call log and quota; checkout lends its calls a longer deadline, the same log."""

    deadline: Deadline
    log: CallLog = field(default_factory=CallLog)
    # Calls this request may send to each vendor (0: no limit): no one request fills a vendor's bulkhead.
    quota: int = 0
    # The oldest cached answer this request takes from a vendor, in seconds, where it needs younger than
    # the cache would serve (checkout's prices); older is a miss, and asked for live.
    max_age_s: Mapping[str, float] = field(default_factory=dict)
    _sent: dict[str, int] = field(default_factory=dict, repr=False)

    def spend(self, vendor: str) -> bool:
        """Count one more call to `vendor` for this request; False once its quota is spent."""
        if not self.quota:
            return True
        sent = self._sent.get(vendor, 0)
        if sent >= self.quota:
            return False
        self._sent[vendor] = sent + 1
        return True


def _name(source: Source | None) -> str | None:
    return source.value if source is not None else None
