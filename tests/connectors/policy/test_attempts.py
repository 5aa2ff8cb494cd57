"""The attempts link: what is retried, and what moves the circuit breaker."""

from __future__ import annotations

import httpx
import pytest
import respx

from connectors import payments
from connectors.config import BreakerConfig, VendorConfig
from connectors.errors import VendorHTTPError, VendorRejectedInput
from connectors.http import VendorCall, VendorClient, VendorRequest
from connectors.policy.attempts import Attempts
from connectors.policy.deadline import Deadline
from connectors.policy.record import Trace
from tests.connectors.helpers import BASE

STRIPE_AMOUNT_TOO_LARGE = {"error": {"type": "invalid_request_error", "code": "amount_too_large",
                                     "message": "Amount must be no more than $999,999.99", "param": "amount"}}


def attempts() -> Attempts:
    config = VendorConfig(timeout_ms=1000, retry_attempts=3, hedge=False,
                          breaker=BreakerConfig(window_size=4, minimum_calls=2, failure_rate_threshold=50))
    client = VendorClient("payments", BASE, read_error=payments.read_error, transport=httpx.AsyncHTTPTransport())
    return Attempts("payments", config, client)


def call() -> VendorCall[object]:
    return VendorCall("payments", "payments.read", VendorRequest("GET", "/v1/thing"), lambda body: body)


@pytest.mark.parametrize(("status", "body"), [(400, STRIPE_AMOUNT_TOO_LARGE), (402, {"error": {
    "type": "card_error", "code": "card_declined"}}), (422, {"error": {"code": "parameter_invalid_integer"}}),
    (413, {})])
@respx.mock(base_url=BASE, using="httpx")
async def test_a_refused_request_is_sent_once_and_never_opens_the_breaker(respx_mock, status: int,
                                                                          body: dict) -> None:
    """Five orders over Stripe's amount limit opened the payments breaker for every shopper: a request the
    provider refuses says nothing about the provider's health."""
    route = respx_mock.get("/v1/thing").mock(return_value=httpx.Response(status, json=body))
    link = attempts()
    for _ in range(6):
        with pytest.raises(VendorRejectedInput):
            await link.send(call(), Deadline.after_ms(5000), Trace())
    assert route.call_count == 6  # one HTTP call each: never retried
    assert link.breaker.allows_calls()
    await link.client.aclose()


@respx.mock(base_url=BASE, using="httpx")
async def test_the_provider_s_own_failures_open_the_breaker(respx_mock) -> None:
    route = respx_mock.get("/v1/thing").mock(return_value=httpx.Response(503, json={"error": {"type": "api_error"}}))
    link = attempts()
    for _ in range(2):
        with pytest.raises(VendorHTTPError):
            await link.send(call(), Deadline.after_ms(5000), Trace())
    assert route.call_count >= 2
    assert not link.breaker.allows_calls()
    await link.client.aclose()
