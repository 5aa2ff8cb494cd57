"""The product page in a real browser: when its title is painted, and when the whole page is, with and
without @defer (headless Chromium, Debian's; the demo storefront served by `bezel serve`).

Each load is a new shopper (a fresh browser context, its own ZIP and engraving text, so tax, insurance
and engraving are asked live) on the README's page; the storefront marks `bezel:title` when the title
is on screen and `bezel:complete` when every part is (Performance API, from navigation start), and
`bezel:request` when it sends the product query (before it: the page's own HTML, modules and the
operations' manifest). The same page asks for one JSON answer with `?defer=0`.
"""

from __future__ import annotations

import shutil
from typing import Any

from bench import env
from bench.common import percentiles
from bench.pages import NY_ZIPS, STANDARD

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
MARKS = """() => ({
  request: performance.getEntriesByName("bezel:request")[0]?.startTime,
  title: performance.getEntriesByName("bezel:title")[0]?.startTime,
  complete: performance.getEntriesByName("bezel:complete")[0]?.startTime,
})"""


def available() -> bool:
    return CHROMIUM is not None


def page_loads(box: env.Sandbox, *, loads: int) -> dict[str, Any]:
    """`loads` new shoppers per case: vendors at their usual latency, then engraving slowed to 1 s."""
    from playwright.sync_api import sync_playwright

    out: dict[str, Any] = {"loads": loads, "catalog_ms": box.latency_ms("catalog")}
    cases = {"usual": {}, "engraving_1s": {"engraving": 1000.0}}
    # Every load comes from this machine's one address: as many shoppers, not one client's budget.
    with env.gateway(box, BEZEL_LIMITS__PAGES="1000/second") as gw, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False)
        try:
            shopper = 0
            for case, latencies in cases.items():
                box.reset()
                box.fix_latencies(**latencies)
                _load(browser, f"{gw.url}/products/{STANDARD}?zip=10001")  # the browser's own first-load costs
                row: dict[str, Any] = {}
                for mode, flag in (("defer", ""), ("no_defer", "&defer=0")):
                    title, complete, after_request = [], [], []
                    for _ in range(loads):
                        shopper += 1
                        marks = _load(browser, f"{gw.url}/products/{STANDARD}?zip={NY_ZIPS[3000 + shopper]}"
                                               f"&engraving=Love+{shopper:04d}{flag}")
                        title.append(marks["title"])
                        complete.append(marks["complete"])
                        after_request.append(marks["title"] - marks["request"])
                    row[mode] = {"title_ms": percentiles(title), "complete_ms": percentiles(complete),
                                 "title_after_request_ms": percentiles(after_request)}
                row["title_saved_ms"] = round(row["no_defer"]["title_ms"]["median"]
                                              - row["defer"]["title_ms"]["median"], 1)
                out[case] = row
        finally:
            browser.close()
    box.reset()
    return out


def _load(browser: Any, url: str) -> dict[str, float]:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("document.body.dataset.pageState === 'complete'", timeout=15_000)
        marks = page.evaluate(MARKS)
        if None in marks.values():
            raise RuntimeError(f"the storefront did not mark its title and completion: {marks}")
        return marks
    finally:
        context.close()
