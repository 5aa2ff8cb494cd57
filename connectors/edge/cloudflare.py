"""Cloudflare: purge by cache tag (the Cache-Tag header Bezel's answers carry).

    POST {url}/zones/{zone_id}/purge_cache
    Authorization: Bearer <API token with Zone.Cache Purge>
    {"tags": ["product-1", "sku-A", ...]}   (30 per request on every plan)
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx


class Cloudflare:
    name = "cloudflare"

    def __init__(self, url: str, zone_id: str, token: str) -> None:
        self.url = f"{url.rstrip('/')}/zones/{zone_id}/purge_cache"
        self.token = token

    def request(self, keys: Sequence[str]) -> httpx.Request:
        return httpx.Request("POST", self.url, json={"tags": list(keys)},
                             headers={"Authorization": f"Bearer {self.token}"})
