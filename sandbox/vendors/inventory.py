"""Inventory vendor, imitating commercetools' Inventory API: many SKUs in one call.

    GET /{projectKey}/inventory?where=sku in ("A","B")&limit=500

Answers a paged query result `{limit, offset, count, total, results: [InventoryEntry]}` with
`quantityOnStock` and `availableQuantity` per SKU; SKUs it does not know are simply absent.
Errors use commercetools' shape: `{statusCode, message, errors: [{code, message}]}`.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.state import SandboxState

MAX_LIMIT = 500
_WHERE = re.compile(r'^\s*sku\s+in\s*\((?P<skus>.*)\)\s*$', re.IGNORECASE | re.DOTALL)
_SKU = re.compile(r'"((?:[^"\\]|\\.)*)"')
_CODES = {400: "InvalidInput", 401: "invalid_token", 404: "ResourceNotFound", 429: "TooManyRequests",
          500: "General", 502: "General", 503: "ServiceUnavailable", 504: "General"}


def error_body(status: int, path: str = "") -> dict[str, Any]:
    code = _CODES.get(status, "General")
    message = "Internal Server Error" if status >= 500 else code
    return {"statusCode": status, "message": message, "errors": [{"code": code, "message": message}]}


def routes(state: SandboxState) -> list[Route]:
    namespace = uuid.UUID("6f1b8f2e-52e4-4e0c-9f44-1f6dc7a1f2a0")

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
                "id": str(uuid.uuid5(namespace, sku)),
                "version": 1,
                "sku": sku,
                "quantityOnStock": state.stock[sku],
                "availableQuantity": state.stock[sku],
                "restockableInDays": 21,
                "createdAt": "2026-03-02T15:15:00.000Z",
                "lastModifiedAt": "2026-11-20T09:00:00.000Z",
            }
            for sku in skus
            if sku in state.stock
        ]
        page = results[:limit]
        return JSONResponse(
            {"limit": limit, "offset": 0, "count": len(page), "total": len(results), "results": page}
        )

    return [Route("/{project_key}/inventory", query)]
