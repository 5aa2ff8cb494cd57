"""The one rule for how old a cached answer may be, and what it is then called.

    age < fresh                      CACHE: served as it is
    fresh <= age < fresh + revalidate   CACHE too, while one background call refreshes it
    age < fresh + stale              may stand in, marked STALE, when the vendor fails
    older                            not served (kept no longer than fresh + max(stale, revalidate))

`CallPolicy.run` and `run_batch` both serve and fall back through these, so a single read and a
batched read of the same answer agree on whether it is fresh, refreshable or too old to stand in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from connectors.config import VendorConfig
from connectors.models import Freshness, Source, Sourced
from connectors.policy.cache import Entry


@dataclass(frozen=True, slots=True)
class Windows:
    fresh_s: float
    revalidate_s: float
    stale_s: float

    @classmethod
    def of(cls, config: VendorConfig) -> Windows:
        return cls(config.cache_ttl_s, config.revalidate_s, config.stale_ttl_s)

    @property
    def keep_s(self) -> float:
        """How long an answer is stored: as long as it may be served one way or another."""
        return self.fresh_s + max(self.stale_s, self.revalidate_s)

    def fresh(self, age_s: float) -> bool:
        return age_s < self.fresh_s

    def servable(self, age_s: float) -> bool:
        """Served as CACHE now (fresh, or within the revalidation window)."""
        return age_s < self.fresh_s + self.revalidate_s

    def may_stand_in(self, age_s: float) -> bool:
        return age_s < self.fresh_s + self.stale_s


def sourced(entry: Entry[Any], source: Source, vendor: str, now: float | None = None) -> Sourced[Any]:
    """A cached entry as an answer marked `source`, with its age."""
    return Sourced(entry.value, Freshness(source, int(entry.age_s(now) * 1000), vendor))
