"""A vendor's recent response times, for choosing when to hedge (after its p95)."""

from __future__ import annotations

import collections


class LatencyWindow:
    def __init__(self, size: int = 200) -> None:
        self.samples: collections.deque[float] = collections.deque(maxlen=size)

    def observe(self, seconds: float) -> None:
        self.samples.append(seconds)

    def __len__(self) -> int:
        return len(self.samples)

    def percentile(self, p: float) -> float | None:
        if not self.samples:
            return None
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]
