"""Payments vendor, imitating Stripe's PaymentIntents API with manual capture and idempotency.

    POST /v1/payment_intents                 form-encoded: amount, currency, payment_method,
                                             capture_method=manual, confirm=true, metadata[...]
    GET  /v1/payment_intents/{id}
    POST /v1/payment_intents/{id}/capture
    POST /v1/payment_intents/{id}/cancel

`Idempotency-Key` follows Stripe: the first result (success or error) is stored and replayed with
`Idempotent-Replayed: true`; the same key with other parameters is a 400 `idempotency_error`; a
key whose first request is still running is a 409. Test tokens, as in Stripe's test mode:

    tok_visa, tok_mastercard, tok_amex             authorized (status requires_capture)
    tok_chargeDeclined                             402 card_declined / generic_decline
    tok_chargeDeclinedInsufficientFunds            402 card_declined / insufficient_funds
    tok_chargeDeclinedFraudulent                   402 card_declined / fraudulent
    tok_chargeDeclinedExpiredCard                  402 expired_card
    tok_chargeDeclinedProcessingError              402 processing_error
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.state import SandboxState

APPROVE = {"tok_visa": "visa", "tok_mastercard": "mastercard", "tok_amex": "amex"}
DECLINE = {
    "tok_chargeDeclined": ("card_declined", "generic_decline", "Your card was declined."),
    "tok_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds",
                                            "Your card has insufficient funds."),
    "tok_chargeDeclinedFraudulent": ("card_declined", "fraudulent", "Your card was declined."),
    "tok_chargeDeclinedExpiredCard": ("expired_card", None, "Your card has expired."),
    "tok_chargeDeclinedProcessingError": ("processing_error", None,
                                          "An error occurred while processing your card. Try again in a little bit."),
}
PROCESSING_S = 0.02  # time a request holds its idempotency key, so a double click can collide
MAX_AMOUNT = 99_999_999


def error_body(status: int, path: str = "") -> dict[str, Any]:
    kind, code, message = {
        401: ("invalid_request_error", None, "Invalid API Key provided: sk_test_****"),
        404: ("invalid_request_error", "resource_missing", "No such payment_intent"),
        429: ("invalid_request_error", "rate_limit", "Too many requests hit the API too quickly."),
    }.get(status, ("api_error", None, "An unknown error occurred") if status >= 500
          else ("invalid_request_error", None, "Invalid request"))
    return {"error": {"type": kind, "code": code, "message": message}}


def _error(status: int, kind: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"type": kind, "message": message, **extra}}, status_code=status)


def routes(state: SandboxState) -> list[Route]:
    async def create(request: Request) -> Response:
        params = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        key = request.headers.get("idempotency-key")
        if key is None:
            status, body = _authorize(state, params)
            return JSONResponse(body, status_code=status)
        fingerprint = hashlib.sha256(orjson.dumps(sorted(params.items()))).hexdigest()
        stored = state.idempotency.get(key)
        if stored is not None:
            if stored[0] != fingerprint:
                return _error(400, "idempotency_error",
                              "Keys for idempotent requests can only be used with the same parameters they "
                              f"were first used with. Try using a key other than '{key}' if you meant to "
                              "execute a different request.")
            return JSONResponse(stored[2], status_code=stored[1], headers={"idempotent-replayed": "true"})
        if key in state.in_flight:
            return _error(409, "invalid_request_error",
                          "There is currently another in-progress request using this Stripe API key and "
                          "idempotency key. Please try again later.", code="idempotency_key_in_use")
        state.in_flight.add(key)
        try:
            await asyncio.sleep(PROCESSING_S)
            status, body = _authorize(state, params)
            state.idempotency[key] = (fingerprint, status, body)
        finally:
            state.in_flight.discard(key)
        return JSONResponse(body, status_code=status, headers={"idempotency-key": key})

    async def retrieve(request: Request) -> Response:
        intent = state.payment_intents.get(request.path_params["intent_id"])
        if intent is None:
            return _error(404, "invalid_request_error", "No such payment_intent", code="resource_missing")
        return JSONResponse(intent)

    async def transition(request: Request) -> Response:
        intent = state.payment_intents.get(request.path_params["intent_id"])
        if intent is None:
            return _error(404, "invalid_request_error", "No such payment_intent", code="resource_missing")
        action = request.path_params["action"]
        target = {"capture": "succeeded", "cancel": "canceled"}[action]
        if intent["status"] == target:
            return JSONResponse(intent)
        if intent["status"] != "requires_capture":
            return _error(400, "invalid_request_error",
                          f"This PaymentIntent could not be {action}d because it has a status of "
                          f"{intent['status']}.", code="payment_intent_unexpected_state")
        intent["status"] = target
        if target == "succeeded":
            intent["amount_received"] = intent["amount"]
        intent["amount_capturable"] = 0
        return JSONResponse(intent)

    return [
        Route("/v1/payment_intents", create, methods=["POST"]),
        Route("/v1/payment_intents/{intent_id}", retrieve, methods=["GET"]),
        Route("/v1/payment_intents/{intent_id}/{action:str}", transition, methods=["POST"]),
    ]


def _authorize(state: SandboxState, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    try:
        amount = int(params.get("amount", ""))
    except ValueError:
        return 400, {"error": {"type": "invalid_request_error", "code": "parameter_missing",
                               "message": "Missing required param: amount.", "param": "amount"}}
    if not 50 <= amount <= MAX_AMOUNT:
        return 400, {"error": {"type": "invalid_request_error", "code": "amount_too_large" if amount > 50
                               else "amount_too_small", "message": "Amount out of range.", "param": "amount"}}
    token = params.get("payment_method", "")
    if token not in APPROVE and token not in DECLINE:
        return 400, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                               "message": f"No such PaymentMethod: '{token}'", "param": "payment_method"}}
    intent_id = f"pi_{hashlib.sha256(f'{time.time_ns()}{token}{amount}'.encode()).hexdigest()[:24]}"
    metadata = {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[") and k.endswith("]")}
    intent: dict[str, Any] = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "capture_method": params.get("capture_method", "automatic"),
        "currency": params.get("currency", "usd").lower(),
        "created": int(time.time()),
        "livemode": False,
        "metadata": metadata,
        "payment_method": f"pm_{token}",
        "status": "requires_payment_method",
        "last_payment_error": None,
    }
    if token in DECLINE:
        code, decline_code, message = DECLINE[token]
        intent["last_payment_error"] = {"type": "card_error", "code": code, "decline_code": decline_code,
                                        "message": message}
        state.payment_intents[intent_id] = intent
        return 402, {"error": {"type": "card_error", "code": code, "decline_code": decline_code,
                               "message": message, "payment_intent": intent}}
    manual = intent["capture_method"] == "manual"
    intent["status"] = "requires_capture" if manual else "succeeded"
    intent["amount_capturable"] = amount if manual else 0
    intent["amount_received"] = 0 if manual else amount
    intent["charges"] = {"data": [{"payment_method_details": {"card": {"brand": APPROVE[token], "last4": "4242"}}}]}
    state.payment_intents[intent_id] = intent
    return 200, intent
