"""Inventory vendor, imitating commercetools' Inventory API: many SKUs in one call.

    GET /{projectKey}/inventory?where=sku in ("A","B")&limit=500

Answers a paged query result `{limit, offset, count, total, results: [InventoryEntry]}` with
`quantityOnStock` and `availableQuantity` per SKU; SKUs it does not know are simply absent. The levels
are the inventory system's own (`SandboxState.inventory_stock`), which trail the ERP's by the
integration's delay; each change raises the entry's `version` and sends an `InventoryEntryQuantitySet`
message (`sandbox.events`).
Errors use commercetools' shape: `{statusCode, message, errors: [{code, message}]}`.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.state import INVENTORY_CREATED_AT, SandboxState

MAX_LIMIT = 500
PROJECT_KEY = "bezel"
_ENTRY_IDS = uuid.UUID("6f1b8f2e-52e4-4e0c-9f44-1f6dc7a1f2a0")
_WHERE = re.compile(r'^\s*sku\s+in\s*\((?P<skus>.*)\)\s*$', re.IGNORECASE | re.DOTALL)
_SKU = re.compile(r'"((?:[^"\\]|\\.)*)"')
_CODES = {400: "InvalidInput", 401: "invalid_token", 404: "ResourceNotFound", 429: "TooManyRequests",
          500: "General", 502: "General", 503: "ServiceUnavailable", 504: "General"}


def error_body(status: int, path: str = "") -> dict[str, Any]:
    code = _CODES.get(status, "General")
    message = "Internal Server Error" if status >= 500 else code
    return {"statusCode": status, "message": message, "errors": [{"code": code, "message": message}]}


def entry_id(sku: str) -> str:
    """The SKU's inventory entry id: stable, so a webhook's `resource.id` names the entry this API answers."""
    return str(uuid.uuid5(_ENTRY_IDS, sku))


def routes(state: SandboxState) -> list[Route]:
    async def query(request: Request) -> Response:
        where = request.query_params.get("where", "")
        match = _WHERE.match(where)
        try:
            limit = int(request.query_params.get("limit", "20"))
        except ValueError:
            limit = -1
        if match is None or not 1 <= limit <= MAX_LIMIT:
            message = "Malformed parameter: where or limit."
            return JSONResponse(
                {"statusCode": 400, "message": message, "errors": [{"code": "InvalidInput", "message": message}]},
                status_code=400,
            )
        skus = list(dict.fromkeys(_SKU.findall(match.group("skus"))))
        results = [
            {
                "id": entry_id(sku),
                "version": state.inventory_versions[sku],
                "sku": sku,
                "quantityOnStock": state.inventory_stock[sku],
                "availableQuantity": state.inventory_stock[sku],
                "restockableInDays": 21,
                "createdAt": INVENTORY_CREATED_AT,
                "lastModifiedAt": state.inventory_modified_at[sku],
            }
            for sku in skus
            if sku in state.inventory_stock
        ]
        page = results[:limit]
        return JSONResponse(
            {"limit": limit, "offset": 0, "count": len(page), "total": len(results), "results": page}
        )

    return [Route("/{project_key}/inventory", query)]
