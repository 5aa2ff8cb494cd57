"""Whether a request may run (`gateway.edge.admission`): per-client budgets answered 429 with Retry-After, and
no order lookup by GET in production."""

from __future__ import annotations

import pytest

from connectors.ratelimits import RateLimits
from gateway.edge.admission import admit_operation, admit_request
from gateway.errors import DocumentRefused
from schema.refusals import REFUSED


def limits(**budgets: str) -> RateLimits:
    return RateLimits({"pages": "1000/hour", "checkout": "1000/hour", "order_lookups": "1000/hour", **budgets})


async def test_a_client_over_its_pages_budget_is_refused_429_with_retry_after() -> None:
    pages = limits(pages="2/hour")
    await admit_request(pages, "203.0.113.7")
    await admit_request(pages, "203.0.113.7")
    with pytest.raises(DocumentRefused) as refused:
        await admit_request(pages, "203.0.113.7")
    assert (refused.value.status, refused.value.code) == (429, "RATE_LIMITED")
    wait = int(refused.value.headers["retry-after"])
    assert 1 <= wait <= 2 * 3600  # a sliding window: what was spent fades over the next hour
    assert f"retry in {wait} s" in refused.value.message
    await admit_request(pages, "198.51.100.1")  # another client has a budget of its own


@pytest.mark.parametrize(("field", "budget"), [("placeOrder", "checkout"), ("order", "order_lookups")])
async def test_an_operation_spends_its_own_budget_and_no_other(field: str, budget: str) -> None:
    budgets = limits(**{budget: "1/hour"})
    await admit_operation(budgets, "c", method="POST", fields={field}, production=True)
    await admit_operation(budgets, "c", method="POST", fields={"product", "products"}, production=True)
    before = REFUSED.counts[(("reason", f"rate_limit_{budget}"),)]
    with pytest.raises(DocumentRefused) as refused:
        await admit_operation(budgets, "c", method="POST", fields={"product", field}, production=True)
    assert refused.value.code == "RATE_LIMITED"
    assert REFUSED.counts[(("reason", f"rate_limit_{budget}"),)] == before + 1


async def test_a_document_with_both_spends_both() -> None:
    budgets = limits(order_lookups="1/hour")
    await admit_operation(budgets, "c", method="POST", fields={"placeOrder", "order"}, production=False)
    with pytest.raises(DocumentRefused):
        await admit_operation(budgets, "c", method="POST", fields={"order"}, production=False)


async def test_in_production_an_order_lookup_by_get_is_405_and_spends_nothing() -> None:
    budgets = limits(order_lookups="1/hour")
    with pytest.raises(DocumentRefused) as refused:
        await admit_operation(budgets, "c", method="GET", fields={"order"}, production=True)
    assert (refused.value.status, refused.value.code) == (405, "METHOD_NOT_ALLOWED")
    assert refused.value.headers == {"allow": "POST"}
    await admit_operation(budgets, "c", method="POST", fields={"order"}, production=True)  # its budget unspent
    await admit_operation(limits(), "c", method="GET", fields={"order"}, production=False)  # development allows it
    await admit_operation(limits(), "c", method="GET", fields={"product"}, production=True)
