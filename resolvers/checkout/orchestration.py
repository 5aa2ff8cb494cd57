"""placeOrder, step by step: the order of the steps is the design.

    validate -> claim the idempotency key -> one checkout per client at a time -> declines budget
    -> price (catalog, tax, insurance) -> check stock (OUT_OF_STOCK now if short)
    -> reserve every line, then authorize (manual capture)      plentiful stock
       or authorize, then reserve (voided if the hold is lost)  scarce stock (below safety stock)
    -> write order + stream entry + result in one step

The customer is answered as soon as the order is written; ERP, WMS, CRM and the insurer get it from
the order stream (`gateway.worker`, with `resolvers.order_sync`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import secrets
import time
from collections.abc import Awaitable

from connectors.checkout import CheckoutStore, done_record
from connectors.errors import CheckoutUnavailable
from connectors.events import Invalidation
from connectors.models import DownstreamSystem, Order, OrderStatus, PaymentAuthorization, Vendor
from connectors.policy import CallScope, Deadline
from connectors.retry import Backoff, retry
from connectors.telemetry import Counter, current_traceparent, meter, series_of, tracer
from resolvers.checkout import guard, idempotency, payment, pricing, stock
from resolvers.checkout.inputs import PlaceOrderRequest, email_of, fingerprint, validate
from resolvers.checkout.outcome import PlaceOrderResult, Stop, unavailable, unclear
from resolvers.context import RequestContext

log = logging.getLogger("bezel.checkout")
CHECKOUT_DURATION = meter.create_histogram(
    "bezel.checkout.duration", unit="s", description="placeOrder latency by outcome.",
    explicit_bucket_boundaries_advisory=[0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0],
)
# What a placeOrder ends as: confirmed, replayed, or its user error's code (the GraphQL CheckoutErrorCode's
# values; tests/resolvers/checkout/test_orchestration.py keeps the two lists together).
OUTCOMES = ("confirmed", "replayed", "OUT_OF_STOCK", "PAYMENT_DECLINED", "INVALID_INPUT", "IDEMPOTENCY_KEY_REUSED",
            "IDEMPOTENCY_KEY_IN_USE", "CHECKOUT_UNAVAILABLE", "RATE_LIMITED", "ORDER_TOO_LARGE")
CHECKOUT_REQUESTS = Counter(
    "bezel.checkout.requests",
    description="placeOrder results: confirmed, replayed, or the user error code (OUT_OF_STOCK, ...).",
    series=series_of(outcome=OUTCOMES))
CONFIRMATION_DELAY = meter.create_histogram(
    "bezel.order.confirmation.delay", unit="s",
    description="From placeOrder arriving to the order being durably confirmed (what the shopper waits for).",
    explicit_bucket_boundaries_advisory=[0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0],
)
# Confirming is idempotent, so an unclear answer is settled by asking again: after 0.1, 0.3, 0.9 s.
CONFIRM_ATTEMPTS = 4
CONFIRM_BACKOFF = Backoff(initial_s=0.1, max_s=0.9, exp_base=3)


async def place_order(ctx: RequestContext, raw: PlaceOrderRequest) -> PlaceOrderResult:
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


async def _place_order(ctx: RequestContext, raw: PlaceOrderRequest) -> PlaceOrderResult:
    problems = validate(raw)
    if problems:
        return PlaceOrderResult(user_errors=problems)
    store = ctx.services.store
    if store is None:
        return unavailable("no order store is configured: set REDIS_URL")
    key_digest = idempotency.key_digest(raw.idempotency_key, client=ctx.client, email=email_of(raw))
    fp = fingerprint(raw)
    attempt = secrets.token_hex(8)  # this execution; a retry after a failure never reuses its payment key
    try:
        claim = await store.idempotency.begin(key_digest, fp, attempt=attempt,
                                              in_flight_ttl_s=ctx.services.checkout.in_flight_ttl_s)
    except CheckoutUnavailable as exc:
        log.warning("checkout refused: %s", exc)
        return unavailable("the order store is not answering")
    if claim.state != "new":
        return await idempotency.replay_or_refuse(store, claim, fp, raw.idempotency_key)
    # A shopper closing the tab must not cut a checkout in half (a payment authorized, no order):
    # the execution runs to its end regardless, and its result is there for a retry with the same key.
    execution = asyncio.ensure_future(_run(ctx, store, raw, key_digest, fp, attempt))
    return await asyncio.shield(execution)


async def _run(ctx: RequestContext, store: CheckoutStore, raw: PlaceOrderRequest, key_digest: str, fp: str,
               attempt: str) -> PlaceOrderResult:
    settings = ctx.services.checkout
    try:
        async with guard.one_at_a_time(store, ctx.client, limit=settings.max_in_flight_per_client,
                                       ttl_s=2 * settings.budget_ms / 1000):
            return await _execute(ctx, store, raw, key_digest, fp, attempt)
    except Stop as stop:  # no order came of it: its answer is kept minutes, not days
        await idempotency.settle(store, raw.idempotency_key, key_digest, fp, attempt, stop,
                                 ttl_s=settings.failure_result_ttl_s)
        return stop.result
    except Exception:
        log.exception("checkout failed unexpectedly")
        with contextlib.suppress(CheckoutUnavailable):  # otherwise it frees itself after in_flight_ttl_s
            await store.idempotency.abandon(key_digest, attempt)
        raise


async def _execute(ctx: RequestContext, store: CheckoutStore, raw: PlaceOrderRequest, key_digest: str,
                   fp: str, attempt: str) -> PlaceOrderResult:
    settings = ctx.services.checkout
    vendors = ctx.services.vendors
    email = email_of(raw)
    who = {"client": ctx.client, "payment_token": raw.payment_token}
    await guard.refuse_if_over_declines(ctx.services.limits, **who)
    # Checkout has its own budget (a payment may take seconds); its calls still land in this request's log.
    scope = CallScope(deadline=Deadline.after_ms(settings.budget_ms), log=ctx.scope.log,
                      max_age_s={Vendor.CATALOG: pricing.price_age_limit_s(ctx)})
    priced = await pricing.price(RequestContext(services=ctx.services, scope=scope, client=ctx.client), raw)
    pricing.refuse_if_over_ceiling(priced, settings.max_order_total)
    scarce = await stock.precheck(vendors, scope, store, priced.lines, safety_stock=ctx.services.safety_stock,
                                  offers=ctx.services.offers)

    order_id = f"ord_{secrets.token_hex(10)}"
    reservation_id = f"res_{attempt}{key_digest[:8]}"

    async def authorize() -> PaymentAuthorization:
        try:
            return await payment.authorize(vendors, scope, total=priced.total, token=raw.payment_token, email=email,
                                           order_id=order_id, payment_key=f"bezel-{key_digest[:32]}-{attempt}")
        except Stop as stop:
            if any(e.code == "PAYMENT_DECLINED" for e in stop.result.user_errors):
                await guard.count_decline(ctx.services.limits, **who)
            raise

    reserve = functools.partial(stock.reserve, vendors, scope, store, reservation_id, priced.lines,
                                ttl_s=settings.reservation_ttl_s, offers=ctx.services.offers)
    if scarce:  # the last units: pay first, then hold, so a declined card never keeps a piece from a buyer
        authorized = await authorize()
        try:
            await reserve()
        except Stop:
            await payment.void(vendors, scope, authorized, why="hold_lost")
            raise
    else:
        await reserve()
        try:
            authorized = await authorize()
        except Stop:
            await stock.release(store, reservation_id, unpaid=True)
            raise

    insurance = priced.insurance
    systems = tuple(s for s in DownstreamSystem if s is not DownstreamSystem.INSURANCE or insurance is not None)
    order = Order(
        id=order_id, status=OrderStatus.CONFIRMED, created_at=time.time(), email=email,
        ship_to=priced.ship_to, lines=tuple(priced.lines), subtotal=priced.subtotal,
        tax=priced.tax.amount_to_collect, insurance=insurance.premium if insurance else None, total=priced.total,
        payment=authorized, reservation_id=reservation_id, downstream_systems=systems,
        insurance_quote_token=insurance.token if insurance else None, financing_provider=raw.financing_provider,
    )
    token = secrets.token_urlsafe(24)
    result = PlaceOrderResult(order=order, order_token=token)
    confirmed = await _confirm(store, scope, order, token, key_digest,
                               done_record(fp, result.to_record(raw.idempotency_key)), ctx)
    if confirmed is None:  # Redis never said: the order may or may not be written; touch nothing
        log.error("order %s: confirmation unclear; payment %s left authorized, key %s held until in_flight_ttl_s",
                  order_id, authorized.intent_id, key_digest[:12])
        raise Stop(unclear("the order store did not answer"), keep=False, hold_key=True)
    if not confirmed:
        log.error("order %s: reservation %s expired before confirmation; voiding", order_id, reservation_id)
        await stock.release(store, reservation_id)
        await payment.void(vendors, scope, authorized, why="reservation_expired")
        raise Stop(unavailable("the reservation expired"), keep=False)
    await _tell_live_pages(ctx, order)
    return result


async def _tell_live_pages(ctx: RequestContext, order: Order) -> None:
    """Pages open on what was sold learn it now, on every process (`resolvers.live`). Redis down: the
    message is skipped (`SharedRedis.call`), a page's loss alone (its next read shows the counter)."""
    skus = tuple(dict.fromkeys(line.sku for line in order.lines))
    await ctx.services.bus.publish(Invalidation(source="checkout", origin_at=time.time(), skus=skus))


