"""Varnish with vmod xkey (deploy/varnish/default.vcl): a PURGE request naming the keys in `xkey`, which
the VCL accepts only from its `purgers` ACL (the gateways) and answers 200 with how many objects went."""

from __future__ import annotations

from collections.abc import Sequence

import httpx


class Varnish:
    name = "varnish"

    def __init__(self, url: str) -> None:
        self.url = f"{url.rstrip('/')}/"

    def request(self, keys: Sequence[str]) -> httpx.Request:
        return httpx.Request("PURGE", self.url, headers={"xkey": " ".join(keys)})
