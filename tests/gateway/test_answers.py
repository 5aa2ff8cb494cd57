"""The answer store's own parts (`gateway.answers`): ages grown at send, which documents it may keep, its keys,
its bounds and what an invalidation drops. End to end: tests/e2e/test_answer_store.py."""

from __future__ import annotations

import time
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import orjson

from connectors.events.bus import Invalidation
from connectors.models import Outcome, Source
from connectors.policy import CallRecord
from gateway.answers import AnswerStore, request_key, storable_document
from gateway.edge.caching import CachePolicy, Decision
from schema import build_schema

SCHEMA = build_schema()
BODY = orjson.dumps({"data": {"product": {"title": 'say "ageMs":5', "freshness": {"source": "CACHE", "ageMs": 120},
                                          "variants": [{"availability": {"freshness": {"ageMs": 7}}}]}},
                     "extensions": {"vendors": {"catalog": {"outcome": "cache"}}}})


def context(*, skus: tuple[str, ...] = ("A-1",)) -> Any:
    records = [CallRecord("catalog", "products", Outcome.CACHE, Source.CACHE, 0.1, age_ms=120),
               CallRecord("inventory", "levels", Outcome.CACHE, Source.CACHE, 0.1, age_ms=7)]
    return SimpleNamespace(scope=SimpleNamespace(log=SimpleNamespace(records=records)),
                           shown=SimpleNamespace(offered=set(skus)))


def store(**bounds: Any) -> AnswerStore:
    return AnswerStore(CachePolicy({}), **{"max_entries": 100, "max_age_s": 60, **bounds})


def kept(keys: tuple[str, ...] = ("product-1", "sku-A-1"), max_age_s: int = 30) -> Decision:
    return Decision(True, "fresh", max_age_s, keys=keys)


def test_ages_are_sent_grown_by_the_time_since_the_answer_was_built_and_nothing_else_is_touched() -> None:
    answers = store()
    key = request_key("{ x }", None, {"b": 1, "a": 2}, None)
    assert key is not None
    assert answers.keep(key, BODY, context(), kept(), since=answers.generation)
    found = answers.get(key)
    assert found is not None
    sent = orjson.loads(found.render(found.built_at + 0.25))
    product = sent["data"]["product"]
    assert product["title"] == 'say "ageMs":5'  # inside a string: not an age
    assert product["freshness"]["ageMs"] == 370
    assert product["variants"][0]["availability"]["freshness"]["ageMs"] == 257
    assert sent["extensions"] == {"vendors": {"catalog": {"outcome": "cache"}}, "answers": {
        "from": "store", "ageMs": 250, "parts": {"catalog": 370, "inventory": 257}}}
    assert found.offered == ("A-1",)


def test_the_same_variables_in_another_order_are_the_same_request() -> None:
    assert request_key("{ x }", None, {"b": 1, "a": {"d": 1, "c": 2}}, None) == \
        request_key("{ x }", None, {"a": {"c": 2, "d": 1}, "b": 1}, None)
    assert request_key("{ x }", None, {"a": 1}, None) != request_key("{ x }", None, {"a": 2}, None)
    assert request_key("{ x }", "X", {}, None) != request_key("{ x }", None, {}, None)


def test_only_queries_whose_every_age_is_a_freshness_s_may_be_kept() -> None:
    def storable(text: str, name: str | None = None) -> bool:
        return storable_document(SCHEMA.documents.parsed(text), name)

    assert storable('{ product(handle: "h") { freshness { ageMs } } }')
    assert not storable('{ product(handle: "h") { freshness { age: ageMs } } }')
    assert not storable('{ product(handle: "h") { ageMs: title } }')
    assert not storable('mutation { placeOrder(input: {}) { order { id } } }')
    assert not storable('subscription { productChanged(handle: "h") { title } }')
    two = 'query A { product(handle: "h") { title } } query B { product(handle: "h") { id } }'
    assert storable(two, "A")
    assert not storable(two)  # which one runs is not said
    assert not storable("{ product(handle: ")  # does not parse


def test_an_invalidation_drops_the_answers_carrying_its_keys_and_one_built_across_it_is_not_kept() -> None:
    answers = store()
    one, other = request_key("{ a }", None, None, None), request_key("{ b }", None, None, None)
    assert one is not None
    assert other is not None
    assert answers.keep(one, BODY, context(), kept(("product-1", "sku-A-1")), since=answers.generation)
    assert answers.keep(other, BODY, context(), kept(("product-2", "sku-B-1")), since=answers.generation)
    started = answers.generation
    answers.forget(Invalidation(source="checkout", origin_at=time.time(), skus=("A-1",)))
    assert answers.get(one) is None
    assert answers.get(other) is not None
    assert "sku-A-1" not in answers.entries.by_key
    assert not answers.keep(one, BODY, context(), kept(), since=started)  # built before the event: maybe older
    answers.clear()
    assert answers.get(other) is None
    assert answers.entries.by_key == {}


def test_bounded_in_entries_and_in_bytes_and_past_its_age() -> None:
    answers = store(max_entries=2)
    keys = [request_key("{ a }", None, {"i": i}, None) for i in range(3)]
    for i, key in enumerate(keys):
        assert key is not None
        assert answers.keep(key, BODY, context(), kept((f"sku-{i}",)), since=answers.generation)
    assert answers.get(keys[0]) is None  # the least recently used went
    assert "sku-0" not in answers.entries.by_key
    assert len(answers.entries) == 2
    small = store(max_mb=0.001)  # room for one answer of BODY (~540 bytes with its key and pieces)
    assert small.keep(keys[0], BODY, context(), kept(), since=0)
    assert small.keep(keys[1], BODY, context(), kept(), since=0)
    assert small.get(keys[0]) is None
    assert small.get(keys[1]) is not None
    large = orjson.dumps({"data": {"title": "x" * 1000}, "extensions": {}})
    assert not small.keep(keys[2], large, context(), kept(), since=0)  # larger than the whole store
    assert not store().keep(keys[0], BODY, context(), kept(max_age_s=0), since=0)  # nothing left of its freshness
    brief = store()
    assert brief.keep(keys[0], BODY, context(), kept(max_age_s=1), since=0)
    brief.entries[keys[0]] = replace(brief.entries[keys[0]], expires_at=time.monotonic() - 0.001)  # its time is up
    assert brief.get(keys[0]) is None