async def _confirm(store: CheckoutStore, scope: CallScope, order: Order, token: str, key_digest: str,
                   record: str, ctx: RequestContext) -> bool | None:
    """Write the order. Confirming is idempotent, so an unclear answer (a timeout after Redis may have
    run it) is settled by asking again; None if Redis never gives a clear answer within the budget."""
    settings = ctx.services.checkout
    retention_s = settings.retention_days * 86_400  # personal data goes then, the replayable result no later
    with tracer.start_as_current_span("checkout confirm", attributes={"bezel.order.id": order.id}) as span:
        # The order-stream entry carries this span's context: each downstream sync continues this trace.
        traceparent = current_traceparent()
        failures = 0

        def ask_again(exc: Exception) -> bool:
            nonlocal failures
            failures += 1
            if not isinstance(exc, CheckoutUnavailable):
                return False
            span.add_event("unclear", {"bezel.reason": str(exc)[:200]})
            log.warning("order %s: confirmation unclear (%s); asking again", order.id, exc)
            return scope.deadline.remaining_s() >= CONFIRM_BACKOFF.pause_s(failures) + store.timeout_s

        def confirm() -> Awaitable[bool]:
            return store.orders.confirm(
                order, token_hash=hashlib.sha256(token.encode()).hexdigest(), key_digest=key_digest,
                idempotency_record=record, idempotency_ttl_s=min(settings.idempotency_ttl_s, retention_s),
                retention_s=retention_s, traceparent=traceparent,
            )

        try:
            return await retry(confirm, on=ask_again, backoff=CONFIRM_BACKOFF, attempts=CONFIRM_ATTEMPTS)
        except CheckoutUnavailable:
            return None
