"""What placeOrder answers, and how a step ends the checkout early with an answer."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from connectors.models import Order


@dataclass(frozen=True)
class UserError:
    code: str  # OUT_OF_STOCK, PAYMENT_DECLINED, INVALID_INPUT, IDEMPOTENCY_KEY_*, CHECKOUT_UNAVAILABLE, RATE_LIMITED
    message: str
    field: tuple[str, ...] | None = None


@dataclass
class PlaceOrderResult:
    order: Order | None = None
    order_token: str | None = None
    user_errors: list[UserError] = field(default_factory=list)
    replayed: bool = False

    def to_record(self, idempotency_key: str) -> dict[str, Any]:
        """What is kept to replay this answer: the order token sealed with the client's idempotency key,
        which Redis never holds (only its digest), so the record alone does not give the order away."""
        return {"order_id": self.order.id if self.order else None,
                "order_token": seal(self.order_token, idempotency_key) if self.order_token else None,
                "user_errors": [{"code": e.code, "message": e.message, "field": list(e.field or [])}
                                for e in self.user_errors]}

    @classmethod
    def from_record(cls, record: dict[str, Any], idempotency_key: str, order: Order | None) -> PlaceOrderResult:
        errors = [UserError(e["code"], e["message"], tuple(e["field"]) or None) for e in record.get("user_errors", [])]
        token = record.get("order_token")
        return cls(order=order, order_token=unseal(token, idempotency_key) if token else None, user_errors=errors,
                   replayed=True)


def _pad(idempotency_key: str, size: int) -> bytes:
    return hashlib.blake2b(idempotency_key.encode(), digest_size=size, person=b"bezel-ordertok").digest()


def seal(token: str, idempotency_key: str) -> str:
    """The token XORed with a pad derived from the idempotency key (one token per key: a one-time pad)."""
    raw = token.encode()
    return base64.urlsafe_b64encode(bytes(a ^ b for a, b in zip(raw, _pad(idempotency_key, len(raw)),
                                                                  strict=True))).decode()


def unseal(sealed: str, idempotency_key: str) -> str:
    raw = base64.urlsafe_b64decode(sealed.encode())
    return bytes(a ^ b for a, b in zip(raw, _pad(idempotency_key, len(raw)), strict=True)).decode()


def failed(code: str, message: str, field: tuple[str, ...] | None = None) -> PlaceOrderResult:
    return PlaceOrderResult(user_errors=[UserError(code, message, field)])


def unavailable(reason: str) -> PlaceOrderResult:
    return failed("CHECKOUT_UNAVAILABLE", f"Checkout is unavailable right now ({reason}). No payment has been "
                                          "taken; please try again in a moment.")


def unclear(what: str) -> PlaceOrderResult:
    """Bezel cannot tell whether the order went through: the client must ask again with the same key."""
    return failed("CHECKOUT_UNAVAILABLE", f"We could not confirm whether your order was placed ({what}). Send "
                                          "the same request again in a minute to get its result; no payment "
                                          "is taken unless the order is confirmed.")


class Stop(Exception):
    """Ends execution early with a result.

    `keep`: store the result for replay. `hold_key`: leave the key claimed (in flight until
    in_flight_ttl_s) because the outcome is unclear and a fresh attempt could duplicate it."""

    def __init__(self, result: PlaceOrderResult, *, keep: bool, hold_key: bool = False) -> None:
        self.result = result
        self.keep = keep
        self.hold_key = hold_key
