"""How many GraphQL requests this process takes on at once: a limit that follows the event loop's lag.

A fixed limit is wrong both ways: 256 in flight is far past what one core can answer inside a page
budget when every page needs CPU, and far below what it can hold when pages wait on slow vendors.
So the limit moves, in the manner of Netflix's concurrency-limits gradient (Gradient2), with the
loop's average lateness (`connectors.loop`) in place of round-trip times: while the loop runs on time and
the limit is what holds requests back, it grows (by about its square root, or doubles while the
loop is idle); once the loop runs later than `target`, it shrinks by target / lag (at most by half)
per step, smoothed both ways. Beyond it: 503 `OVERLOADED` at
once, which a load balancer retries elsewhere, rather than a queue every later request waits behind.
"""

from __future__ import annotations

import math
import time

from starlette.responses import Response

from connectors.loop import LoopLag
from connectors.telemetry import Tally, series_of
from gateway.edge.responses import error_response

STEP_S = 0.05  # the limit moves at most this often
SMOOTHING = 0.3  # how far each step up goes toward the new estimate
DOWN = 0.5  # how far each step down goes: at twice the target lag, -25% per step (256 -> 32 in ~0.4 s)


class InFlightLimit:
    """Requests in flight allowed now: between `floor` and `ceiling` (`[gateway] max_in_flight`). The
    lag it follows, and what counts as late, are `lag`'s (`[gateway] loop_lag_target_ms`)."""

    def __init__(self, ceiling: int, *, adaptive: bool, lag: LoopLag, floor: int = 4) -> None:
        self.ceiling = ceiling
        self.adaptive = adaptive and ceiling > 0
        self.lag = lag
        self.floor = min(floor, ceiling) if ceiling else floor
        self.limit = float(ceiling)
        self._stepped = 0.0
        self._peak = 0

    def admits(self, in_flight: int) -> bool:
        """Whether one more request may start, with `in_flight` already running."""
        if not self.ceiling:
            return True
        if self.adaptive:
            now = time.monotonic()
            if now - self._stepped >= STEP_S:
                self._stepped = now
                self._step(self._peak)
                self._peak = in_flight
        admitted = in_flight < int(self.limit)
        # The most this step's requests asked for: a refused one asked for more than the limit.
        self._peak = max(self._peak, in_flight + 1)
        return admitted

    def _step(self, in_flight: int) -> None:
        """Move the limit, given the most requests in flight (or asking to be) since the last step."""
        lag, target = self.lag.mean_s, self.lag.target_s
        if not target:  # the loop is not watched (not started): nothing to follow
            return
        if lag > target:  # short of CPU: down, by as much as the lag says, smoothed
            gradient = max(0.5, target / lag)
            self.limit = max(float(self.floor), self.limit * (1 - DOWN * (1 - gradient)))
        elif in_flight >= self.limit / 2:  # only a limit that is being reached has earned more room
            # An idle loop (a quarter of the target) takes its room back fast after a shortage.
            estimate = self.limit * 2 if lag < target / 4 else self.limit + math.sqrt(self.limit)
            self.limit = min(float(self.ceiling), (1 - SMOOTHING) * self.limit + SMOOTHING * estimate)


REQUESTS_SHED = Tally(
    "bezel.requests.shed",
    description="GraphQL requests answered 503 OVERLOADED because the process had as many in flight as its "
                "limit allowed (max_in_flight, or less while the event loop runs late).",
    series=series_of())


def shed() -> Response:
    """Overloaded: answer now, cheaply, rather than queue work that would finish past its budget and
    slow every request behind it (an overloaded process otherwise does not recover)."""
    REQUESTS_SHED.add(1, ())
    response = error_response(503, "The gateway is at capacity; retry shortly.", "OVERLOADED")
    response.headers["retry-after"] = "1"
    return response
