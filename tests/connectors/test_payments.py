"""Stripe mapping: the authorization request, the intent it answers, and which errors blame the card."""

from __future__ import annotations

import pytest

from connectors.models import Money, PaymentAuthorization
from connectors.payments import DECLINED, PaymentsAPI, read_error

INTENT = {"id": "pi_1", "object": "payment_intent", "status": "requires_capture", "amount": 2014188,
          "currency": "usd", "charges": {"data": [{"payment_method_details": {"card": {"brand": "visa",
                                                                                       "last4": "4242"}}}]}}


def authorize():
    return PaymentsAPI().authorize(Money.of("20141.88", "USD"), token="pm_card_visa", idempotency_key="idem-1",
                                   order_id="ord_1", email="ada@example.com")


def test_an_authorization_asks_for_manual_capture_in_cents_under_our_key() -> None:
    call = authorize()
    req = call.request
    assert (req.method, req.path, req.headers) == ("POST", "/v1/payment_intents", {"idempotency-key": "idem-1"})
    assert req.form == {"amount": "2014188", "currency": "usd", "payment_method": "pm_card_visa",
                        "capture_method": "manual", "confirm": "true", "receipt_email": "ada@example.com",
                        "metadata[order_id]": "ord_1"}
    assert call.idempotent is False  # never retried nor hedged: it moves money
    assert call.result_type is None  # never cached


def test_an_authorized_intent_becomes_a_payment_authorization() -> None:
    assert authorize().parse(INTENT) == PaymentAuthorization("pi_1", "requires_capture", Money.of("20141.88", "USD"),
                                                             card_brand="visa", last4="4242")
    bare = authorize().parse({**INTENT, "charges": None})  # no charge details: still authorized
    assert (bare.card_brand, bare.last4) == (None, None)


@pytest.mark.parametrize("status", ["succeeded", "requires_action", "canceled"])
def test_an_intent_not_left_awaiting_capture_is_refused(status: str) -> None:
    with pytest.raises(ValueError, match=status):
        authorize().parse({**INTENT, "status": status})


def test_a_cancel_voids_the_intent_named_and_is_read_back() -> None:
    call = PaymentsAPI().cancel("pi_1", idempotency_key="void-1")
    assert (call.request.path, call.request.form) == ("/v1/payment_intents/pi_1/cancel",
                                                      {"cancellation_reason": "abandoned"})
    assert call.request.headers == {"idempotency-key": "void-1"}
    assert call.parse({**INTENT, "status": "canceled"}).status == "canceled"


def test_a_decline_blames_the_card_without_telling_why() -> None:
    body = {"error": {"type": "card_error", "code": "card_declined", "decline_code": "stolen_card",
                      "message": "Your card was declined."}}
    error = read_error(402, body)
    assert (error.code, error.rejected_field, error.public_message) == ("stolen_card", "paymentToken", DECLINED)
    assert "stolen" not in DECLINED
    no_reason = read_error(402, {"error": {"type": "card_error"}})
    assert no_reason.code == "card_declined"


def test_a_bad_payment_method_is_the_tokens_fault_and_anything_else_stripes() -> None:
    bad_token = read_error(400, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                           "param": "payment_method", "message": "No such PaymentMethod"}})
    assert (bad_token.rejected_field, bad_token.public_message) == ("paymentToken", "The payment token is not valid.")
    ours = read_error(400, {"error": {"type": "invalid_request_error", "code": "parameter_unknown",
                                      "param": "metadata", "message": "Received unknown parameter"}})
    assert (ours.code, ours.rejected_field, ours.public_message) == ("parameter_unknown", None, None)
    outage = read_error(500, {"error": {"type": "api_error", "message": "Something went wrong"}})
    assert (outage.code, outage.message, outage.rejected_field) == ("api_error", "Something went wrong", None)
