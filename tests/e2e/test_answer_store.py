"""The answer store (`gateway.answers`) against the real sandbox: a warm page sent again without executing,
its ages counted at send; dropped by the events that change it (the ghost-stock guarantee); never for what
it may not keep (errors, STALE parts, scarce stock, mutations, parts streamed); off by a setting."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
import pytest

from bench.pages import MANIFEST, STANDARD, page_body
from connectors.events.bus import Invalidation
from gateway.edge.budget import BUDGET_HEADER
from sandbox.handle import Sandbox
from tests.support import Gateway, run_gateway, scrape, settings_for, value

CARD = "query Card($handle: String!) { product(handle: $handle) { id title freshness { source ageMs } } }"
STOCK = """query Stock($handle: String!) { product(handle: $handle) { id variants { sku
  availability { status quantityAvailable freshness { source ageMs } } } } }"""
PICK = """query Pick($handle: String!) { product(handle: $handle) {
  variantBySelectedOptions(selectedOptions: [{name: "Nope", value: "x"}]) { sku } } }"""
ONE_OF_A_KIND = "art-deco-emerald-ring"


@asynccontextmanager
async def counted(sandbox: Sandbox, **env: str) -> AsyncIterator[tuple[Gateway, list[int]]]:
    """A gateway trusting the storefront's manifest, and how many operations it has executed so far."""
    async with run_gateway(settings_for(sandbox, BEZEL_DOCUMENTS__MANIFEST=str(MANIFEST), **env)) as gateway:
        schema = gateway.app.state.schema
        executed = [0]
        execute = schema.execute

        async def counting(*args: Any, **kwargs: Any) -> Any:
            executed[0] += 1
            return await execute(*args, **kwargs)

        schema.execute = counting
        yield gateway, executed


@pytest.fixture
def plenty(sandbox: Sandbox) -> None:
    sandbox.stock_all(STANDARD, 10)  # every variant above safety stock: stock is not scarce


async def page(gateway: Gateway, **headers: str) -> dict[str, Any]:
    response = await gateway.http.post("/graphql", content=page_body(STANDARD, by_id=True),
                                       headers={"content-type": "application/json", **headers})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def post(gateway: Gateway, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = await gateway.http.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def ages(answer: dict[str, Any]) -> list[int]:
    return [int(a) for a in re.findall(rb'"ageMs":(\d+)', orjson.dumps(answer["data"]))]


def without_ages(answer: dict[str, Any]) -> bytes:
    return re.sub(rb'"ageMs":\d+', b'"ageMs":N', orjson.dumps(answer["data"]))


async def test_a_warm_page_is_sent_again_without_executing_its_ages_counted_at_send(
        sandbox: Sandbox, plenty: None) -> None:
    async with counted(sandbox) as (gateway, executed):
        before = await scrape(gateway)  # counters are the process's: what this test adds to them
        executed_response = await gateway.http.post("/graphql", content=page_body(STANDARD, by_id=True),
                                                    headers={"content-type": "application/json"})
        cold = executed_response.json()  # asked live: not kept (its parts' ages would not be the cache's)
        warm = await page(gateway)  # every part from cache: kept
        assert "answers" not in cold["extensions"]
        assert "answers" not in warm["extensions"]
        assert executed[0] == 2
        calls = sandbox.calls()
        await asyncio.sleep(0.05)
        stored = await page(gateway)
        await asyncio.sleep(0.05)
        later = await page(gateway)
        assert executed[0] == 2  # neither was executed
        assert sandbox.calls() == calls  # nor asked a vendor anything
        samples = await scrape(gateway)
        response = await gateway.http.post("/graphql", content=page_body(STANDARD, by_id=True),
                                           headers={"content-type": "application/json"})
    for outcome, count in (("hit", 2), ("kept", 1), ("passed", 1)):
        assert value(samples, "bezel_answers_total", outcome=outcome) - value(
            before, "bezel_answers_total", outcome=outcome) == count, outcome
    assert response.json()["extensions"]["answers"]["from"] == "store"
    assert sorted(response.headers) == sorted(executed_response.headers)  # the headers executing gives
    assert response.headers["content-type"] == executed_response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)
    assert without_ages(stored) == without_ages(warm)  # the same answer...
    assert stored["extensions"]["vendors"] == warm["extensions"]["vendors"]
    # ...each age grown by the time since it was built, counted when sent
    since = stored["extensions"]["answers"]["ageMs"]
    assert stored["extensions"]["answers"]["from"] == "store"
    assert since >= 50
    assert ages(stored) == [a + since for a in ages(warm)]
    grown = later["extensions"]["answers"]["ageMs"]
    assert grown >= since + 50
    assert ages(later) == [a + grown for a in ages(warm)]
    assert set(stored["extensions"]["answers"]["parts"]) == set(warm["extensions"]["vendors"])
    assert all(later["extensions"]["answers"]["parts"][v] > age
               for v, age in stored["extensions"]["answers"]["parts"].items())


