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
from typing import Any

from connectors.checkout import CheckoutStore, CheckoutUnavailable
from connectors.errors import InputError, PublicError, VendorError, VendorRejected, VendorUnavailable
from connectors.models import Address, Money, Order, OrderLine, OrderStatus, PaymentAuthorization
from connectors.policy import CallScope, Deadline
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
    """Ends execution early with a result; `keep` says whether the result is stored for replay."""

    def __init__(self, result: PlaceOrderResult, *, keep: bool) -> None:
        self.result = result
        self.keep = keep


def _unavailable(reason: str) -> PlaceOrderResult:
    return _failed("CHECKOUT_UNAVAILABLE", f"Checkout is unavailable right now ({reason}). You have not been "
                                           "charged; please try again in a moment.")


async def place_order(ctx: RequestContext, raw: PlaceOrderInput) -> PlaceOrderResult:
    problems = _validate(raw)
    if problems:
        return PlaceOrderResult(user_errors=problems)
    store = ctx.services.store
    if store is None:
        return _unavailable("no order store is configured: set REDIS_URL")
    settings = ctx.services.checkout
    key_digest = hashlib.sha256(raw.idempotency_key.encode()).hexdigest()
    fingerprint = _fingerprint(raw)
    try:
        claim = await store.begin(key_digest, fingerprint, in_flight_ttl_s=settings.in_flight_ttl_s)
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
    try:
        return await _execute(ctx, store, raw, key_digest, fingerprint)
    except _Stop as stop:
        await _settle_key(store, key_digest, fingerprint, stop, ttl_s=settings.idempotency_ttl_s)
        return stop.result
    except BaseException:
        await _forget(store, key_digest)
        raise


async def _settle_key(store: CheckoutStore, key_digest: str, fingerprint: str, stop: _Stop, *, ttl_s: float) -> None:
    try:
        if stop.keep:
            await store.finish(key_digest, fingerprint, stop.result.to_record(), ttl_s=ttl_s)
        else:
            await store.abandon(key_digest)
    except CheckoutUnavailable:
        log.warning("could not settle idempotency key; it frees itself after in_flight_ttl_s")


async def _forget(store: CheckoutStore, key_digest: str) -> None:
    with contextlib.suppress(CheckoutUnavailable):  # it frees itself after in_flight_ttl_s
        await store.abandon(key_digest)


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
                   fingerprint: str) -> PlaceOrderResult:
    settings = ctx.services.checkout
    # Checkout has its own budget (a payment may take seconds); its calls still land in this request's log.
    scope = CallScope(deadline=Deadline.after_ms(settings.budget_ms), log=ctx.scope.log)
    checkout_ctx = RequestContext(services=ctx.services, scope=scope)
    ship_to, lines = await _price_lines(checkout_ctx, raw)
    tax, insurance = await _tax_and_insurance(checkout_ctx, raw, ship_to, lines)
    subtotal = sum((line.total for line in lines), Money.zero(ctx.services.currency))
    total = subtotal + tax.amount_to_collect + (insurance.premium if insurance else Money.zero(subtotal.currency))
    await _check_financing(checkout_ctx, raw, total)

    attempt = secrets.token_hex(8)  # per execution: a retry after a failure never reuses a payment key
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
    try:
        confirmed = await store.confirm(
            order, token_hash=hashlib.sha256(token.encode()).hexdigest(), key_digest=key_digest,
            idempotency_record=store.done_record(fingerprint, result.to_record()),
            idempotency_ttl_s=settings.idempotency_ttl_s, retention_s=settings.retention_days * 86_400,
            traceparent=ctx.traceparent or "",
        )
    except CheckoutUnavailable as exc:
        log.error("order %s authorized but not written (%s): voiding the payment", order_id, exc)
        await _void(checkout_ctx, payment)
        raise _Stop(_unavailable("the order could not be saved"), keep=False) from exc
    if not confirmed:
        log.error("order %s: reservation %s expired before confirmation; voiding", order_id, reservation_id)
        await _void(checkout_ctx, payment)
        raise _Stop(_unavailable("the reservation expired"), keep=False)
    return result


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
    try:
        held = await store.reserve(reservation_id, wanted, ttl_s=ttl)
        if held.missing:  # never seeded (the reconciler has not run yet): seed from the vendor, then retry
            await _seed(ctx, store, list(held.missing))
            held = await store.reserve(reservation_id, wanted, ttl_s=ttl)
    except CheckoutUnavailable as exc:
        raise _Stop(_unavailable("stock could not be reserved"), keep=False) from exc
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
    vendors = ctx.services.vendors
    try:
        levels = await ctx.call(vendors.inventory.levels(skus))
    except VendorError as exc:
        raise _Stop(_unavailable("stock levels could not be read"), keep=False) from exc
    await store.reconcile({sku: level.available for sku, level in levels.value.items()})


async def _authorize(ctx: RequestContext, raw: PlaceOrderInput, total: Money, order_id: str,
                     payment_key: str) -> PaymentAuthorization:
    """Authorize once. If the answer is lost, ask again with the same key to learn the outcome (the
    provider replays it, so nothing is charged twice) and void anything that was authorized."""
    api = ctx.services.vendors.payments
    call = api.authorize(total, token=raw.payment_token, idempotency_key=payment_key, order_id=order_id,
                         email=raw.email.strip())
    try:
        return (await ctx.call(call)).value
    except VendorRejected as exc:
        if exc.field == "paymentToken" and exc.code in {"resource_missing"}:
            raise _Stop(_failed("INVALID_INPUT", exc.public_message, ("paymentToken",)), keep=True) from exc
        raise _Stop(_failed("PAYMENT_DECLINED", exc.public_message, ("paymentToken",)), keep=True) from exc
    except VendorUnavailable as exc:
        log.warning("payment outcome unknown for %s (%s); asking again with the same key", order_id, exc.outcome)
        recovery = CallScope(deadline=Deadline.after_ms(ctx.services.vendors.policies["payments"].config.timeout_ms),
                             log=ctx.scope.log)
        try:
            recovered = await ctx.services.vendors.policies["payments"].run(call, recovery)
        except (VendorUnavailable, VendorRejected):
            log.error("payment outcome for %s still unknown; a manual-capture authorization, if any, lapses "
                      "uncaptured", order_id)
        else:
            await _void(ctx, recovered.value)
        raise _Stop(_unavailable("the payment provider did not answer"), keep=False) from exc


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
    for i, line in enumerate(raw.lines):
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
