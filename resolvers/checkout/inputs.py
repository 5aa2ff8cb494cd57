"""What placeOrder is given, and the checks that run before anything is claimed, priced or held."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Sequence
from typing import Protocol

from resolvers.cart import CartLineRequest
from resolvers.checkout.outcome import UserError
from resolvers.validation import MAX_ENGRAVING_TEXT, AddressFields, printable

# An address a mail server takes: no spaces, no quotes or brackets (nothing a receipt or a CRM would render
# as markup), letters of any script (checked after NFC normalization), a dotted domain.
EMAIL = re.compile(r"^[^@\s<>()\[\]\\,;:\"']{1,64}@[^@\s<>()\[\]\\,;:\"'.]+(\.[^@\s<>()\[\]\\,;:\"'.]+)+$")
MAX_KEY = 255


class OrderLineRequest(CartLineRequest, Protocol):
    @property
    def engraving_text(self) -> str | None: ...


class PlaceOrderRequest(Protocol):
    """placeOrder's input as the client sent it (the GraphQL input), nothing checked yet."""

    @property
    def idempotency_key(self) -> str: ...
    @property
    def lines(self) -> Sequence[OrderLineRequest]: ...
    @property
    def ship_to(self) -> AddressFields: ...
    @property
    def email(self) -> str: ...
    @property
    def payment_token(self) -> str: ...
    @property
    def insure(self) -> bool | None: ...
    @property
    def financing_provider(self) -> str | None: ...


def validate(raw: PlaceOrderRequest) -> list[UserError]:
    """Every problem the input has on its own (no vendor asked), as INVALID_INPUT user errors."""
    problems = []
    key = raw.idempotency_key
    if not 1 <= len(key) <= MAX_KEY or not key.isprintable():
        problems.append(UserError("INVALID_INPUT", f"The idempotency key must be 1 to {MAX_KEY} printable "
                                                   "characters.", ("idempotencyKey",)))
    email = email_of(raw)
    if len(email) > 254 or not EMAIL.match(email) or not printable(email):
        problems.append(UserError("INVALID_INPUT", "Enter a valid email address.", ("email",)))
    if not raw.payment_token.strip() or len(raw.payment_token) > 255:
        problems.append(UserError("INVALID_INPUT", "A payment token is required.", ("paymentToken",)))
    seen: dict[str, int] = {}
    for i, line in enumerate(raw.lines):
        variant = line.variant_id.rsplit("/", 1)[-1]
        if variant in seen:
            message = f"This variant is already line {seen[variant]}; list each variant once, with its quantity."
            problems.append(UserError("INVALID_INPUT", message, ("lines", str(i), "variantId")))
        seen.setdefault(variant, i)
        if line.engraving_text is not None and len(line.engraving_text) > MAX_ENGRAVING_TEXT:
            problems.append(UserError("INVALID_INPUT", f"Engraving text is limited to {MAX_ENGRAVING_TEXT} characters.",
                                      ("lines", str(i), "engravingText")))
    return problems


def email_of(raw: PlaceOrderRequest) -> str:
    """The email as it is kept and sent on: trimmed, NFC-normalized (one spelling per address)."""
    return unicodedata.normalize("NFC", raw.email.strip())


def field_path(field: str | None) -> tuple[str, ...] | None:
    """"lines[1].variantId" -> ("lines", "1", "variantId")."""
    if not field:
        return None
    return tuple(p for p in re.split(r"[.\[\]]+", field) if p)


def fingerprint(raw: PlaceOrderRequest) -> str:
    """What makes two requests the same order: a replay must match it, or the key was reused."""
    a = raw.ship_to
    doc = {
        "lines": [[line.variant_id, line.quantity, line.engraving_text] for line in raw.lines],
        "ship_to": [a.country_code, a.zip, a.province_code, a.city, a.line1, a.line2],
        "email": email_of(raw).lower(),
        "token": raw.payment_token,
        "insure": insured(raw),
        "financing": raw.financing_provider,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def insured(raw: PlaceOrderRequest) -> bool:
    """Insurance is on unless the client said `insure: false`."""
    return raw.insure is not False
