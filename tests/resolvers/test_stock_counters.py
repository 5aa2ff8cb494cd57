"""Setting checkout's counters from a source of truth: commit marks read before the source is asked, so a
sale booked meanwhile is never counted as stock again; the ERP's available-to-promise as that source."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.backoffice import ErpAPI, StockRecord
from connectors.checkout import CheckoutStore, Reconciled
from connectors.config import CheckoutConfig, RedisConfig
from connectors.http import VendorCall
from connectors.models import Freshness, Source, Sourced
from connectors.policy import CallScope, Deadline
from resolvers.stock_counters import erp_available, reconcile_from


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[CheckoutStore]:
    s = CheckoutStore(redis_url, CheckoutConfig(), RedisConfig())
    yield s
    await s.aclose()


async def test_counters_are_the_sources_numbers_less_outstanding_holds(store: CheckoutStore) -> None:
    await store.stock.reconcile({"A": 5}, {})
    await store.stock.reserve("r1", [("A", 2)], ttl_s=60)
    asked: list[list[str]] = []

    async def source(skus: list[str]) -> dict[str, int]:
        asked.append(skus)
        return {"A": 4, "B": 7}

    assert await reconcile_from(store, ["A", "B"], source) == {"A": Reconciled(3, 2, False),
                                                                "B": Reconciled(None, 7, False)}
    assert asked == [["A", "B"]]


async def test_a_sale_booked_while_the_source_is_asked_leaves_that_sku_for_the_next_round(
        store: CheckoutStore) -> None:
    await store.stock.reconcile({"ONE": 1, "OTHER": 1}, {})
    await store.stock.reserve("r1", [("ONE", 1)], ttl_s=60)

    async def source(skus: list[str]) -> dict[str, int]:
        numbers = {"ONE": 1, "OTHER": 3}  # read before the ERP booked the sale of ONE...
        assert await store.stock.commit("r1")  # ...which it books now, and the hold goes
        return numbers

    result = await reconcile_from(store, ["ONE", "OTHER"], source)
    assert result == {"ONE": Reconciled(0, 0, skipped=True), "OTHER": Reconciled(1, 3, False)}
    assert not (await store.stock.reserve("r2", [("ONE", 1)], ttl_s=60)).ok  # the one ring is not sold twice


async def test_the_erp_source_asks_for_the_skus_and_takes_available_not_on_hand() -> None:
    sent: list[tuple[VendorCall[Any], CallScope]] = []

    async def call(vendor_call: VendorCall[Any], scope: CallScope) -> Sourced[Any]:
        sent.append((vendor_call, scope))
        records = {"A": StockRecord("A", on_hand=5, available=2), "B": StockRecord("B", on_hand=1, available=0)}
        return Sourced(records, Freshness(Source.LIVE, 0, "erp"))

    scope = CallScope(Deadline.after_ms(1000))
    ask = erp_available(SimpleNamespace(erp=ErpAPI(), call=call), scope)  # type: ignore[arg-type]
    assert await ask(["A", "B"]) == {"A": 2, "B": 0}
    [(vendor_call, used)] = sent
    assert (vendor_call.operation, vendor_call.request.params, used) == ("erp.atp", {"skus": "A,B"}, scope)
