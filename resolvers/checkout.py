"""placeOrder: price server-side, reserve atomically, authorize, confirm at once.

    validate -> claim the idempotency key -> price (catalog, tax, insurance) -> reserve every line
    -> authorize the payment (manual capture) -> write order + stream entry + result in one step

The customer is answered as soon as the order is written; ERP, WMS, CRM and the insurer get it from
the order stream (`gateway.worker`). Idempotency follows Stripe: the same key and input replays the
stored result, other input is IDEMPOTENCY_KEY_REUSED, a key still running is IDEMPOTENCY_KEY_IN_USE.
Results are stored once execution has started (OUT_OF_STOCK, PAYMENT_DECLINED, the order); failures
that say nothing about the order (a vendor or Redis down, invalid input) free the key for a retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, NoReturn

from connectors.checkout import CheckoutStore, CheckoutUnavailable
from connectors.errors import (
    InputError,
    PublicError,
    VendorHTTPError,
    VendorRejected,
    VendorUnavailable,
)
from connectors.models import Address, Money, Order, OrderLine, OrderStatus, PaymentAuthorization, Source
from connectors.policy import CallScope, Deadline
from connectors.telemetry import (
    CHECKOUT_DURATION,
    CHECKOUT_REQUESTS,
    CONFIRMATION_DELAY,
    PAYMENT_FAILURES,
    current_traceparent,
    tracer,
)
from resolvers.cart import CartLineInput, resolve_lines
from resolvers.context import RequestContext
from resolvers.quotes import engraving_preview, financing, insurance_for_lines, tax_for_lines

log = logging.getLogger("bezel.checkout")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
MAX_KEY = 255
DOWNSTREAM = ("erp", "wms", "crm")


@dataclass(frozen=True)
class OrderLineInput:
    variant_id: str
    quantity: int
    engraving_text: str | None = None


@dataclass(frozen=True)
class PlaceOrderInput:
    idempotency_key: str
    lines: list[OrderLineInput]
    ship_to: Address  # not yet checked
    email: str
    payment_token: str
    insure: bool = True
    financing_provider: str | None = None


@dataclass(frozen=True)
class UserError:
    code: str  # OUT_OF_STOCK, PAYMENT_DECLINED, INVALID_INPUT, IDEMPOTENCY_KEY_*, CHECKOUT_UNAVAILABLE
    message: str
    field: tuple[str, ...] | None = None


@dataclass
class PlaceOrderResult:
    order: Order | None = None
    order_token: str | None = None
    user_errors: list[UserError] = field(default_factory=list)
    replayed: bool = False

    def to_record(self) -> dict[str, Any]:
        return {"order_id": self.order.id if self.order else None, "order_token": self.order_token,
                "user_errors": [{"code": e.code, "message": e.message, "field": list(e.field or [])}
                                for e in self.user_errors]}


def _failed(code: str, message: str, field: tuple[str, ...] | None = None) -> PlaceOrderResult:
    return PlaceOrderResult(user_errors=[UserError(code, message, field)])


class _Stop(Exception):
    """Ends execution early with a result.

    `keep`: store the result for replay. `hold_key`: leave the key claimed (in flight until
    in_flight_ttl_s) because the outcome is unclear and a fresh attempt could duplicate it."""

    def __init__(self, result: PlaceOrderResult, *, keep: bool, hold_key: bool = False) -> None:
        self.result = result
        self.keep = keep
        self.hold_key = hold_key


def _unavailable(reason: str) -> PlaceOrderResult:
    return _failed("CHECKOUT_UNAVAILABLE", f"Checkout is unavailable right now ({reason}). No payment has been "
                                           "taken; please try again in a moment.")


def _unclear(what: str) -> PlaceOrderResult:
    """Bezel cannot tell whether the order went through: the client must ask again with the same key."""
    return _failed("CHECKOUT_UNAVAILABLE", f"We could not confirm whether your order was placed ({what}). Send "
                                           "the same request again in a minute to get its result; no payment "
                                           "is taken unless the order is confirmed.")


async def place_order(ctx: RequestContext, raw: PlaceOrderInput) -> PlaceOrderResult:
    started = time.perf_counter()
    with tracer.start_as_current_span("checkout placeOrder") as span:
        result = await _place_order(ctx, raw)
        if result.replayed:
            outcome = "replayed"
        elif result.order is not None:
            outcome = "confirmed"
            CONFIRMATION_DELAY.record(time.perf_counter() - started)
        else:
            outcome = result.user_errors[0].code if result.user_errors else "unknown"
        span.set_attribute("bezel.checkout.outcome", outcome)
        if result.order is not None:
            span.set_attribute("bezel.order.id", result.order.id)
    CHECKOUT_DURATION.record(time.perf_counter() - started, {"outcome": outcome})
    CHECKOUT_REQUESTS.add(1, {"outcome": outcome})
    return result


async def _place_order(ctx: RequestContext, raw: PlaceOrderInput) -> PlaceOrderResult:
    problems = _validate(raw)
    if problems:
        return PlaceOrderResult(user_errors=problems)
    store = ctx.services.store
    if store is None:
        return _unavailable("no order store is configured: set REDIS_URL")
    settings = ctx.services.checkout
    key_digest = hashlib.sha256(raw.idempotency_key.encode()).hexdigest()
    fingerprint = _fingerprint(raw)
    attempt = secrets.token_hex(8)  # this execution; a retry after a failure never reuses its payment key
    try:
        claim = await store.begin(key_digest, fingerprint, attempt=attempt,
                                  in_flight_ttl_s=settings.in_flight_ttl_s)
    except CheckoutUnavailable as exc:
        log.warning("checkout refused: %s", exc)
        return _unavailable("the order store is not answering")
    if claim.state != "new":
        if claim.fingerprint != fingerprint:
            return _failed("IDEMPOTENCY_KEY_REUSED", "This idempotency key was used for a different order. Use a "
                                                     "new key for a new order.", ("idempotencyKey",))
        if claim.state == "in_flight":
            return _failed("IDEMPOTENCY_KEY_IN_USE", "An order with this idempotency key is still being placed. "
                                                     "Wait for it, then retry to get its result.", ("idempotencyKey",))
        return await _replay(store, claim.result or {})
    # A shopper closing the tab must not cut a checkout in half (a payment authorized, no order):
    # the execution runs to its end regardless, and its result is there for a retry with the same key.
    execution = asyncio.ensure_future(_run(ctx, store, raw, key_digest, fingerprint, attempt))
    return await asyncio.shield(execution)


async def _run(ctx: RequestContext, store: CheckoutStore, raw: PlaceOrderInput, key_digest: str, fingerprint: str,
               attempt: str) -> PlaceOrderResult:
    try:
        return await _execute(ctx, store, raw, key_digest, fingerprint, attempt)
    except _Stop as stop:
        await _settle_key(store, key_digest, fingerprint, attempt, stop,
                          ttl_s=ctx.services.checkout.idempotency_ttl_s)
        return stop.result
    except Exception:
        log.exception("checkout failed unexpectedly")
        with contextlib.suppress(CheckoutUnavailable):  # otherwise it frees itself after in_flight_ttl_s
            await store.abandon(key_digest, attempt)
        raise


async def _settle_key(store: CheckoutStore, key_digest: str, fingerprint: str, attempt: str, stop: _Stop, *,
                      ttl_s: float) -> None:
    try:
        if stop.keep:
            await store.finish(key_digest, fingerprint, stop.result.to_record(), ttl_s=ttl_s)
        elif not stop.hold_key:
            await store.abandon(key_digest, attempt)
    except CheckoutUnavailable:
        log.warning("could not settle idempotency key; it frees itself after in_flight_ttl_s")


async def _replay(store: CheckoutStore, record: dict[str, Any]) -> PlaceOrderResult:
    errors = [UserError(e["code"], e["message"], tuple(e["field"]) or None) for e in record.get("user_errors", [])]
    order = None
    if record.get("order_id"):
        try:
            found = await store.order(record["order_id"])
        except CheckoutUnavailable:
            return _unavailable("the order store is not answering")
        order = found[0] if found else None
    return PlaceOrderResult(order=order, order_token=record.get("order_token"), user_errors=errors, replayed=True)


# ---------------------------------------------------------------- the steps


async def _execute(ctx: RequestContext, store: CheckoutStore, raw: PlaceOrderInput, key_digest: str,
                   fingerprint: str, attempt: str) -> PlaceOrderResult:
    settings = ctx.services.checkout
    # Checkout has its own budget (a payment may take seconds); its calls still land in this request's log.
    scope = CallScope(deadline=Deadline.after_ms(settings.budget_ms), log=ctx.scope.log)
    checkout_ctx = RequestContext(services=ctx.services, scope=scope)
    ship_to, lines = await _price_lines(checkout_ctx, raw)
    tax, insurance = await _tax_and_insurance(checkout_ctx, raw, ship_to, lines)
    subtotal = sum((line.total for line in lines), Money.zero(ctx.services.currency))
    total = subtotal + tax.amount_to_collect + (insurance.premium if insurance else Money.zero(subtotal.currency))
    await _check_financing(checkout_ctx, raw, total)

    order_id = f"ord_{secrets.token_hex(10)}"
    reservation_id = f"res_{attempt}{key_digest[:8]}"
    await _reserve(checkout_ctx, store, reservation_id, lines, raw)
    try:
        payment = await _authorize(checkout_ctx, raw, total, order_id, f"bezel-{key_digest[:32]}-{attempt}")
    except _Stop:
        await _release(store, reservation_id)
        raise

    token = secrets.token_urlsafe(24)
    order = Order(
        id=order_id, status=OrderStatus.CONFIRMED, created_at=time.time(), email=raw.email.strip(), ship_to=ship_to,
        lines=tuple(lines), subtotal=subtotal, tax=tax.amount_to_collect,
        insurance=insurance.premium if insurance else None, total=total, payment=payment,
        reservation_id=reservation_id, downstream_systems=DOWNSTREAM + (("insurance",) if insurance else ()),
        insurance_quote_token=insurance.token if insurance else None, financing_provider=raw.financing_provider,
    )
    result = PlaceOrderResult(order=order, order_token=token)
    confirmed = await _confirm(checkout_ctx, store, order, token, key_digest, fingerprint, result)
    if confirmed is None:  # Redis never said: the order may or may not be written; touch nothing
        log.error("order %s: confirmation unclear; payment %s left authorized, key %s held until in_flight_ttl_s",
                  order_id, payment.intent_id, key_digest[:12])
        raise _Stop(_unclear("the order store did not answer"), keep=False, hold_key=True)
    if not confirmed:
        log.error("order %s: reservation %s expired before confirmation; voiding", order_id, reservation_id)
        await _release(store, reservation_id)
        await _void(checkout_ctx, payment)
        raise _Stop(_unavailable("the reservation expired"), keep=False)
    return result


async def _confirm(ctx: RequestContext, store: CheckoutStore, order: Order, token: str, key_digest: str,
                   fingerprint: str, result: PlaceOrderResult) -> bool | None:
    """Write the order. Confirming is idempotent, so an unclear answer (a timeout after Redis may have
    run it) is settled by asking again; None if Redis never gives a clear answer within the budget."""
    settings = ctx.services.checkout
    record = store.done_record(fingerprint, result.to_record())
    with tracer.start_as_current_span("checkout confirm", attributes={"bezel.order.id": order.id}) as span:
        # The order-stream entry carries this span's context: each downstream sync continues this trace.
        traceparent = current_traceparent()
        for pause in (0.0, 0.1, 0.3, 0.9):
            if pause and ctx.scope.deadline.remaining_s() < pause + store.timeout_s:
                break
            await asyncio.sleep(pause)
            try:
                return await store.confirm(
                    order, token_hash=hashlib.sha256(token.encode()).hexdigest(), key_digest=key_digest,
                    idempotency_record=record, idempotency_ttl_s=settings.idempotency_ttl_s,
                    retention_s=settings.retention_days * 86_400, traceparent=traceparent,
                )
            except CheckoutUnavailable as exc:
                span.add_event("unclear", {"bezel.reason": str(exc)[:200]})
                log.warning("order %s: confirmation unclear (%s); asking again", order.id, exc)
        return None


async def _price_lines(ctx: RequestContext, raw: PlaceOrderInput) -> tuple[Address, list[OrderLine]]:
    """Prices from the catalog, never from the client; engraving text checked with the vendor."""
    from resolvers.validation import address

    try:
        ship_to = address(raw.ship_to, "shipTo")
        cart = await resolve_lines(ctx, [CartLineInput(line.variant_id, line.quantity) for line in raw.lines], "")
    except InputError as exc:
        raise _Stop(_failed("INVALID_INPUT", exc.message, _path(exc.field)), keep=False) from exc
    except VendorUnavailable as exc:
        raise _Stop(_unavailable("the catalog is not answering"), keep=False) from exc
    engraving = {line.variant_id.rsplit("/", 1)[-1]: (i, line.engraving_text) for i, line in enumerate(raw.lines)
                 if line.engraving_text}
    # Already loaded by resolve_lines: the loader answers from this request's own cache.
    products = await ctx.loaders.product_by_id.load_many([line.variant.product_id for line in cart])
    out = []
    for line, sourced in zip(cart, products, strict=True):
        product = sourced.value
        text = None
        if line.variant.id in engraving:
            index, text = engraving[line.variant.id]
            try:
                await engraving_preview(ctx, product, line.variant, text=text, font="serif", placement="inside_band")
            except InputError as exc:
                raise _Stop(_failed("INVALID_INPUT", exc.message, ("lines", str(index), "engravingText")),
                            keep=False) from exc
            except VendorUnavailable as exc:
                raise _Stop(_unavailable("engraving could not be checked"), keep=False) from exc
        v = line.variant
        out.append(OrderLine(variant_id=v.id, product_id=v.product_id, sku=v.sku, title=f"{product.title} ({v.title})",
                             quantity=line.quantity, unit_price=v.price, engraving_text=text))
    return ship_to, out


async def _tax_and_insurance(ctx: RequestContext, raw: PlaceOrderInput, ship_to: Address,
                             lines: list[OrderLine]) -> tuple[Any, Any]:
    from connectors.models import Variant

    priced = [(Variant(line.variant_id, line.product_id, line.sku, line.title, line.unit_price, ()), line.quantity)
              for line in lines]
    jobs = [tax_for_lines(ctx, ship_to, priced)]
    if raw.insure:
        jobs.append(insurance_for_lines(ctx, ship_to, priced))
    results = await asyncio.gather(*jobs, return_exceptions=True)
    for result in results:
        if isinstance(result, InputError):
            raise _Stop(_failed("INVALID_INPUT", result.message, _path(result.field)), keep=False)
        if isinstance(result, VendorUnavailable):
            raise _Stop(_unavailable(f"{result.vendor} is not answering"), keep=False)
        if isinstance(result, BaseException):
            raise result
    tax = results[0].value  # type: ignore[union-attr]
    insurance = results[1].value if raw.insure else None  # type: ignore[union-attr]
    return tax, insurance


async def _check_financing(ctx: RequestContext, raw: PlaceOrderInput, total: Money) -> None:
    provider = raw.financing_provider
    if provider is None:
        return
    if provider not in ctx.services.vendors.bnpl_providers:
        raise _Stop(_failed("INVALID_INPUT", f"Financing provider must be one of "
                                             f"{', '.join(ctx.services.vendors.bnpl_providers)}.",
                            ("financingProvider",)), keep=False)
    try:
        offers = (await financing(ctx, total)).value
    except PublicError as exc:
        raise _Stop(_unavailable("financing could not be checked"), keep=False) from exc
    if not any(o.provider == provider for o in offers.offers):
        raise _Stop(_failed("INVALID_INPUT", f"{provider} does not finance an order of {total.amount} "
                                             f"{total.currency}.", ("financingProvider",)), keep=False)


async def _reserve(ctx: RequestContext, store: CheckoutStore, reservation_id: str, lines: list[OrderLine],
                   raw: PlaceOrderInput) -> None:
    wanted = [(line.sku, line.quantity) for line in lines]
    ttl = ctx.services.checkout.reservation_ttl_s
    with tracer.start_as_current_span("checkout reserve", attributes={"bezel.lines": len(lines)}) as span:
        try:
            held = await store.reserve(reservation_id, wanted, ttl_s=ttl)
            if held.missing:  # never seeded (the reconciler has not run yet): seed from the vendor, then retry
                span.add_event("seed", {"bezel.skus": list(held.missing)})
                await _seed(ctx, store, list(held.missing))
                held = await store.reserve(reservation_id, wanted, ttl_s=ttl)
        except CheckoutUnavailable as exc:
            raise _Stop(_unavailable("stock could not be reserved"), keep=False) from exc
        span.set_attribute("bezel.reserved", held.ok)
    if held.missing:
        raise _Stop(_unavailable("stock levels are unknown"), keep=False)
    if held.ok:
        return
    errors = []
    for index, line in enumerate(lines):
        if line.sku in held.short:
            left = held.short[line.sku]
            message = (f"{line.title} is sold out." if left <= 0
                       else f"Only {left} of {line.title} left; {line.quantity} requested.")
            errors.append(UserError("OUT_OF_STOCK", message, ("lines", str(index), "quantity")))
    raise _Stop(PlaceOrderResult(user_errors=errors), keep=True)


async def _seed(ctx: RequestContext, store: CheckoutStore, skus: list[str]) -> None:
    """First checkout of a SKU the reconciler has not seeded yet: its counter starts from the ERP's
    available-to-promise (the reconciler's source), or, if the ERP is down, the inventory vendor's
    current level (a down ERP must not block a sale), never from a stale answer."""
    vendors = ctx.services.vendors
    marks = await store.commit_marks(skus)
    try:
        records = (await ctx.call(vendors.erp.available_to_promise(skus))).value
        levels = {sku: r.available for sku, r in records.items()}
    except VendorUnavailable:
        try:
            stock = await ctx.call(vendors.inventory.levels(skus))
        except VendorUnavailable as exc:
            raise _Stop(_unavailable("stock levels could not be read"), keep=False) from exc
        if stock.freshness.source is Source.STALE:
            raise _Stop(_unavailable("stock levels could not be confirmed"), keep=False) from None
        levels = {sku: level.available for sku, level in stock.value.items()}
    await store.reconcile(levels, marks)


async def _authorize(ctx: RequestContext, raw: PlaceOrderInput, total: Money, order_id: str,
                     payment_key: str) -> PaymentAuthorization:
    """Authorize once. If the answer is lost, ask again with the same key to learn the outcome (the
    provider replays it, so nothing is charged twice) and void anything that was authorized."""
    api = ctx.services.vendors.payments
    call = api.authorize(total, token=raw.payment_token, idempotency_key=payment_key, order_id=order_id,
                         email=raw.email.strip())
    with tracer.start_as_current_span("checkout authorize"):
        try:
            return (await ctx.call(call)).value
        except VendorRejected as exc:
            PAYMENT_FAILURES.add(1, {"reason": exc.code or "declined"})
            _declined(exc)
        except VendorUnavailable as exc:
            PAYMENT_FAILURES.add(1, {"reason": exc.outcome})
            await _unknown_payment(ctx, call, order_id, exc)


def _declined(exc: VendorRejected) -> NoReturn:
    """The card was refused (or the token is not one): a result to store and replay."""
    if exc.field == "paymentToken" and exc.code in {"resource_missing"}:
        raise _Stop(_failed("INVALID_INPUT", exc.public_message, ("paymentToken",)), keep=True) from exc
    raise _Stop(_failed("PAYMENT_DECLINED", exc.public_message, ("paymentToken",)), keep=True) from exc


async def _unknown_payment(ctx: RequestContext, call: Any, order_id: str, exc: VendorUnavailable) -> NoReturn:
    """The answer was lost: learn the outcome with the same key, and void anything authorized."""
    log.warning("payment outcome unknown for %s (%s); asking again with the same key", order_id, exc.outcome)
    recovered = await _recover(ctx, call, order_id)
    if recovered is None:
        log.error("payment outcome for %s still unknown; if authorized, it lapses uncaptured", order_id)
        raise _Stop(_unclear("the payment provider did not answer"), keep=False, hold_key=True) from exc
    if isinstance(recovered, PaymentAuthorization):
        await _void(ctx, recovered)
    raise _Stop(_unavailable("the payment provider did not answer"), keep=False) from exc


async def _recover(ctx: RequestContext, call: Any, order_id: str) -> PaymentAuthorization | bool | None:
    """Ask again with the same idempotency key: the provider replays the first outcome. An
    authorization to void, False if there was none (declined), None if it still cannot be told."""
    policy = ctx.services.vendors.policies["payments"]
    for pause in (0.2, 0.5, 1.0):  # a 409 means the first request is still running at the provider
        await asyncio.sleep(pause)
        try:
            scope = CallScope(Deadline.after_ms(policy.config.timeout_ms), ctx.scope.log)
            return (await policy.run(call, scope)).value
        except VendorRejected:
            return False
        except VendorUnavailable as exc:
            cause = exc.__cause__
            if not (isinstance(cause, VendorHTTPError) and cause.status == 409):
                return None
    log.warning("payment for %s still in progress at the provider after retries", order_id)
    return None


async def _void(ctx: RequestContext, payment: PaymentAuthorization) -> None:
    api = ctx.services.vendors.payments
    try:
        await ctx.call(api.cancel(payment.intent_id, idempotency_key=f"void-{payment.intent_id}"))
    except (VendorUnavailable, VendorRejected) as exc:
        log.error("could not void authorization %s (%s); it lapses uncaptured", payment.intent_id, exc)


async def _release(store: CheckoutStore, reservation_id: str) -> None:
    try:
        await store.release(reservation_id)
    except CheckoutUnavailable:
        log.warning("could not release %s now; it returns by itself when it expires", reservation_id)


# ---------------------------------------------------------------- input


def _validate(raw: PlaceOrderInput) -> list[UserError]:
    problems = []
    key = raw.idempotency_key
    if not 1 <= len(key) <= MAX_KEY or not key.isprintable():
        problems.append(UserError("INVALID_INPUT", f"The idempotency key must be 1 to {MAX_KEY} printable "
                                                   "characters.", ("idempotencyKey",)))
    if len(raw.email) > 254 or not EMAIL.match(raw.email.strip()):
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
        if line.engraving_text is not None and len(line.engraving_text) > 64:
            problems.append(UserError("INVALID_INPUT", "Engraving text is limited to 64 characters.",
                                      ("lines", str(i), "engravingText")))
    return problems


def _path(field: str | None) -> tuple[str, ...] | None:
    """"lines[1].variantId" -> ("lines", "1", "variantId")."""
    if not field:
        return None
    return tuple(p for p in re.split(r"[.\[\]]+", field) if p)


def _fingerprint(raw: PlaceOrderInput) -> str:
    a = raw.ship_to
    doc = {
        "lines": [[line.variant_id, line.quantity, line.engraving_text] for line in raw.lines],
        "ship_to": [a.country_code, a.zip, a.province_code, a.city, a.line1, a.line2],
        "email": raw.email.strip().lower(),
        "token": raw.payment_token,
        "insure": raw.insure,
        "financing": raw.financing_provider,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()