async def test_a_sale_or_a_stock_event_drops_the_page_so_the_next_answer_is_fresh(
        sandbox: Sandbox, plenty: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.e2e.test_webhooks import SECRETS, stock_event

    for name, secret in SECRETS.items():
        monkeypatch.setenv(name, secret)
    async with counted(sandbox) as (gateway, executed):
        for _ in range(3):
            kept = await page(gateway)
        assert kept["extensions"]["answers"]["from"] == "store"
        sku = kept["data"]["product"]["variants"][0]["sku"]
        # A sale through checkout tells every process (`_tell_live_pages`): the stored page goes at once.
        await gateway.app.state.services.bus.publish(Invalidation(source="checkout", origin_at=time.time(),
                                                                  skus=(sku,)))
        after_sale = await page(gateway)
        assert "answers" not in after_sale["extensions"]
        assert executed[0] == 3
        again = await page(gateway)  # kept again
        assert again["extensions"]["answers"]["from"] == "store"
        # A sale in a shop: the inventory system's event, taken by the gateway, drops it too.
        sandbox.set_stock(sku, 7)  # the inventory system knows; the cache and the store do not
        body, headers = stock_event(sku, "entry-1", 7, 1)
        assert (await gateway.http.post("/webhooks/commercetools", content=body, headers=headers)).status_code == 200
        await gateway.app.state.events.queue.join()
        fresh = await page(gateway)
    assert "answers" not in fresh["extensions"]
    shown = next(v for v in fresh["data"]["product"]["variants"] if v["sku"] == sku)
    assert shown["availability"]["quantityAvailable"] == 7


async def test_other_variables_are_another_answer(sandbox: Sandbox, plenty: None) -> None:
    async with counted(sandbox) as (gateway, executed):
        for _ in range(3):
            kept = await page(gateway)
        other = orjson.loads(page_body(STANDARD, "10002", "Always"))
        body = orjson.dumps({"documentId": orjson.loads(page_body(STANDARD, by_id=True))["documentId"],
                             "variables": other["variables"]})
        answers = [(await gateway.http.post("/graphql", content=body, headers={"content-type": "application/json"}
                                            )).json() for _ in range(3)]
        reordered = orjson.dumps({"variables": dict(reversed(list(orjson.loads(body)["variables"].items()))),
                                  "documentId": orjson.loads(body)["documentId"]})
        same = (await gateway.http.post("/graphql", content=reordered, headers={"content-type": "application/json"}
                                        )).json()
    assert kept["extensions"]["answers"]["from"] == "store"
    assert ["answers" in a["extensions"] for a in answers] == [False, False, True]  # its own entry, kept
    assert answers[2]["data"]["product"]["engravingPreview"] != kept["data"]["product"]["engravingPreview"]
    assert same["extensions"]["answers"]["from"] == "store"  # the same variables, in another order
    assert executed[0] == 4


@pytest.mark.parametrize(("query", "variables", "why"), [
    (PICK, {"handle": STANDARD}, "errors"),
    (STOCK, {"handle": ONE_OF_A_KIND}, "scarce stock"),
])
async def test_what_may_not_be_kept_is_executed_every_time(sandbox: Sandbox, query: str, variables: dict[str, Any],
                                                           why: str) -> None:
    async with counted(sandbox) as (gateway, executed):
        answers = [await post(gateway, query, variables) for _ in range(3)]
        kept = len(gateway.app.state.answers.entries)
    assert executed[0] == 3, why
    assert kept == 0, why
    assert not any("answers" in a["extensions"] for a in answers), why


async def test_a_stale_part_is_not_kept(sandbox: Sandbox) -> None:
    async with counted(sandbox, BEZEL_VENDORS__CATALOG__CACHE_TTL_S="1", BEZEL_VENDORS__CATALOG__REVALIDATE_S="0",
                       BEZEL_VENDORS__CATALOG__STALE_TTL_S="600") as (gateway, executed):
        await post(gateway, CARD, {"handle": STANDARD})
        await asyncio.sleep(1.1)
        sandbox.fault("catalog", status=503)
        stale = [await post(gateway, CARD, {"handle": STANDARD}) for _ in range(2)]
        kept = len(gateway.app.state.answers.entries)
    assert [s["data"]["product"]["freshness"]["source"] for s in stale] == ["STALE", "STALE"]
    assert executed[0] == 3
    assert kept == 0


async def test_parts_streamed_and_mutations_never_come_from_the_store(sandbox: Sandbox, plenty: None) -> None:
    place = """mutation { placeOrder(input: {idempotencyKey: "k-1", email: "a@example.com", lines: [],
      shipTo: {countryCode: "US", provinceCode: "NY", zip: "10001"}, paymentMethod: "pm_card_visa"}) {
      userErrors { code } } }"""
    async with counted(sandbox) as (gateway, executed):
        for _ in range(3):
            kept = await page(gateway)
        assert kept["extensions"]["answers"]["from"] == "store"
        streamed = await gateway.http.post("/graphql", content=page_body(STANDARD, by_id=True), headers={
            "content-type": "application/json", "accept": "multipart/mixed;deferSpec=20220824, application/json"})
        assert executed[0] == 3
        for _ in range(2):
            await gateway.http.post("/graphql", json={"query": place})
        kept_after = len(gateway.app.state.answers.entries)
    assert streamed.status_code == 200
    assert streamed.headers["content-type"].startswith("multipart/mixed")
    assert b'"answers"' not in streamed.content
    assert executed[0] == 5  # the streamed page, and each mutation
    assert kept_after == 1  # the page alone


async def test_a_client_s_own_budget_is_executed(sandbox: Sandbox, plenty: None) -> None:
    async with counted(sandbox) as (gateway, executed):
        for _ in range(3):
            await page(gateway)
        budgeted = await page(gateway, **{BUDGET_HEADER: "2000"})
    assert "answers" not in budgeted["extensions"]
    assert executed[0] == 3


async def test_the_store_switched_off_executes_every_request(sandbox: Sandbox, plenty: None) -> None:
    async with counted(sandbox, BEZEL_ANSWERS__ENABLED="false") as (gateway, executed):
        answers = [await page(gateway) for _ in range(3)]
        store = gateway.app.state.answers
    assert store is None
    assert executed[0] == 3
    assert not any("answers" in a["extensions"] for a in answers)


def test_an_event_one_process_takes_drops_the_page_every_process_keeps(sandbox: Sandbox, redis_url: str) -> None:
    """Two `bezel serve` processes on one Redis, the inventory system's webhooks sent to A: the page B keeps
    goes when A takes the event (B hears it on the bus), and B's next answer shows the new stock."""
    import httpx

    from tests.e2e.test_ghost_stock import SECRETS, within
    from tests.e2e.test_slow_clients import serve

    env = {"REDIS_URL": redis_url, "BEZEL_DOCUMENTS__MANIFEST": str(MANIFEST), **SECRETS}
    sandbox.webhooks(secrets={"shopify": SECRETS["SHOPIFY_WEBHOOK_SECRET"],
                              "commercetools": SECRETS["COMMERCETOOLS_WEBHOOK_TOKEN"],
                              "erp": SECRETS["ERP_WEBHOOK_SECRET"]})
    sandbox.stock_all(STANDARD, 10)

    def page_of(url: str) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.post(f"{url}/graphql", content=page_body(STANDARD, by_id=True), timeout=10,
                                            headers={"content-type": "application/json"}).json()
        return answer

    with serve(sandbox, **env) as a, serve(sandbox, **env) as b:
        sandbox.webhooks(to=a, delay_ms=0)
        kept = [page_of(b) for _ in range(3)][-1]
        assert kept["extensions"]["answers"]["from"] == "store"
        sku = kept["data"]["product"]["variants"][0]["sku"]
        sandbox.set_inventory_stock(sku, 6)  # a sale in a shop: the event goes to A
        seen: list[dict[str, Any]] = []

        def shows_it() -> bool:
            seen.append(page_of(b))
            return next(v for v in seen[-1]["data"]["product"]["variants"] if v["sku"] == sku)[
                "availability"]["quantityAvailable"] == 6

        within(1.5, shows_it)  # not when its freshness runs out (the inventory's 5 s)
    assert "answers" not in seen[-1]["extensions"]  # executed: the kept page had gone


async def test_a_get_from_the_store_carries_the_edge_s_headers_as_executing_would(
        sandbox: Sandbox, plenty: None) -> None:
    manifest = orjson.loads(MANIFEST.read_bytes())["operations"]
    public = next(op["id"] for op in manifest if op["name"] == "ProductPublic")
    listing = next(op["id"] for op in manifest if op["name"] == "ProductList")  # no ages in it
    shopper = orjson.loads(page_body(STANDARD, by_id=True))
    requests = {"public": {"documentId": public, "variables": orjson.dumps({"handle": STANDARD}).decode()},
                "shopper": {"documentId": shopper["documentId"],
                            "variables": orjson.dumps(shopper["variables"]).decode()},
                "list": {"documentId": listing, "variables": orjson.dumps({"first": 4}).decode()}}
    async with counted(sandbox, BEZEL_EDGE__PROVIDER="varnish") as (gateway, executed):
        got = {name: [await gateway.http.get("/graphql", params=query) for _ in range(3)]
               for name, query in requests.items()}
        unchanged = await gateway.http.get("/graphql", params=requests["list"],
                                           headers={"if-none-match": got["list"][2].headers["etag"]})
        await asyncio.sleep(1.05)
        later = await gateway.http.get("/graphql", params=requests["public"])
    assert executed[0] == 6  # each: live, then from cache (kept), then from the store
    for name, (_, warm, stored) in got.items():
        assert "answers" not in warm.json()["extensions"], name
        assert stored.json()["extensions"]["answers"]["from"] == "store", name
        assert sorted(stored.headers) == sorted(warm.headers), name
        for header in ("vary", "x-bezel-edge", "xkey"):
            assert stored.headers.get(header) == warm.headers.get(header), (name, header)
    assert got["shopper"][2].headers["cache-control"] == "private, no-store"
    assert got["shopper"][2].headers["x-bezel-edge"] == "private; reason=shopper:address,engraving"
    warm, stored = got["public"][1], got["public"][2]
    assert stored.headers["x-bezel-edge"] == "public; reason=fresh"
    for response in (warm, stored, later):  # over the data as sent (its ages in it), as executing computes it
        data = orjson.dumps(response.json()["data"], option=orjson.OPT_SORT_KEYS)
        assert response.headers["etag"] == 'W/"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'

    def max_age(response: Any) -> int:
        return int(re.search(r"max-age=(\d+)", response.headers["cache-control"])[1])  # type: ignore[index]

    assert max_age(stored) <= max_age(warm)
    assert max_age(later) < max_age(warm)  # what its parts have left, at send
    assert later.json()["extensions"]["answers"]["from"] == "store"
    assert unchanged.status_code == 304  # from the store, as executing would
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == got["list"][2].headers["etag"]
    assert unchanged.headers["x-bezel-edge"] == "public; reason=fresh"
