"""One structured line per GraphQL request: operation, status, duration, each vendor's outcome.

`[logging] requests`: "all"; "errors" (refused, failed, or a vendor's part served STALE or not at all);
"sampled": those plus `sample_rate` of the clean ones. A line costs ~20 us of CPU, so it is not even built
when INFO is off.
"""

from __future__ import annotations

import logging
import random

from starlette.requests import Request

from connectors.models import Outcome
from resolvers.context import RequestContext

log = logging.getLogger("bezel.requests")
_CLEAN = frozenset({Outcome.LIVE, Outcome.CACHE})  # vendor outcomes of a request that went right


class RequestLog:
    def __init__(self, mode: str = "all", sample_rate: float = 1.0) -> None:
        self.mode = mode
        self.sample_rate = sample_rate

    def worth_writing(self, request: Request, status: int) -> bool:
        if self.mode == "all":
            return True
        if getattr(request.state, "stored", None) is not None and status == 200:  # clean: every part fresh
            return self.mode == "sampled" and random.random() < self.sample_rate
        context: RequestContext | None = getattr(request.state, "bezel", None)
        if status != 200 or context is None or context.partial_errors or any(
                record.outcome not in _CLEAN for record in context.scope.log.records):
            return True
        return self.mode == "sampled" and random.random() < self.sample_rate

    def write(self, request: Request, status: int, duration_s: float) -> None:
        if not self.worth_writing(request, status) or not log.isEnabledFor(logging.INFO):
            return
        stored: str | None = getattr(request.state, "stored", None)
        if stored is not None:  # sent from the answer store (`gateway.answers`): nothing executed, no vendor asked
            log.info("query %s", stored, extra={"operation": stored, "operation_type": "query", "status": status,
                                                "duration_ms": round(duration_s * 1000, 1), "answered_from": "store"})
            return
        context: RequestContext | None = getattr(request.state, "bezel", None)
        if context is None:  # the GraphiQL page, or refused before any context was made
            if request.method == "GET" and status == 200:
                return
            log.info("request refused", extra={"status": status, "duration_ms": round(duration_s * 1000, 1)})
            return
        name, kind = context.operation or (None, "unknown")
        vendors = context.scope.log.summary()
        log.info(
            "%s %s", kind, name or "anonymous",
            extra={
                "operation": name,
                "operation_type": kind,
                "status": status,
                "duration_ms": round(duration_s * 1000, 1),
                "budget_ms": context.scope.deadline.budget_ms,
                "vendors": {vendor: line["outcome"] for vendor, line in vendors.items()},
                "partial_errors": sorted(context.partial_errors),
            },
        )
