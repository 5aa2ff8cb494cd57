"""One line per request (`gateway.edge.request_log`): which requests each mode writes, and what a line says."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from connectors.models import Outcome
from connectors.policy import CallRecord, CallScope, Deadline
from gateway.edge.request_log import RequestLog


def request(*outcomes: Outcome, method: str = "POST", partial: tuple[str, ...] = (), context: bool = True
            ) -> Request:
    """A request whose context saw one tax call per outcome (no context: refused before one was made)."""
    scope = CallScope(Deadline.after_ms(800))
    for outcome in outcomes:
        scope.log.add(CallRecord(vendor="tax", operation="estimate", outcome=outcome, source=None, ms=12.34))
    req = Request({"type": "http", "method": method, "path": "/graphql", "headers": [], "state": {}})
    if context:
        req.state.bezel = SimpleNamespace(scope=scope, partial_errors=dict.fromkeys(partial, object()),
                                          operation=("ProductPage", "query"))
    return req


def lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bezel.requests"]


@pytest.mark.parametrize(("mode", "rate", "clean_written"), [
    ("all", 1.0, True), ("errors", 1.0, False), ("sampled", 1.0, True), ("sampled", 1e-12, False)])
def test_which_requests_each_mode_writes(mode: str, rate: float, clean_written: bool) -> None:
    log = RequestLog(mode, rate)
    assert log.worth_writing(request(Outcome.LIVE, Outcome.CACHE), 200) is clean_written
    assert log.worth_writing(request(Outcome.LIVE), 400)
    assert log.worth_writing(request(Outcome.LIVE, Outcome.STALE), 200)
    assert log.worth_writing(request(Outcome.LIVE, partial=("inventory",)), 200)
    assert log.worth_writing(request(context=False), 200)


def test_a_line_names_the_operation_its_status_budget_and_each_vendor_s_worst_outcome(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bezel.requests")
    RequestLog("all").write(request(Outcome.LIVE, Outcome.TIMEOUT, partial=("tax", "bnpl")), 200, 0.12345)
    [line] = lines(caplog)
    assert line.getMessage() == "query ProductPage"
    got: dict[str, Any] = {k: line.__dict__[k] for k in ("operation", "operation_type", "status", "duration_ms",
                                                         "budget_ms", "vendors", "partial_errors")}
    assert got == {"operation": "ProductPage", "operation_type": "query", "status": 200, "duration_ms": 123.5,
                   "budget_ms": 800, "vendors": {"tax": "timeout"}, "partial_errors": ["bnpl", "tax"]}


def test_a_refused_request_gets_a_short_line_and_the_graphiql_page_none(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bezel.requests")
    log = RequestLog("all")
    log.write(request(context=False, method="GET"), 200, 0.001)  # the GraphiQL page
    log.write(request(context=False), 413, 0.002)
    [line] = lines(caplog)
    assert (line.getMessage(), line.__dict__["status"], line.__dict__["duration_ms"]) == ("request refused", 413, 2.0)


def test_nothing_is_written_while_info_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bezel.requests")
    RequestLog("all").write(request(Outcome.ERROR), 500, 0.1)
    assert lines(caplog) == []


def test_an_answer_from_the_store_is_clean_and_its_line_says_so(caplog: pytest.LogCaptureFixture) -> None:
    stored = request(context=False)
    stored.state.stored = "ProductPage"
    assert not RequestLog("errors").worth_writing(stored, 200)
    caplog.set_level(logging.INFO, logger="bezel.requests")
    RequestLog("all").write(stored, 200, 0.0004)
    [line] = lines(caplog)
    assert (line.getMessage(), line.operation, line.answered_from) == ("query ProductPage", "ProductPage", "store")
