"""commercetools inventory mapping: many SKUs per call, absent SKUs, and its error body."""

from __future__ import annotations

import httpx
import pytest
import respx

from connectors import inventory
from connectors.errors import VendorBadResponse, VendorHTTPError
from connectors.inventory import MAX_BATCH, InventoryAPI
from tests.connectors.helpers import BASE, execute


@respx.mock(base_url=BASE, using="httpx")
async def test_levels_for_many_skus_in_one_query(respx_mock) -> None:
    body = {"limit": 3, "offset": 0, "count": 2, "total": 2, "results": [
        {"id": "a", "version": 1, "sku": 'A"1', "quantityOnStock": 5, "availableQuantity": 4, "restockableInDays": 7},
        {"id": "b", "version": 1, "sku": "B2", "quantityOnStock": 1, "availableQuantity": -1},
    ]}
    route = respx_mock.get("/bezel/inventory").mock(return_value=httpx.Response(200, json=body))
    levels = await execute(inventory, InventoryAPI(project_key="bezel").levels(['A"1', "B2", "C3", "B2"]))
    assert levels['A"1'].available == 4
    assert levels['A"1'].on_hand == 5
    assert levels["B2"].available == 0  # never report a negative amount to a shopper
    assert levels["C3"].available == 0  # unknown to the vendor: nothing to sell
    params = route.calls.last.request.url.params
    assert params["where"] == 'sku in ("A\\"1","B2","C3")'
    assert params["limit"] == "3"


def test_a_batch_is_bounded() -> None:
    with pytest.raises(ValueError, match="1 to"):
        InventoryAPI(project_key="bezel").levels([f"S{i}" for i in range(MAX_BATCH + 1)])


@respx.mock(base_url=BASE, using="httpx")
async def test_commercetools_errors_and_wrong_shapes(respx_mock) -> None:
    route = respx_mock.get("/bezel/inventory")
    route.mock(return_value=httpx.Response(503, json={"statusCode": 503, "message": "Service Unavailable",
                                                      "errors": [{"code": "ServiceUnavailable", "message": "x"}]}))
    with pytest.raises(VendorHTTPError) as caught:
        await execute(inventory, InventoryAPI(project_key="bezel").levels(["A"]))
    assert caught.value.code == "ServiceUnavailable"
    route.mock(return_value=httpx.Response(200, json={"results": [{"sku": "A", "availableQuantity": "4"}]}))
    with pytest.raises(VendorBadResponse):
        await execute(inventory, InventoryAPI(project_key="bezel").levels(["A"]))
