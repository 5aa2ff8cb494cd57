"""PNG charts of the results (matplotlib, no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def draw(results: dict[str, Any], stamp: str, out: Path) -> list[Path]:
    written = []
    fig, axes = plt.subplots(2, 2, figsize=(14, 9))
    fig.suptitle(f"Bezel benchmarks - {stamp}", fontsize=10)

    # 1. Latency percentiles at a fixed rate, and while degraded.
    ax = axes[0][0]
    rows = []
    for key, label in (("product_page_30", "30 variants"), ("product_page_220", "220 variants")):
        if key in results:
            rate = results[key]["fixed_rate"]["rate_rps"]
            rows.append((f"{label}\n{rate:g} rps", results[key]["fixed_rate"]["latency_ms"]))
    for key, label in (("engraving_hung", "engraving hung\n50 rps"), ("tax_failing_50pct", "tax failing 50%\n50 rps")):
        if key in results.get("degraded", {}):
            rows.append((label, results["degraded"][key]["latency_ms"]))
    _bars(ax, rows, ("median", "p95", "p99"), "latency (ms)")
    ax.axhline(1200, color="red", linestyle="--", linewidth=1)
    ax.text(0, 1215, "budget 1200 ms", color="red", fontsize=8)
    ax.set_title("Page latency: healthy and degraded vendors")

    # 2. Gateway overhead distribution.
    ax = axes[0][1]
    for key, label in (("product_page_30", "30 variants"), ("product_page_220", "220 variants")):
        if key in results:
            rate = results[key]["fixed_rate"]["rate_rps"]
            for raw, view, style in (("raw_overhead_ms", "client view", "-"),
                                     ("raw_gateway_overhead_ms", "inside gateway", "--")):
                data = sorted(results[key]["fixed_rate"].get(raw) or [])
                if data:
                    ax.plot(data, [i / len(data) for i in range(len(data))], linestyle=style,
                            label=f"{label}, {rate:g} rps, {view}")
    ax.axvline(3, color="green", linestyle=":", linewidth=1, label="target p50 3 ms")
    ax.axvline(10, color="red", linestyle=":", linewidth=1, label="target p99 10 ms")
    ax.set_xscale("log")
    ax.set_xlabel("gateway overhead per request (ms, log)")
    ax.set_ylabel("share of requests")
    ax.set_title("Overhead = latency - vendors' critical path")
    ax.legend(fontsize=8)

    # 3. Page-ready time: storefront today vs Bezel.
    ax = axes[1][0]
    store = results.get("storefront")
    if store:
        items = [("browser\nsequential", store["browser_sequential_ms"]["median"]),
                 ("browser\nparallel", store["browser_parallel_ms"]["median"]),
                 ("Bezel\nnothing cached", store["bezel_nothing_cached_ms"]["median"]),
                 ("Bezel\nnew shopper", store["bezel_new_shopper_ms"]["median"]),
                 ("Bezel\nreturning page", store["bezel_returning_page_ms"]["median"])]
        ax.bar([i[0] for i in items], [i[1] for i in items], color=["#999", "#bbb", "#6a8", "#4a7", "#2a6"])
        for i, (_, v) in enumerate(items):
            ax.text(i, v, f"{v:.0f}", ha="center", va="bottom", fontsize=8)
        ax.set_ylabel("page ready (ms, median)")
        ax.set_title("Storefront today vs one query to Bezel (same sandbox)")

    # 4. Throughput per worker process.
    ax = axes[1][1]
    items = []
    for key, label in (("product_page_30", "30 var.\nshoppers"), ("product_page_220", "220 var.\nshoppers")):
        if "saturation" in results.get(key, {}):
            items.append((label, results[key]["saturation"]["throughput_rps"]))
    warm = results.get("warm_ceiling", {})
    if "c16" in warm:
        items.append(("30 var.\nall cached", warm["c16"]["throughput_rps"]))
    tracing = results.get("tracing", {})
    if "on" in tracing:
        items.append(("all cached\ntracing on", tracing["on"]["throughput_rps"]))
    if "checkout" in results:
        items.append(("placeOrder\n(8 clients)", results["checkout"]["place_order"]["orders_per_s"]))
    ax.bar([i[0] for i in items], [i[1] for i in items], color="#58a")
    for i, (_, v) in enumerate(items):
        ax.text(i, v, f"{v:.0f}", ha="center", va="bottom", fontsize=8)
    ax.axhline(400, color="green", linestyle=":", linewidth=1)
    ax.text(0, 405, "target: 400 rps all cached", color="green", fontsize=8)
    ax.set_ylabel("requests per second, one worker")
    ax.set_title("Throughput at saturation (one pinned worker)")

    fig.tight_layout()
    path = out / "summary.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def _bars(ax: Any, rows: list[tuple[str, dict[str, float]]], keys: tuple[str, ...], ylabel: str) -> None:
    width = 0.8 / len(keys)
    for j, key in enumerate(keys):
        values = [r[1][key] for r in rows]
        positions = [i + (j - (len(keys) - 1) / 2) * width for i in range(len(rows))]
        ax.bar(positions, values, width=width, label=key)
        for x, v in zip(positions, values, strict=True):
            ax.text(x, v, f"{v:.0f}", ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
