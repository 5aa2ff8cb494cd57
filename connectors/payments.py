"""Payments connector: Stripe's PaymentIntents with manual capture, form-encoded, idempotent by key.

`POST /v1/payment_intents` (amount in cents, `capture_method=manual`, `confirm=true`) with an
`Idempotency-Key` header: the same key replays the first result, so a retry after a lost answer can
never authorize twice. Stripe errors are `{"error": {type, code, decline_code, message}}`; a
`card_error` (402) is the shopper's card being declined, not the provider failing.
"""

from __future__ import annotations

from typing import Any

from connectors import payload as p
from connectors.http import ProviderError, VendorCall, VendorRequest, bearer
from connectors.models import Money, PaymentAuthorization, Vendor

VENDOR = Vendor.PAYMENTS
# What a shopper is told of any decline. The reason (insufficient_funds, fraudulent, ...) goes to logs
# and metrics only: telling it to the client is what makes card testing worth its while (Stripe's advice).
DECLINED = "Your card was declined. Please use another card or contact your card issuer."


auth_headers = bearer  # the provider takes `Authorization: Bearer <key>`


def read_error(status: int, body: Any) -> ProviderError:
    error = p.obj(body, "error")
    kind, code = error.get("type"), error.get("code")
    message = str(error.get("message", ""))
    if kind == "card_error":
        reason = error.get("decline_code") or code
        return ProviderError(code=str(reason or "card_declined"), message=message, rejected_field="paymentToken",
                             public_message=DECLINED)
    if status == 400 and error.get("param") == "payment_method":
        return ProviderError(code=str(code), message=message, rejected_field="paymentToken",
                             public_message="The payment token is not valid.")
    return ProviderError(code=str(code or kind), message=message)


def _intent(data: Any) -> PaymentAuthorization:
    charges = (p.obj(data).get("charges") or {}).get("data") or [{}]
    card = ((charges[0].get("payment_method_details") or {}).get("card")) or {}
    return PaymentAuthorization(
        intent_id=p.text(data, "id"),
        status=p.text(data, "status"),
        amount=Money.from_minor(p.integer(data, "amount"), p.text(data, "currency")),
        card_brand=card.get("brand"),
        last4=card.get("last4"),
    )


class PaymentsAPI:
    def authorize(self, amount: Money, *, token: str, idempotency_key: str, order_id: str,
                  email: str) -> VendorCall[PaymentAuthorization]:
        """Authorize (not capture) `amount`. Never retried or hedged: the policy sees `idempotent=False`."""
        form = {
            "amount": str(amount.minor),
            "currency": amount.currency.lower(),
            "payment_method": token,
            "capture_method": "manual",
            "confirm": "true",
            "receipt_email": email,
            "metadata[order_id]": order_id,
        }
        request = VendorRequest("POST", "/v1/payment_intents", form=form, headers={"idempotency-key": idempotency_key})

        def parse(data: Any) -> PaymentAuthorization:
            auth = _intent(data)
            if auth.status != "requires_capture":
                raise ValueError(f"authorization ended in status {auth.status!r}")
            return auth

        return VendorCall(VENDOR, "payments.authorize", request, parse, idempotent=False)

    def cancel(self, intent_id: str, *, idempotency_key: str) -> VendorCall[PaymentAuthorization]:
        """Void an authorization (no money moves). Safe to repeat: Stripe answers the same intent."""
        request = VendorRequest("POST", f"/v1/payment_intents/{intent_id}/cancel",
                                form={"cancellation_reason": "abandoned"},
                                headers={"idempotency-key": idempotency_key})
        return VendorCall(VENDOR, "payments.cancel", request, _intent, idempotent=False)
