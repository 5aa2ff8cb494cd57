"""The page every benchmark asks for: the README's product page, as a storefront sends it.

That is the storefront's `ProductPage` operation (storefront/operations/, in the repo's manifest):
the README's query with its literals as variables, one text for every shopper. It goes out as text
(`page_body`) or by its manifest id (`page_body(..., by_id=True)`); tests/e2e/test_bench_page.py
checks it answers what the README's literal query answers.
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "storefront" / "persisted-query-manifest.json"
_PAGE = next(op for op in json.loads(MANIFEST.read_text())["operations"] if op["name"] == "ProductPage")
PAGE_QUERY, PAGE_ID = _PAGE["body"], _PAGE["id"]

STANDARD = "lumiere-sapphire-pendant"  # 30 variants: the standard product page
BIG = "seraphina-halo-ring"  # 220 variants: the CPU-heavy case
NY_ZIPS = [f"{z:05d}" for z in range(10001, 14900)]  # all in New York by the tax vendor's ZIP table


def page_body(handle: str, zip_code: str = "10001", text: str = "Forever Yours", *, by_id: bool = False) -> bytes:
    variables = {
        "handle": handle,
        "shipTo": {"countryCode": "US", "provinceCode": "NY", "zip": zip_code},
        "engraving": {"text": text, "font": "script", "placement": "INSIDE_BAND"},
    }
    document = {"documentId": PAGE_ID} if by_id else {"query": PAGE_QUERY}
    return orjson.dumps({**document, "variables": variables})
