"""Inventory connector: commercetools' Inventory query, many SKUs in one call.

`GET /{projectKey}/inventory?where=sku in ("A","B")&limit=N` returns a paged query result whose
`results` hold `availableQuantity` (on stock minus reservations) and `quantityOnStock` per SKU.
SKUs the vendor does not know are absent from the answer: we report them as 0 available.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from connectors import payload as p
from connectors.http import BatchCall, ProviderError, VendorCall, VendorRequest, bearer
from connectors.models import StockLevel, Vendor

VENDOR = Vendor.INVENTORY
# commercetools caps a page at 500; a batch stays below it so one call answers a whole product.
MAX_BATCH = 250


auth_headers = bearer  # the provider takes `Authorization: Bearer <key>`


def read_error(status: int, body: Any) -> ProviderError:
    data = p.obj(body)
    errors = data.get("errors") or [{}]
    return ProviderError(code=errors[0].get("code"), message=str(data.get("message", "")))


LEVELS = "levels"  # the batch operation: each SKU's level is cached as "inventory:levels:<sku>"


def _quote(sku: str) -> str:
    return '"' + sku.replace("\\", "\\\\").replace('"', '\\"') + '"'


class InventoryAPI:
    def __init__(self, *, project_key: str) -> None:
        self.project_key = project_key

    def levels_by_sku(self, skus: Sequence[str], *, must_refresh: Callable[[StockLevel], bool] | None = None
                      ) -> BatchCall[StockLevel]:
        """Stock per SKU, each cached on its own; the SKUs not in cache asked for in one `levels` call
        (at most `MAX_BATCH` SKUs per batch). `must_refresh` marks levels that must be asked again."""
        return BatchCall(VENDOR, LEVELS, skus, self.levels, StockLevel, must_refresh)

    def levels(self, skus: Sequence[str]) -> VendorCall[dict[str, StockLevel]]:
        if not 0 < len(skus) <= MAX_BATCH:
            raise ValueError(f"ask for 1 to {MAX_BATCH} SKUs per call, not {len(skus)}")
        wanted = list(dict.fromkeys(skus))
        request = VendorRequest(
            "GET",
            f"/{self.project_key}/inventory",
            params={"where": f"sku in ({','.join(map(_quote, wanted))})", "limit": str(len(wanted))},
        )

        def parse(body: Any) -> dict[str, StockLevel]:
            found = {}
            for entry in p.seq(body, "results"):
                sku = p.text(entry, "sku")
                found[sku] = StockLevel(
                    sku=sku,
                    available=max(0, p.integer(entry, "availableQuantity")),
                    on_hand=p.integer(entry, "quantityOnStock"),
                )
            return {sku: found.get(sku, StockLevel(sku=sku, available=0, on_hand=0)) for sku in wanted}

        return VendorCall(VENDOR, "inventory.levels", request, parse, result_type=dict[str, StockLevel])
