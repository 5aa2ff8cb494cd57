"""Trusted documents, measured: the same warm page sent as text and by id, and shoppers' pages while
an attacker sends documents built to burn CPU (validation bombs) or fan out over vendors."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import orjson

from bench import env, loadgen, wrk
from bench.pages import MANIFEST, STANDARD, page_body
from bench.summaries import shopper_mix, summary, wrk_summary


def _manifest_env() -> dict[str, str]:
    return {"BEZEL_DOCUMENTS__MANIFEST": str(MANIFEST)}


def trusted_vs_text(box: env.Sandbox, *, seconds: int, rounds: int = 2) -> dict[str, Any]:
    """Every answer cached; the README page as text, then by its manifest id, alternating `rounds` times."""
    box.reset()
    box.stock_all(STANDARD, 10)
    bodies = {"text": page_body(STANDARD), "id": page_body(STANDARD, by_id=True)}
    runs: dict[str, list[dict[str, Any]]] = {"text": [], "id": []}
    with env.gateway(box, **_manifest_env()) as gw:
        url = f"{gw.url}/graphql"
        for body in bodies.values():
            loadgen.warm(url, body)
        for _ in range(rounds):
            for mode, body in bodies.items():
                cpu0 = gw.cpu_seconds()
                result = wrk.run(url, [body], seconds=seconds, connections=16, name=f"doc-{mode}")
                runs[mode].append(wrk_summary(result, gw.cpu_seconds() - cpu0))
    out: dict[str, Any] = {"runs": runs}
    for mode, results in runs.items():
        out[mode] = {"throughput_rps": max(r["throughput_rps"] for r in results),
                     "gateway_cpu_us_per_request": min(r["gateway_cpu_us_per_request"] for r in results)}
    out["cpu_saved_pct"] = round(100 * (1 - out["id"]["gateway_cpu_us_per_request"]
                                        / out["text"]["gateway_cpu_us_per_request"]), 1)
    return out


def attack_documents(n: int) -> list[bytes]:
    """Documents an attacker would send: each validation bomb a new text (whitespace varied, so no cache
    helps), alternating with a fan-out over a product listing."""
    bomb = '{ product(handle: "aurelia-solitaire-ring") { ' + " ".join(["variants { id }"] * 480) + " } }"
    fan_out = "{ products(first: 50) { nodes { " + " ".join(
        f't{i}: taxEstimate(shipTo: {{countryCode: "US", provinceCode: "NY", zip: "1{i:04d}"}}) {{ rate }}'
        for i in range(15)) + " } } }"
    return [orjson.dumps({"query": (bomb + " " * i) if i % 2 == 0 else (fan_out + " " * i)}) for i in range(n)]


def under_document_attack(box: env.Sandbox, *, rate: float, attack_rate: float, seconds: float) -> dict[str, Any]:
    """Both ways a gateway can be configured: texts accepted (bounded by shape and cost), and the
    production setting, `require_trusted` (shoppers send ids; the attacker's texts are refused unparsed)."""
    return {"texts_accepted": _attacked(box, rate=rate, attack_rate=attack_rate, seconds=seconds, trusted=False),
            "require_trusted": _attacked(box, rate=rate, attack_rate=attack_rate, seconds=seconds, trusted=True)}


def _attacked(box: env.Sandbox, *, rate: float, attack_rate: float, seconds: float, trusted: bool) -> dict[str, Any]:
    """New shoppers at `rate` on the README page: alone, then while `attack_rate` attack documents/s arrive."""
    box.reset()
    shoppers = shopper_mix(STANDARD, by_id=trusted)
    attack = attack_documents(int(attack_rate * seconds) + 10)
    out: dict[str, Any] = {"rate_rps": rate, "attack_rate_rps": attack_rate}
    extra = {**_manifest_env(), "BEZEL_DOCUMENTS__REQUIRE_TRUSTED": "true"} if trusted else {}
    with env.gateway(box, **extra) as gw:
        url = f"{gw.url}/graphql"
        asyncio.run(loadgen.fixed_rate(url, shoppers[-200:], rate=20, seconds=5))  # warm-up
        calls0 = sum(box.calls().values())
        healthy = asyncio.run(loadgen.fixed_rate(url, shoppers[:int(rate * seconds)], rate=rate, seconds=seconds))
        out["healthy"] = summary(healthy)
        healthy_calls = sum(box.calls().values()) - calls0

        async def both() -> tuple[loadgen.Run, loadgen.Run]:
            shop = loadgen.fixed_rate(url, shoppers[int(rate * seconds):int(2 * rate * seconds)], rate=rate,
                                      seconds=seconds)
            hostile = loadgen.fixed_rate(url, attack, rate=attack_rate, seconds=seconds)
            return await asyncio.gather(shop, hostile)

        calls1 = sum(box.calls().values())
        shopped, attacked = asyncio.run(both())
        out["under_attack"] = summary(shopped)
        out["attacker"] = {"requests": len(attacked.samples),
                           "codes": {c: sum(1 for s in attacked.samples if c in s.error_codes)
                                     for c in {c for s in attacked.samples for c in s.error_codes}},
                           "statuses": {str(k): v for k, v in Counter(s.status for s in attacked.samples).items()},
                           "latency_ms": summary(attacked)["latency_ms"]}
        out["vendor_calls"] = {"healthy": healthy_calls, "under_attack": sum(box.calls().values()) - calls1}
    for key in ("healthy", "under_attack"):
        for raw in ("raw_latency_ms", "raw_overhead_ms", "raw_gateway_overhead_ms"):
            out[key].pop(raw, None)
    return out
