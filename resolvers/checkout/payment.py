"""Authorizing the payment, exactly once, and voiding what must not stand.

Never retried blindly: if the answer is lost, the same idempotency key is sent again to learn the
outcome (the provider replays it, so nothing is charged twice) and anything authorized is voided.
"""

from __future__ import annotations

import asyncio
import logging
from typing import NoReturn

from connectors.errors import VendorHTTPError, VendorRejectedInput, VendorUnavailable
from connectors.http import VendorCall
from connectors.models import Money, Outcome, PaymentAuthorization, Vendor
from connectors.policy import CallScope, Deadline
from connectors.retry import Backoff, retry
from connectors.telemetry import Counter, series_of, tracer
from connectors.vendors import Vendors
from resolvers.checkout.outcome import Stop, failed, unavailable, unclear

log = logging.getLogger("bezel.checkout")
# The provider's decline codes are its own (counted as they come); the provider failing is one of these.
PROVIDER_FAILURES = tuple(outcome for outcome in Outcome if outcome.failed)
PAYMENT_FAILURES = Counter(
    "bezel.payment.failures",
    description="Payment authorizations that did not succeed, by reason (a decline code, timeout, error).",
    series=series_of(reason=[*PROVIDER_FAILURES, "declined"]))
PAYMENT_REASKS = Counter(
    "bezel.payment.reasks", description="Authorizations asked again with the same key after a lost answer.",
    series=series_of())
VOID_REASONS = ("lost_answer", "hold_lost", "reservation_expired")
PAYMENT_VOIDS = Counter(
    "bezel.payment.voids", description="Authorizations voided, by why: lost_answer, hold_lost (scarce stock sold to "
                                       "another buyer first), reservation_expired.",
    series=series_of(why=VOID_REASONS))
# Asking again after a lost answer: first after 0.2 s, then 0.5 s, then 1 s (a 409 means the first
# request is still running at the provider).
RECOVER_FIRST_WAIT_S = 0.2
RECOVER_ATTEMPTS = 3
RECOVER_BACKOFF = Backoff(initial_s=0.5, max_s=1.0)
# A void is tried this many times while our own limits keep it from being sent, each with this long.
VOID_ATTEMPTS = 8
VOID_BUDGET_MS = 5_000
VOID_BACKOFF = Backoff(initial_s=0.05, max_s=1.0, jitter_s=0.05)


async def authorize(vendors: Vendors, scope: CallScope, *, total: Money, token: str, email: str, order_id: str,
                    payment_key: str) -> PaymentAuthorization:
    """Authorize once (manual capture); a decline or an unknown outcome ends the checkout."""
    call = vendors.payments.authorize(total, token=token, idempotency_key=payment_key, order_id=order_id,
                                      email=email)
    with tracer.start_as_current_span("checkout authorize"):
        try:
            return (await vendors.call(call, scope)).value
        except VendorRejectedInput as exc:
            PAYMENT_FAILURES.add(1, {"reason": exc.code or "declined"})
            if exc.field != "paymentToken":  # the request refused (an amount out of range), not the card
                log.warning("payment for %s refused by the provider: %s", order_id, exc.code or "invalid_request")
                raise Stop(failed("INVALID_INPUT", "This order cannot be paid online as it is; please contact us "
                                                   "to complete it."), keep=False) from exc
            log.info("payment declined for %s: %s", order_id, exc.code or "declined")  # the shopper is told less
            _declined(exc)
        except VendorUnavailable as exc:
            PAYMENT_FAILURES.add(1, {"reason": exc.outcome})
            if not exc.outcome.sent:  # nothing reached the provider: nothing to learn, nothing to void
                raise Stop(unavailable("the payment provider is busy"), keep=False) from exc
            await _unknown(vendors, scope, call, order_id, exc)


def _declined(exc: VendorRejectedInput) -> NoReturn:
    """The card was refused (or the token is not one): a result to store and replay."""
    if exc.field == "paymentToken" and exc.code in {"resource_missing"}:
        raise Stop(failed("INVALID_INPUT", exc.public_message, ("paymentToken",)), keep=True) from exc
    raise Stop(failed("PAYMENT_DECLINED", exc.public_message, ("paymentToken",)), keep=True) from exc


async def _unknown(vendors: Vendors, scope: CallScope, call: VendorCall[PaymentAuthorization], order_id: str,
                   exc: VendorUnavailable) -> NoReturn:
    """The answer was lost: learn the outcome with the same key, and void anything authorized."""
    log.warning("payment outcome unknown for %s (%s); asking again with the same key", order_id, exc.outcome)
    recovered = await _recover(vendors, scope, call, order_id)
    if recovered is None:
        log.error("payment outcome for %s still unknown; if authorized, it lapses uncaptured", order_id)
        raise Stop(unclear("the payment provider did not answer"), keep=False, hold_key=True) from exc
    if isinstance(recovered, PaymentAuthorization):
        await void(vendors, scope, recovered, why="lost_answer")
    raise Stop(unavailable("the payment provider did not answer"), keep=False) from exc


def _still_running(exc: Exception) -> bool:
    """A 409: the first request with this key is still being processed at the provider."""
    cause = exc.__cause__ if isinstance(exc, VendorUnavailable) else None
    return isinstance(cause, VendorHTTPError) and cause.status == 409


async def _recover(vendors: Vendors, scope: CallScope, call: VendorCall[PaymentAuthorization],
                   order_id: str) -> PaymentAuthorization | bool | None:
    """Ask again with the same idempotency key: the provider replays the first outcome. An
    authorization to void, False if there was none (declined), None if it still cannot be told."""
    timeout_ms = vendors.policies[Vendor.PAYMENTS].config.timeout_ms
    await asyncio.sleep(RECOVER_FIRST_WAIT_S)

    async def ask() -> PaymentAuthorization:
        PAYMENT_REASKS.add(1)
        # Each ask gets the provider's whole timeout, whatever is left of the checkout's budget.
        return (await vendors.call(call, CallScope(Deadline.after_ms(timeout_ms), scope.log))).value

    try:
        return await retry(ask, on=_still_running, backoff=RECOVER_BACKOFF, attempts=RECOVER_ATTEMPTS)
    except VendorRejectedInput:
        return False
    except VendorUnavailable as exc:
        if _still_running(exc):
            log.warning("payment for %s still in progress at the provider after retries", order_id)
        return None


def _not_sent(exc: Exception) -> bool:
    return isinstance(exc, VendorUnavailable) and not exc.outcome.sent


async def void(vendors: Vendors, scope: CallScope, payment: PaymentAuthorization, *, why: str) -> None:
    """Cancel an authorization (no money moves); if that fails too, it lapses uncaptured. A void our own
    bulkhead or breaker would not send (a crowd voiding at once) is sent again, a little later: repeating
    it is safe (one key per intent), and leaving a shopper's funds held is not."""
    PAYMENT_VOIDS.add(1, {"why": why})
    call = vendors.payments.cancel(payment.intent_id, idempotency_key=f"void-{payment.intent_id}")
    try:
        await retry(lambda: vendors.call(call, CallScope(Deadline.after_ms(VOID_BUDGET_MS), scope.log)),
                    on=_not_sent, backoff=VOID_BACKOFF, attempts=VOID_ATTEMPTS)
    except (VendorUnavailable, VendorRejectedInput) as exc:
        log.error("could not void authorization %s (%s); it lapses uncaptured", payment.intent_id, exc)
