"""Idempotency records against a real Redis: one claim per key, results replayed, only the claimant frees it."""

from __future__ import annotations

import asyncio
import json

from connectors.checkout import CheckoutStore, done_record


async def test_idempotency_claims(store: CheckoutStore) -> None:
    first = await store.idempotency.begin("k", "fp1", attempt="a1", in_flight_ttl_s=10)
    assert first.state == "new"
    again = await store.idempotency.begin("k", "fp1", attempt="a2", in_flight_ttl_s=10)
    assert (again.state, again.fingerprint) == ("in_flight", "fp1")
    await store.idempotency.abandon("k", "a2")  # not a2's claim: stays
    assert (await store.idempotency.begin("k", "fp1", attempt="a3", in_flight_ttl_s=10)).state == "in_flight"
    await store.idempotency.finish("k", "fp1", {"userErrors": []}, ttl_s=60)
    await store.idempotency.abandon("k", "a1")  # a stored result is never freed
    done = await store.idempotency.begin("k", "fp2", attempt="a4", in_flight_ttl_s=10)
    assert (done.state, done.fingerprint, done.result) == ("done", "fp1", {"userErrors": []})
    await store.redis.client.delete(store.idempotency.key("k"))
    assert (await store.idempotency.begin("k", "fp2", attempt="a5", in_flight_ttl_s=10)).state == "new"
    await store.idempotency.abandon("k", "a5")
    assert (await store.idempotency.begin("k", "fp2", attempt="a6", in_flight_ttl_s=10)).state == "new"
    raw = await store.redis.client.get(store.idempotency.key("k"))
    assert json.loads(raw)["attempt"] == "a6"


async def test_many_requests_with_one_key_make_one_claim(store: CheckoutStore) -> None:
    claims = await asyncio.gather(*(store.idempotency.begin("k", "fp", attempt=f"a{i}", in_flight_ttl_s=10)
                                    for i in range(20)))
    assert sorted(c.state for c in claims) == ["in_flight"] * 19 + ["new"]


async def test_a_claim_left_by_a_crashed_request_expires_but_a_result_outlives_it(store: CheckoutStore) -> None:
    await store.idempotency.begin("lost", "fp", attempt="a1", in_flight_ttl_s=0.05)
    await store.idempotency.begin("kept", "fp", attempt="a1", in_flight_ttl_s=0.05)
    await store.idempotency.finish("kept", "fp", {"order": "ord_1"}, ttl_s=60)
    await asyncio.sleep(0.15)
    assert (await store.idempotency.begin("lost", "fp", attempt="a2", in_flight_ttl_s=10)).state == "new"
    kept = await store.idempotency.begin("kept", "fp", attempt="a2", in_flight_ttl_s=10)
    assert (kept.state, kept.result) == ("done", {"order": "ord_1"})


def test_a_done_record_reads_back_as_a_result() -> None:
    doc = json.loads(done_record("fp", {"order": "ord_1"}))
    assert (doc["state"], doc["fp"], doc["result"]) == ("done", "fp", {"order": "ord_1"})
