"""Fastly: purge by surrogate key, soft (the object is marked stale, so stale-if-error still has it).

    POST {url}/service/{service_id}/purge
    Surrogate-Key: product-1 sku-A ...   (up to 256 keys)
    Fastly-Key: <API token with purge_select>
    Fastly-Soft-Purge: 1
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx


class Fastly:
    name = "fastly"

    def __init__(self, url: str, service_id: str, token: str) -> None:
        self.url = f"{url.rstrip('/')}/service/{service_id}/purge"
        self.token = token

    def request(self, keys: Sequence[str]) -> httpx.Request:
        return httpx.Request("POST", self.url, headers={"Surrogate-Key": " ".join(keys), "Fastly-Key": self.token,
                                                        "Fastly-Soft-Purge": "1", "Accept": "application/json"})
