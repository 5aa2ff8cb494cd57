"""`[logging] requests`: every request gets its line, or only those that went wrong (plus a sample)."""

from __future__ import annotations

import logging

import pytest

from sandbox.handle import Sandbox
from tests.e2e.test_call_policy import NO_TAX_CACHE, TAX_QUERY
from tests.support import US_ADDRESS, run_gateway, settings_for


def request_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bezel.requests"]


@pytest.mark.parametrize(("mode", "rate", "clean_logged"), [
    ("all", "0.01", True), ("errors", "0.01", False), ("sampled", "1.0", True), ("sampled", "0.000001", False),
])
async def test_which_requests_are_logged(sandbox: Sandbox, caplog: pytest.LogCaptureFixture, mode: str, rate: str,
                                         clean_logged: bool) -> None:
    env = {**NO_TAX_CACHE, "BEZEL_LOGGING__REQUESTS": mode, "BEZEL_LOGGING__SAMPLE_RATE": rate}
    caplog.set_level(logging.INFO, logger="bezel.requests")
    async with run_gateway(settings_for(sandbox, **env)) as gw:
        assert "errors" not in await gw.gql(TAX_QUERY, {"a": US_ADDRESS})
        assert len(request_lines(caplog)) == (1 if clean_logged else 0)
        caplog.clear()
        sandbox.fault("tax", status=500)  # no cache, no stale copy: the estimate is missing from the page
        degraded = await gw.gql(TAX_QUERY, {"a": US_ADDRESS})
        assert degraded["errors"][0]["extensions"]["code"] == "VENDOR_UNAVAILABLE"
        refused = await gw.http.post("/graphql", content=b"not json", headers={"content-type": "application/json"})
        assert refused.status_code == 400
    lines = request_lines(caplog)
    assert [line.__dict__.get("status") for line in lines] == [200, 400]  # whatever the mode: both went wrong
    assert lines[0].__dict__["vendors"]["tax"] == "error"
