"""Two ways a call is refused before it is sent, so a struggling vendor is not made to struggle more.

- `Bulkhead`: at most `max_concurrency` calls in flight to a vendor from this process; beyond it a
  call is refused at once (`BulkheadFull`) rather than queued behind a slow vendor.
- `RetryAfter`: after a 429 the vendor is left alone until its `Retry-After` has passed (1 s when it
  sent none, never more than a minute whatever it asks), and calls meanwhile are `BackingOff`.
"""

from __future__ import annotations

import time

from connectors.errors import BackingOff, BulkheadFull, VendorRateLimited

# After a 429 without Retry-After, leave the vendor alone this long; and never longer than the cap,
# whatever a vendor asks (a day-long Retry-After would silence it with no way back).
DEFAULT_RATE_LIMIT_BACKOFF_S = 1.0
MAX_RATE_LIMIT_BACKOFF_S = 60.0


class Bulkhead:
    def __init__(self, vendor: str, max_concurrency: int) -> None:
        self.vendor = vendor
        self.limit = max_concurrency
        self.in_flight = 0

    def enter(self, operation: str) -> None:
        if self.in_flight >= self.limit:
            raise BulkheadFull(self.vendor, f"{operation}: bulkhead full ({self.in_flight} in flight)")
        self.in_flight += 1

    def exit(self) -> None:
        self.in_flight -= 1


class RetryAfter:
    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.until = 0.0

    def check(self, operation: str) -> None:
        left = self.until - time.monotonic()
        if left > 0:
            raise BackingOff(self.vendor, f"{operation}: backing off after a 429 for {left:.1f}s more")

    def note(self, exc: VendorRateLimited) -> None:
        wait = min(MAX_RATE_LIMIT_BACKOFF_S, exc.retry_after_s or DEFAULT_RATE_LIMIT_BACKOFF_S)
        self.until = time.monotonic() + wait
