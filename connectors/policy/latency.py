"""A vendor's recent response times, for choosing when to hedge (after its p95)."""

from __future__ import annotations

import collections

# Sorting the window on every call was ~2% of a new shopper's page (six calls a page, 200 samples
# each): a percentile is now recomputed after this many new samples, or at once while few are in.
REFRESH_EVERY = 16


class LatencyWindow:
    def __init__(self, size: int = 200) -> None:
        self.samples: collections.deque[float] = collections.deque(maxlen=size)
        self._known: dict[float, float] = {}
        self._since = 0

    def observe(self, seconds: float) -> None:
        self.samples.append(seconds)
        self._since += 1
        if self._since >= REFRESH_EVERY or len(self.samples) < REFRESH_EVERY:
            self._known.clear()
            self._since = 0

    def __len__(self) -> int:
        return len(self.samples)

    def percentile(self, p: float) -> float | None:
        """The p-th percentile of the window, as of at most REFRESH_EVERY samples ago."""
        known = self._known.get(p)
        if known is not None:
            return known
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        value = self._known[p] = ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]
        return value
