"""placeOrder's idempotency: keys scoped to their buyer, replay or refusal of a claimed key, and settling a key
after an early stop (kept, freed or held)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from connectors.checkout import CheckoutStore, Claim, done_record
from connectors.config import CheckoutConfig, RedisConfig
from resolvers.checkout.idempotency import key_digest, replay_or_refuse, settle
from resolvers.checkout.outcome import PlaceOrderResult, Stop, failed, unavailable
from tests.connectors.checkout.conftest import order


def test_a_key_is_its_buyers_own() -> None:
    mine = key_digest("k-1", client="1.2.3.4", email="Ada@Example.com")
    assert mine == key_digest("k-1", client="1.2.3.4", email="ada@example.com")  # email case does not matter
    assert mine != key_digest("k-1", client="5.6.7.8", email="ada@example.com")
    assert mine != key_digest("k-1", client="1.2.3.4", email="bob@example.com")
    assert mine != key_digest("k-2", client="1.2.3.4", email="ada@example.com")
    assert "k-1" not in mine
    assert len(mine) == 64


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[CheckoutStore]:
    s = CheckoutStore(redis_url, CheckoutConfig(), RedisConfig())
    yield s
    await s.aclose()


def codes(result: PlaceOrderResult) -> list[str]:
    return [e.code for e in result.user_errors]


async def test_other_input_or_a_running_request_is_refused(store: CheckoutStore) -> None:
    reused = await replay_or_refuse(store, Claim("done", "fp-other", {}), "fp", "k")
    assert codes(reused) == ["IDEMPOTENCY_KEY_REUSED"]
    assert reused.user_errors[0].field == ("idempotencyKey",)
    assert codes(await replay_or_refuse(store, Claim("in_flight", "fp"), "fp", "k")) == ["IDEMPOTENCY_KEY_IN_USE"]


async def test_a_stored_order_replays_with_its_token_opened_by_the_key(store: CheckoutStore) -> None:
    placed = order("ord_1", "r1")
    await store.stock.reconcile({"ADE-S0650": 1}, {})
    await store.stock.reserve("r1", [("ADE-S0650", 1)], ttl_s=60)
    assert await store.orders.confirm(placed, token_hash="h", key_digest="d", idempotency_record=done_record("fp", {}),
                               idempotency_ttl_s=60, retention_s=60, traceparent="")
    record = PlaceOrderResult(order=placed, order_token="secret-token").to_record("k")
    replay = await replay_or_refuse(store, Claim("done", "fp", record), "fp", "k")
    assert (replay.order, replay.order_token, replay.replayed, replay.user_errors) == (placed, "secret-token", True,
                                                                                      [])


async def test_a_stored_refusal_replays_without_an_order(store: CheckoutStore) -> None:
    record = failed("OUT_OF_STOCK", "Sold out.", ("lines", "0", "quantity")).to_record("k")
    replay = await replay_or_refuse(store, Claim("done", "fp", record), "fp", "k")
    assert (replay.order, replay.replayed) == (None, True)
    assert [(e.code, e.field) for e in replay.user_errors] == [("OUT_OF_STOCK", ("lines", "0", "quantity"))]


async def test_replaying_an_order_while_the_store_is_down_is_unavailable() -> None:
    down = CheckoutStore("redis://127.0.0.1:1/0", CheckoutConfig(redis_timeout_ms=500), RedisConfig())
    try:
        replay = await replay_or_refuse(down, Claim("done", "fp", {"order_id": "ord_1"}), "fp", "k")
    finally:
        await down.aclose()
    assert codes(replay) == ["CHECKOUT_UNAVAILABLE"]
    assert not replay.replayed


async def claim(store: CheckoutStore, digest: str, fp: str = "fp") -> Claim:
    return await store.idempotency.begin(digest, fp, attempt="next", in_flight_ttl_s=60)


async def test_settle_keeps_frees_or_holds_the_key_as_the_stop_says(store: CheckoutStore) -> None:
    for digest in ("kept", "freed", "held"):
        assert (await store.idempotency.begin(digest, "fp", attempt="a1", in_flight_ttl_s=60)).state == "new"
    await settle(store, "k", "kept", "fp", "a1", Stop(failed("PAYMENT_DECLINED", "No."), keep=True), ttl_s=60)
    await settle(store, "k", "freed", "fp", "a1", Stop(unavailable("x"), keep=False), ttl_s=60)
    await settle(store, "k", "held", "fp", "a1", Stop(unavailable("x"), keep=False, hold_key=True), ttl_s=60)
    kept = await claim(store, "kept")
    assert kept.state == "done"
    assert [e["code"] for e in (kept.result or {})["user_errors"]] == ["PAYMENT_DECLINED"]
    assert (await claim(store, "freed")).state == "new"  # a retry runs afresh
    assert (await claim(store, "held")).state == "in_flight"


async def test_settle_frees_only_its_own_attempt(store: CheckoutStore) -> None:
    await store.idempotency.begin("d", "fp", attempt="newer", in_flight_ttl_s=60)
    await settle(store, "k", "d", "fp", "older", Stop(unavailable("x"), keep=False), ttl_s=60)
    assert (await claim(store, "d")).state == "in_flight"


async def test_settle_with_the_store_down_does_not_raise() -> None:
    down = CheckoutStore("redis://127.0.0.1:1/0", CheckoutConfig(redis_timeout_ms=500), RedisConfig())
    try:
        await settle(down, "k", "d", "fp", "a", Stop(failed("X", "x"), keep=True), ttl_s=60)
    finally:
        await down.aclose()
