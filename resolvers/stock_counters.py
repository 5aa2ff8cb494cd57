"""Setting checkout's stock counters from a source of truth: the worker's periodic reconcile, and a
SKU's first checkout.

A counter is set from a source's available-to-promise minus Bezel's own outstanding holds. The order
of the steps is what makes it safe: each SKU's commit mark is read *before* the source is asked, so
a sale that reaches the ERP's books while we ask is noticed and that SKU is left for the next round
(`StockCounters.reconcile`). `reconcile_from` is that protocol, written once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from connectors.checkout import CheckoutStore, Reconciled
from connectors.policy import CallScope
from connectors.vendors import Vendors

# A source of available-to-promise numbers for some SKUs.
Available = Callable[[list[str]], Awaitable[dict[str, int]]]


async def reconcile_from(store: CheckoutStore, skus: list[str], available: Available) -> dict[str, Reconciled]:
    """Set each SKU's counter from `available` minus outstanding holds: marks first, then the source."""
    marks = await store.stock.commit_marks(skus)
    return await store.stock.reconcile(await available(skus), marks)


def erp_available(vendors: Vendors, scope: CallScope) -> Available:
    """The ERP's available-to-promise: the system of record for stock."""
    async def ask(skus: list[str]) -> dict[str, int]:
        records = (await vendors.call(vendors.erp.available_to_promise(skus), scope)).value
        return {sku: r.available for sku, r in records.items()}

    return ask


