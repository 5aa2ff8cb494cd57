"""Narrow connector tests: a VendorClient against respx, no sandbox."""

from __future__ import annotations

from types import ModuleType
from typing import Any, TypeVar

import httpx

from connectors.http import VendorCall, VendorClient

T = TypeVar("T")
BASE = "https://vendor.test"


async def execute(module: ModuleType, call: VendorCall[T], api_key: str | None = None) -> T:
    # An httpx transport, so respx (which patches httpx's) answers instead of the network.
    client = VendorClient(call.vendor, BASE, read_error=module.read_error, auth_headers=module.auth_headers(api_key),
                          transport=httpx.AsyncHTTPTransport())
    try:
        return await client.execute(call)
    finally:
        await client.aclose()


def sent_json(route: Any) -> Any:
    import orjson

    return orjson.loads(route.calls.last.request.content)
