"""Buy-now-pay-later vendor hosting two providers' APIs, amounts as each documents them.

    GET /affirm/api/promos/v2/{public_api_key}?amount=<cents>   Affirm-like "as low as" promos, cents
    GET /afterpay/v2/configuration                             Afterpay-like min/max, decimal strings

Affirm finances $50 to $30,000 over 6 (0% APR), 12, 24 or 36 months; Afterpay splits $1 to
$4,000 into 4 interest-free payments every two weeks. Errors follow each provider: Affirm's
`{status_code, type, code, message}`, Afterpay's `{errorCode, errorId, message, httpStatusCode}`.
"""

from __future__ import annotations

import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.state import SandboxState

AFFIRM_MIN_CENTS = 5_000
AFFIRM_MAX_CENTS = 3_000_000
AFFIRM_TERMS = ((6, Decimal("0")), (12, Decimal("0.0999")), (24, Decimal("0.1499")), (36, Decimal("0.1999")))
AFTERPAY_MIN = "1.00"
AFTERPAY_MAX = "4000.00"


def error_body(status: int, path: str = "") -> dict[str, Any]:
    if "/afterpay/" in path or path.startswith("/afterpay"):
        code = {401: "unauthorized", 404: "not_found", 429: "rate_limited"}.get(
            status, "server_error" if status >= 500 else "invalid_object")
        return {"errorCode": code, "errorId": uuid.uuid4().hex[:16], "message": code.replace("_", " "),
                "httpStatusCode": status}
    kind = "server_error" if status >= 500 else "invalid_request"
    return {"status_code": status, "type": kind, "code": "rate-limited" if status == 429 else kind,
            "message": "An error occurred." if status >= 500 else "Request failed."}


def monthly_payment(principal_cents: int, apr: Decimal, months: int) -> int:
    if apr == 0:
        return int((Decimal(principal_cents) / months).to_integral_value(rounding=ROUND_HALF_UP))
    r = apr / 12
    payment = Decimal(principal_cents) * r / (1 - (1 + r) ** -months)
    return int(payment.to_integral_value(rounding=ROUND_HALF_UP))


def _dollars(cents: int) -> str:
    return f"${Decimal(cents) / 100:,.2f}"


def routes(state: SandboxState) -> list[Route]:
    async def affirm_promos(request: Request) -> Response:
        try:
            cents = int(request.query_params["amount"])
        except (KeyError, ValueError):
            return JSONResponse({"status_code": 400, "type": "invalid_request", "code": "invalid_field",
                                 "message": "amount must be an integer number of cents", "field": "amount"},
                                status_code=400)
        if not AFFIRM_MIN_CENTS <= cents <= AFFIRM_MAX_CENTS:
            return JSONResponse({"promo": None, "terms": [], "reason": "amount_out_of_range",
                                 "min_amount_cents": AFFIRM_MIN_CENTS, "max_amount_cents": AFFIRM_MAX_CENTS})
        terms = []
        for months, apr in AFFIRM_TERMS:
            payment = monthly_payment(cents, apr, months)
            terms.append({"term_length": months, "apr": str(apr), "installment_cents": payment,
                          "total_cents": payment * months, "currency": "USD"})
        best = min(terms, key=lambda t: t["installment_cents"])
        return JSONResponse({
            "promo": {
                "id": "promo_set_default",
                "apr": best["apr"],
                "term_length": best["term_length"],
                "ala": {"amount_cents": best["installment_cents"], "currency": "USD"},
                "ala_message": f"As low as {_dollars(best['installment_cents'])}/mo with Affirm",
                "html_ala": f"Starting at <span class=\"affirm-ala-price\">{_dollars(best['installment_cents'])}"
                            "</span>/mo with <span class=\"__affirm-logo\">Affirm</span>",
            },
            "terms": terms,
            "min_amount_cents": AFFIRM_MIN_CENTS,
            "max_amount_cents": AFFIRM_MAX_CENTS,
        })

    async def afterpay_configuration(request: Request) -> Response:
        return JSONResponse({
            "minimumAmount": {"amount": AFTERPAY_MIN, "currency": "USD"},
            "maximumAmount": {"amount": AFTERPAY_MAX, "currency": "USD"},
        })

    return [
        Route("/affirm/api/promos/v2/{public_api_key}", affirm_promos),
        Route("/afterpay/v2/configuration", afterpay_configuration),
    ]
