"""The call policy: the one place every vendor call is timed, recorded and turned into an answer.

A resolver hands a `VendorCall` to the vendor's `CallPolicy` with the request's `CallScope`. The
policy gives the call `min(the vendor's timeout, what is left of the request budget)`, sends it
through the vendor's client, records the outcome, and either returns the value (`Sourced`, with
its freshness) or raises: `VendorRejected` when the vendor blamed the input, `VendorUnavailable`
for every other failure. Vendor modules know nothing of this.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TypeVar

from connectors.config import VendorConfig
from connectors.errors import VendorError, VendorRejected, VendorTimeout, VendorUnavailable
from connectors.http import VendorCall, VendorClient
from connectors.models import Freshness, Source, Sourced
from connectors.policy.calllog import CallLog, CallRecord
from connectors.policy.deadline import Deadline

T = TypeVar("T")
log = logging.getLogger("bezel.vendors")


@dataclass
class CallScope:
    """What one GraphQL request lends every vendor call it makes: its deadline and its call log."""

    deadline: Deadline
    log: CallLog = field(default_factory=CallLog)


class CallPolicy:
    """Timeouts and failure handling for one vendor."""

    def __init__(self, vendor: str, config: VendorConfig, client: VendorClient) -> None:
        self.vendor = vendor
        self.config = config
        self.client = client
        self.timeout_s = config.timeout_ms / 1000

    async def run(self, call: VendorCall[T], scope: CallScope) -> Sourced[T]:
        started = time.monotonic()
        timeout = scope.deadline.bound(self.timeout_s)
        try:
            if timeout <= 0:
                raise VendorTimeout(self.vendor, f"{call.operation}: request budget already spent")
            try:
                async with asyncio.timeout(timeout):
                    value = await self.client.execute(call)
            except TimeoutError as exc:
                raise VendorTimeout(self.vendor, f"{call.operation}: no answer within {timeout * 1000:.0f} ms") from exc
        except VendorRejected as exc:
            self._record(scope, call, "bad_input", None, started, str(exc))
            raise
        except VendorError as exc:
            self._record(scope, call, exc.outcome, None, started, str(exc))
            log.warning("vendor call failed", extra={"vendor": self.vendor, "operation": call.operation,
                                                      "outcome": exc.outcome, "detail": str(exc)})
            raise VendorUnavailable(self.vendor, exc.outcome) from exc
        self._record(scope, call, "live", Source.LIVE, started)
        return Sourced(value, Freshness(Source.LIVE, 0, self.vendor))

    def _record(self, scope: CallScope, call: VendorCall[T], outcome: str, source: Source | None,
                started: float, detail: str = "") -> None:
        ms = (time.monotonic() - started) * 1000
        scope.log.add(CallRecord(self.vendor, call.operation, outcome, source, ms, detail))
