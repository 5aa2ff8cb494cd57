"""Tax vendor, imitating TaxJar's `POST /v2/taxes` (SmartCalcs): decimal dollars in and out.

Knows US ZIP prefixes per state (and rejects a ZIP outside its state, as TaxJar does), collects
only where the store has nexus, and answers Canadian GST/HST/PST. Errors are TaxJar's
`{"error": "Bad Request", "detail": "...", "status": 400}`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.state import SandboxState

_REASONS = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 406: "Not Acceptable",
            422: "Unprocessable Entity", 429: "Too Many Requests", 500: "Internal Server Error",
            503: "Service Unavailable"}

# First three ZIP digits per state (USPS prefixes, abridged where ranges interleave).
_ZIP3: list[tuple[int, int, str]] = [
    (5, 5, "NY"), (10, 27, "MA"), (28, 29, "RI"), (30, 38, "NH"), (39, 49, "ME"), (50, 59, "VT"),
    (55, 55, "MA"), (60, 69, "CT"), (70, 89, "NJ"), (100, 149, "NY"), (150, 196, "PA"), (197, 199, "DE"),
    (200, 205, "DC"), (206, 219, "MD"), (220, 246, "VA"), (247, 268, "WV"), (270, 289, "NC"),
    (290, 299, "SC"), (300, 319, "GA"), (320, 349, "FL"), (350, 369, "AL"), (370, 385, "TN"),
    (386, 397, "MS"), (398, 399, "GA"), (400, 427, "KY"), (430, 459, "OH"), (460, 479, "IN"),
    (480, 499, "MI"), (500, 528, "IA"), (530, 549, "WI"), (550, 567, "MN"), (569, 569, "DC"),
    (570, 577, "SD"), (580, 588, "ND"), (590, 599, "MT"), (600, 629, "IL"), (630, 658, "MO"),
    (660, 679, "KS"), (680, 693, "NE"), (700, 715, "LA"), (716, 729, "AR"), (730, 749, "OK"),
    (750, 799, "TX"), (800, 816, "CO"), (820, 831, "WY"), (832, 838, "ID"), (840, 847, "UT"),
    (850, 865, "AZ"), (870, 884, "NM"), (885, 885, "TX"), (889, 898, "NV"), (900, 961, "CA"),
    (967, 968, "HI"), (970, 979, "OR"), (980, 994, "WA"), (995, 999, "AK"),
]

# Where the sandbox store has nexus, with (state rate, typical combined local rate, county, city).
_NEXUS: dict[str, tuple[str, str, str, str]] = {
    "NY": ("0.04", "0.04875", "NEW YORK", "NEW YORK"),
    "CA": ("0.0725", "0.0225", "LOS ANGELES", "LOS ANGELES"),
    "TX": ("0.0625", "0.02", "TRAVIS", "AUSTIN"),
    "FL": ("0.06", "0.01", "MIAMI-DADE", "MIAMI"),
    "IL": ("0.0625", "0.04", "COOK", "CHICAGO"),
    "NJ": ("0.06625", "0", "ESSEX", "NEWARK"),
    "WA": ("0.065", "0.0385", "KING", "SEATTLE"),
    "MA": ("0.0625", "0", "SUFFOLK", "BOSTON"),
}

# Canada: (GST, PST/QST, HST) by province.
_CA: dict[str, tuple[str, str, str]] = {
    "ON": ("0", "0", "0.13"), "NS": ("0", "0", "0.14"), "NB": ("0", "0", "0.15"), "NL": ("0", "0", "0.15"),
    "PE": ("0", "0", "0.15"), "BC": ("0.05", "0.07", "0"), "QC": ("0.05", "0.09975", "0"),
    "MB": ("0.05", "0.07", "0"), "SK": ("0.05", "0.06", "0"), "AB": ("0.05", "0", "0"),
    "YT": ("0.05", "0", "0"), "NT": ("0.05", "0", "0"), "NU": ("0.05", "0", "0"),
}


def error_body(status: int, path: str = "", detail: str | None = None) -> dict[str, Any]:
    reason = _REASONS.get(status, "Error")
    default = {
        401: "Not authorized for route 'POST /v2/taxes'",
        429: "Rate limit exceeded: retry after the period in Retry-After",
    }.get(status, "Something went wrong on our end" if status >= 500 else reason)
    return {"error": reason, "detail": detail or default, "status": status}


def zip_state(zip_code: str) -> str | None:
    prefix = int(zip_code[:3])
    matches = [state for lo, hi, state in _ZIP3 if lo <= prefix <= hi]
    return matches[-1] if matches else None


def _bad(detail: str) -> Response:
    return JSONResponse(error_body(400, detail=detail), status_code=400)


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def routes(state: SandboxState) -> list[Route]:
    async def taxes(request: Request) -> Response:
        try:
            body = orjson.loads(await request.body())
            amount = Decimal(str(body["amount"]))
            shipping = Decimal(str(body.get("shipping", 0)))
            to_country = str(body["to_country"]).upper()
            to_zip = str(body.get("to_zip") or "")
            to_state = str(body.get("to_state") or "").upper()
        except (orjson.JSONDecodeError, KeyError, ArithmeticError, TypeError, ValueError) as exc:
            return _bad(f"Invalid request: {type(exc).__name__}")
        if amount < 0 or shipping < 0:
            return _bad("amount and shipping must be positive")
        if to_country == "US":
            if len(to_zip) < 5 or not to_zip[:5].isdigit():
                return _bad(f"to_zip {to_zip} is not a valid US ZIP code")
            actual = zip_state(to_zip)
            if actual is None or (to_state and actual != to_state):
                return _bad(f"to_zip {to_zip} is not used within to_state {to_state}")
            return JSONResponse(_us(amount, shipping, actual, to_zip))
        if to_country == "CA":
            if to_state not in _CA:
                return _bad(f"to_state {to_state} is not a Canadian province")
            return JSONResponse(_ca(amount, shipping, to_state))
        return _bad(f"to_country {to_country} is not supported")

    return [Route("/v2/taxes", taxes, methods=["POST"])]


def _us(amount: Decimal, shipping: Decimal, us_state: str, to_zip: str) -> dict[str, Any]:
    taxable = amount  # jewelry is taxable everywhere; shipping is free for insured delivery
    if us_state not in _NEXUS:
        return {"tax": {
            "order_total_amount": _money(amount + shipping), "shipping": _money(shipping),
            "taxable_amount": 0.0, "amount_to_collect": 0.0, "rate": 0.0, "has_nexus": False,
            "freight_taxable": False, "tax_source": None,
            "jurisdictions": {"country": "US", "state": us_state},
        }}
    state_rate_text, local_rate_text, county, city = _NEXUS[us_state]
    state_rate, local_rate = Decimal(state_rate_text), Decimal(local_rate_text)
    rate = state_rate + local_rate
    collect = taxable * rate
    return {"tax": {
        "order_total_amount": _money(amount + shipping),
        "shipping": _money(shipping),
        "taxable_amount": _money(taxable),
        "amount_to_collect": _money(collect),
        "rate": float(rate),
        "has_nexus": True,
        "freight_taxable": False,
        "tax_source": "destination",
        "jurisdictions": {"country": "US", "state": us_state, "county": county, "city": city, "zip": to_zip[:5]},
        "breakdown": {
            "taxable_amount": _money(taxable),
            "tax_collectable": _money(collect),
            "combined_tax_rate": float(rate),
            "state_taxable_amount": _money(taxable),
            "state_tax_rate": float(state_rate),
            "state_tax_collectable": _money(taxable * state_rate),
            "special_district_tax_collectable": _money(taxable * local_rate),
        },
    }}


def _ca(amount: Decimal, shipping: Decimal, province: str) -> dict[str, Any]:
    gst, pst, hst = (Decimal(x) for x in _CA[province])
    rate = gst + pst + hst
    return {"tax": {
        "order_total_amount": _money(amount + shipping),
        "shipping": _money(shipping),
        "taxable_amount": _money(amount),
        "amount_to_collect": _money(amount * rate),
        "rate": float(rate),
        "has_nexus": True,
        "freight_taxable": True,
        "tax_source": "destination",
        "jurisdictions": {"country": "CA", "state": province},
        "breakdown": {
            "gst_taxable_amount": _money(amount), "gst_tax_rate": float(gst), "gst": _money(amount * gst),
            "pst_taxable_amount": _money(amount), "pst_tax_rate": float(pst), "pst": _money(amount * pst),
            "qst_taxable_amount": 0.0, "qst_tax_rate": 0.0, "qst": 0.0,
            "combined_tax_rate": float(rate), "tax_collectable": _money(amount * rate),
            "hst": _money(amount * hst),
        },
    }}
