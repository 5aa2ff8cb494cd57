"""bench/results/summary.md from the benchmarks' numbers: targets first, then every scenario."""

from __future__ import annotations

from typing import Any


def _ps(stats: dict[str, float] | None) -> str:
    return " / ".join(_p(stats, key) for key in ("median", "p95", "p99"))


def _p(stats: dict[str, float] | None, key: str) -> str:
    return f"{stats[key]:.1f}" if stats and key in stats else "n/a"


def render(doc: dict[str, Any]) -> str:
    failed = {k: v["error"] for k, v in doc["results"].items() if isinstance(v, dict) and "error" in v}
    r = {k: v for k, v in doc["results"].items() if k not in failed}
    m = doc["machine"]
    lines = [
        "# Bezel benchmarks",
        "",
        f"Command: `{doc['command']}` ({doc['elapsed_s']} s)  ",
        f"Machine: {m['cores']} cores, {m['cpu']}; {m['platform']}; Python {m['python']}; git {m['git']}; "
        f"{m['when']}  ",
        f"Versions: {', '.join(f'{k} {v}' for k, v in m['versions'].items())}  ",
        "Setup: sandbox vendors at fixed latencies (catalog 45, inventory 35, tax 90, insurance 180, bnpl 70, "
        "engraving 240, payments 280, erp 150, wms 110, crm 80 ms); `bezel serve` as it ships (production "
        "settings, one worker process) pinned to core 0; sandbox, workers and load generators on core 1.",
        "",
    ]
    reruns = {k: v["rerun"] for k, v in doc["results"].items() if isinstance(v, dict) and "rerun" in v}
    if reruns:
        lines += ["Rerun since, on the same machine: " + "; ".join(
            f"`{name}` at git {x['git']} ({x['when']}, `{x['command']}`)" for name, x in sorted(reruns.items())), ""]
    targets = []
    page = r.get("product_page_30", {}).get("fixed_rate")
    if page and page.get("overhead_ms"):
        views = (("as the client sees it", page["overhead_ms"]),
                 ("inside the gateway", page.get("gateway_overhead_ms")))
        for view, o in views:
            if o:
                targets.append((f"Gateway overhead p50 at 100 rps, 30 variants ({view})", "<= 3 ms",
                                f"{o['median']:.1f} ms", o["median"] <= 3))
                targets.append((f"Gateway overhead p99 at 100 rps, 30 variants ({view})", "<= 10 ms",
                                f"{o['p99']:.1f} ms", o["p99"] <= 10))
    if page and page.get("gateway_cpu_us_per_page"):
        cpu = page["gateway_cpu_us_per_page"]
        targets.append(("CPU per new shopper's README page at 100 rps (catalog and BNPL cached, the rest live)",
                        "<= 3.0 ms", f"{cpu / 1000:.2f} ms", cpu <= 3000))
    by_id = r.get("trusted_vs_text", {}).get("id")
    if by_id:
        targets.append(("Warm README page sent by id, throughput per process (wrk, 16 connections)", ">= 1,500 rps",
                        f"{by_id['throughput_rps']:.0f} rps", by_id["throughput_rps"] >= 1500))
    ov = r.get("overload", {}).get("adaptive")
    if ov:
        calm, past = ov["at_half_capacity"]["answered_latency_ms"], ov["past_capacity"]["answered_latency_ms"]
        if calm and past:
            targets.append(("At 150% of capacity: answered pages' p99 vs at 50% (adaptive in-flight limit)", "<= 1.5x",
                            f"{past['p99'] / calm['p99']:.2f}x", past["p99"] <= 1.5 * calm["p99"]))
    warm = r.get("warm_ceiling", {}).get("c16")
    if warm:
        targets.append(("Warm-cache throughput per worker", ">= 400 rps", f"{warm['throughput_rps']:.0f} rps",
                        warm["throughput_rps"] >= 400))
    hung = r.get("degraded", {}).get("engraving_hung")
    if hung:
        targets.append(("Hung vendor: p99", "<= budget + 10 ms (1210)", f"{hung['latency_ms']['p99']:.0f} ms",
                        hung["latency_ms"]["p99"] <= 1210))
        targets.append(("Hung vendor: non-200 responses", "0", str(hung["non_200"]), hung["non_200"] == 0))
    store = r.get("storefront")
    if store:
        ratio = store["ratio_sequential_vs"]["bezel_new_shopper"]
        targets.append(("Page ready vs today's sequential browser (new shopper)", ">= 3x", f"{ratio:.2f}x",
                        ratio >= 3))
    ua = r.get("under_attack")
    if ua:
        worst = max(ua["p99_vs_healthy"].values())
        targets.append(("Under attack: shoppers' p99 vs healthy (worst attack)", "<= 1.5x", f"{worst:.2f}x",
                        worst <= 1.5))
        targets.append(("Under attack: shopper non-200", "0", str(ua["shopper_non_200"]), ua["shopper_non_200"] == 0))
    b = r.get("browser", {}).get("engraving_1s")
    if b and "title_after_request_ms" in b["defer"]:
        title, catalog = b["defer"]["title_after_request_ms"]["median"], r["browser"]["catalog_ms"]
        targets.append(("Browser, engraving at 1 s: title painted with @defer, from the query leaving (median)",
                        f"<= catalog + 60 ms ({catalog + 60:.0f})", f"{title:.0f} ms", title <= catalog + 60))
    if targets:
        lines += ["## Targets", "", "| target | wanted | measured | met |", "|---|---|---|---|"]
        lines += [f"| {name} | {want} | {got} | {'yes' if ok else '**no**'} |" for name, want, got, ok in targets]
        lines.append("")
    for key, title in (("product_page_30", "1. Product page, 30 variants, healthy vendors"),
                       ("product_page_220", "2. Product page, 220 variants, healthy vendors")):
        if key not in r:
            continue
        f = r[key]["fixed_rate"]
        lines += [f"## {title}", "",
                  "Every request is a different shopper (address, engraving text): tax, insurance and engraving are "
                  "mostly asked live; the product and BNPL terms come from cache.", "",
                  "| load | requests | throughput | latency p50 / p95 / p99 (ms) | overhead, client view "
                  "p50 / p95 / p99 (ms) | overhead inside the gateway p50 / p95 / p99 (ms) | non-200 | with errors |",
                  "|---|---|---|---|---|---|---|---|",
                  f"| {f['rate_rps']} rps fixed, open loop | {f['requests']} | {f['throughput_rps']} rps | "
                  f"{_ps(f['latency_ms'])} | {_ps(f['overhead_ms'])} | {_ps(f.get('gateway_overhead_ms'))} | "
                  f"{f['non_200']} | {f['with_errors']} |"]
        s = r[key].get("saturation")
        if s:
            lines.append(f"| saturation (wrk, 64 connections) | {s['requests']} | "
                         f"{s['throughput_rps']:.0f} rps answered | "
                         f"{s['latency_ms']['p50']:.1f} / - / {s['latency_ms']['p99']:.1f} | gateway CPU "
                         f"{s.get('gateway_cpu_us_per_request', 'n/a')} us per page answered | - | "
                         f"{s['non_2xx']} (shed) | - |")
        lines += ["", f"Vendors' critical path p50: {_p(f['vendor_critical_ms'], 'median')} ms; load generator used "
                  f"{f['generator_cpu'] * 100:.0f}% of its core; the gateway used "
                  f"{f.get('gateway_cpu_us_per_page', 'n/a')} us of CPU per page at the fixed rate. "
                  "Errors in answered pages: "
                  f"{f.get('errors_by_code') or 'none'}. Overhead = latency minus the vendors' critical path "
                  "(catalog, then the slowest other vendor, from `extensions.vendors`); the client view takes the "
                  "latency the generator saw, inside the gateway takes its `Server-Timing` (parse, execute, encode; "
                  "no network, no client work).", ""]
    w = r.get("warm_ceiling")
    if w:
        lines += ["## 3. Warm caches: the gateway's own ceiling (30 variants, every answer cached)", "",
                  "| connections | throughput | latency p50 / p99 (ms) | gateway CPU per request |",
                  "|---|---|---|---|"]
        for c in ("c16", "c64"):
            if c in w:
                x = w[c]
                lines.append(f"| {c[1:]} | {x['throughput_rps']:.0f} rps | {x['latency_ms']['p50']:.1f} / "
                             f"{x['latency_ms']['p99']:.1f} | {x.get('gateway_cpu_us_per_request')} us |")
        lines += ["", f"Vendor calls during the runs: {w['vendor_calls_during_run']}. Profile: "
                  "`bench/results/warm_profile.txt`.", ""]
    d = r.get("degraded")
    if d:
        lines += ["## 4. A vendor hung, a vendor failing half the time (50 rps)", "",
                  "| case | latency p50 / p95 / p99 (ms) | non-200 | served stale | VENDOR_UNAVAILABLE "
                  "| breaker after |",
                  "|---|---|---|---|---|---|"]
        for name, x in d.items():
            lines.append(f"| {name} | {_p(x['latency_ms'], 'median')} / {_p(x['latency_ms'], 'p95')} / "
                         f"{_p(x['latency_ms'], 'p99')} | {x['non_200']} | {x['share_stale'] * 100:.0f}% | "
                         f"{x['share_unavailable'] * 100:.0f}% | {x['readyz']['breaker']} |")
        lines.append("")
    st = r.get("storefront")
    if st:
        lines += ["## 5. What storefronts do today, on the same sandbox", "",
                  f"Page-ready time, median of {st['runs']} runs (ms): the browser asks the catalog, then the five "
                  "other vendors (six calls), with no timeouts; Bezel answers one query.", "",
                  "| how | p50 | p95 | sequential / this | parallel / this |", "|---|---|---|---|---|",
                  f"| browser, one call after another | {_p(st['browser_sequential_ms'], 'median')} | "
                  f"{_p(st['browser_sequential_ms'], 'p95')} | 1.00x | - |",
                  f"| browser, in parallel after the catalog | {_p(st['browser_parallel_ms'], 'median')} | "
                  f"{_p(st['browser_parallel_ms'], 'p95')} | - | 1.00x |"]
        for key, label in (("bezel_nothing_cached", "Bezel, nothing cached (every vendor live)"),
                           ("bezel_new_shopper", "Bezel, a new shopper on a viewed product"),
                           ("bezel_returning_page", "Bezel, a page already answered")):
            lines.append(f"| {label} | {_p(st[key + '_ms'], 'median')} | {_p(st[key + '_ms'], 'p95')} | "
                         f"{st['ratio_sequential_vs'][key]}x | {st['ratio_parallel_vs'][key]}x |")
        lines.append("")
    c = r.get("checkout")
    if c:
        po = c["place_order"]
        lag = c["sync_lag_ms"]
        lines += ["## 6. Checkout", "",
                  f"placeOrder, {po['concurrency']} clients back to back for {po['seconds']} s: **{po['orders_per_s']} "
                  f"orders/s**, confirmation latency p50 {_p(po['latency_ms'], 'median')} / p95 "
                  f"{_p(po['latency_ms'], 'p95')} / p99 {_p(po['latency_ms'], 'p99')} ms (the payment authorization "
                  f"alone takes {po['payments_latency_ms']} ms). Outcomes: {po['outcomes']}.", "",
                  f"Downstream sync with the ERP ten times slower ({c['erp_latency_ms']} ms per call), "
                  f"{c['sync_orders']} orders at 4/s, order confirmed -> system has it (ms). The worker first "
                  f"synced the orders above at normal speed ({c.get('backlog_drained_s', 'n/a')} s), so these "
                  "are the new orders' own lag:", "",
                  "| system | p50 | p95 | max |", "|---|---|---|---|"]
        for system in ("erp", "wms", "crm"):
            if system in lag:
                lines.append(f"| {system} | {_p(lag[system], 'median')} | {_p(lag[system], 'p95')} | "
                             f"{_p(lag[system], 'max')} |")
        lines += ["", f"Not synced after 120 s: {lag['unsynced_after_120s']}.", ""]
    t = r.get("tracing")
    if t:
        lines += ["## 7. Tracing off, on, and sampled 1 in 10 (warm 30-variant page, saturation, alternating runs)", "",
                  "| tracing | throughput | gateway CPU per request | p50 / p99 (ms) |", "|---|---|---|---|",
                  *(f"| {mode} | {t[mode]['throughput_rps']:.0f} rps | "
                    f"{t[mode]['gateway_cpu_us_per_request']:.0f} us | "
                    f"{t[mode]['p50_ms']:.1f} / {t[mode]['p99_ms']:.1f} |"
                    for mode in ("off", "on", "sampled_10pct") if mode in t),
                  "", f"Cost of tracing every request: {t['cost_us_per_request']} us of CPU per request; sampling "
                  f"one trace in ten (`OTEL_TRACES_SAMPLER=parentbased_traceidratio`, `OTEL_TRACES_SAMPLER_ARG=0.1`): "
                  f"{t.get('sampled_cost_us_per_request', 'n/a')} us. In-process detail, and "
                  "why fields are not traced one by one: `bench/results/tracing_cost.md`.", ""]

    tv = r.get("trusted_vs_text")
    if tv:
        lines += ["## 8. A trusted document by id vs the same document as text (warm README page, wrk, 16 connections)",
                  "", "| sent as | throughput | gateway CPU per request |", "|---|---|---|",
                  *(f"| {mode} | {tv[mode]['throughput_rps']:.0f} rps | "
                    f"{tv[mode]['gateway_cpu_us_per_request']:.0f} us |" for mode in ("text", "id")),
                  "", f"By id: {tv['cpu_saved_pct']}% less CPU per page (best of {len(tv['runs']['id'])} alternating "
                  "runs each). An id skips parsing, validation, the document-cache lookup and the cost count.", ""]
    da = r.get("document_attack")
    if da:
        lines += ["## 9. Shoppers while an attacker sends hostile documents", "",
                  "New shoppers on the README page; the attacker alternates validation bombs (480 copies of "
                  "`variants { id }`, each a new text) and fan-outs over a 50-product listing.", "",
                  "| gateway | run | latency p50 / p95 / p99 (ms) | non-200 | pages missing a vendor | vendor calls |",
                  "|---|---|---|---|---|---|"]
        for mode, label in (("texts_accepted", "texts accepted"), ("require_trusted", "require_trusted")):
            x = da.get(mode)
            if not x:
                continue
            for run, name in (("healthy", f"shoppers alone ({x['rate_rps']} rps)"),
                              ("under_attack", f"+ {x['attack_rate_rps']} hostile documents/s")):
                lines.append(f"| {label} | {name} | {_ps(x[run]['latency_ms'])} | {x[run]['non_200']} | "
                             f"{x[run]['with_errors']} | {x['vendor_calls'][run]} |")
            lines.append(f"| {label} | the attacker | {_ps(x['attacker']['latency_ms'])} | HTTP "
                         f"{x['attacker']['statuses']}, {x['attacker']['codes'] or 'refused unparsed'} | - | - |")
        lines.append("")
    ua = r.get("under_attack")
    if ua:
        lines += [f"## 10. Shoppers under attack (new shoppers at {ua['rate_rps']} rps, README page; each attack in "
                  "turn, against the default limits and timeouts)", "",
                  "| run | shoppers p50 / p95 / p99 (ms) | p99 vs healthy | non-200 | what the attacker got |",
                  "|---|---|---|---|---|"]
        for phase, name in (("healthy", "shoppers alone"), ("stock_hold", "+ 8 declining-card loops on the ring"),
                            ("slow_connections", "+ 200 slow connections"), ("flood", "+ one client at 10x its limit"),
                            ("oversized_orders", "+ an $1.1M order every second (past Stripe's limit)"),
                            ("document_bombs", "+ fragment bomb, @defer fan-outs, 10/s"),
                            ("decline_lockout", "+ 3 declines aimed at a buyer's email"),
                            ("apq_flood", "+ 62 KB APQ registrations, 20/s")):
            x = ua.get(phase)
            if not x:
                continue
            ratio = ua["p99_vs_healthy"].get(phase, 1.0)
            lines.append(f"| {name} | {_ps(x['shoppers']['latency_ms'])} | {ratio:.2f}x | "
                         f"{x['shoppers']['non_200']} | {_attacker(x['attacker'])} |")
        lines += ["", f"Shopper non-200 in all: {ua['shopper_non_200']}. What the operator sees on the admin port: "
                  + ", ".join(f"`{k}` {v:.0f}" for k, v in sorted(ua.get("operator_metrics", {}).items())) + ".", ""]
    b = r.get("browser")
    if b:
        lines += [f"## 11. The product page in headless Chromium ({b['loads']} new shoppers per row; the catalog "
                  f"answers in {b['catalog_ms']:.0f} ms)", "",
                  "| vendors | page asks | title painted p50 / p95 (ms) | title after the query left, p50 / p95 | "
                  "page complete p50 / p95 (ms) |", "|---|---|---|---|---|"]
        for case, name in (("usual", "usual latencies"), ("engraving_1s", "engraving slowed to 1 s")):
            row = b.get(case)
            if not row:
                continue
            for mode, label in (("defer", "with @defer"), ("no_defer", "one JSON answer")):
                m = row[mode]
                q = m.get("title_after_request_ms")
                lines.append(f"| {name} | {label} | {_p(m['title_ms'], 'median')} / {_p(m['title_ms'], 'p95')} | "
                             f"{_p(q, 'median')} / {_p(q, 'p95')} | "
                             f"{_p(m['complete_ms'], 'median')} / {_p(m['complete_ms'], 'p95')} |")
        lines += ["", "Times from navigation start (Performance API marks `bezel:title` and `bezel:complete`); "
                  "\"after the query left\" from `bezel:request` (before it, the page loads its HTML, modules and "
                  "the operations' manifest).", ""]
    ov = r.get("overload")
    if ov:
        lines += [f"## 13. Past capacity: new shoppers at {ov['factor']:.0%} of one process's capacity "
                  f"({ov['rate_rps']} rps; capacity {ov['capacity_rps']:.0f} rps measured by wrk in this run)", "",
                  "| in-flight limit | load | answered | answered p50 / p95 / p99 (ms) | answered missing a vendor "
                  "| shed (503) | shed p50 / p99 (ms) |", "|---|---|---|---|---|---|---|"]
        for case, name in (("fixed_256", "fixed at 256"), ("adaptive", "adaptive (loop lag)")):
            for load, label in (("at_half_capacity", "50%"), ("past_capacity", f"{ov['factor']:.0%}")):
                x = ov[case][load]
                shed = x["statuses"].get("503", x["statuses"].get(503, 0))
                lines.append(f"| {name} | {label} | {x['answered_rps']} rps | {_ps(x['answered_latency_ms'])} | "
                             f"{x['answered_missing_a_vendor']} | {shed} | "
                             f"{_p(x['shed_latency_ms'], 'median')} / {_p(x['shed_latency_ms'], 'p99')} |")
        lines += ["", "Latency from each request's scheduled start (open loop). Other statuses: "
                  + "; ".join(f"{c}: {ov[c]['past_capacity']['statuses']}" for c in ("fixed_256", "adaptive")), ""]
    if failed:
        lines += ["## Scenarios that failed in this run", "", *(f"- `{k}`: {v}" for k, v in failed.items()), ""]
    sc = r.get("scaling")
    if sc:
        lines += [f"## 12. Two worker processes on one Redis node vs a 3-master Redis Cluster (new shoppers at "
                  f"{sc['rate_rps']} rps, then a returning shopper, then orders)", "",
                  "| Redis | new shopper: CPU per page | Redis commands per page | returning: CPU per page | "
                  "commands per page | commands per order | non-200 |", "|---|---|---|---|---|---|---|"]
        for case, name in (("single_node", "one node"), ("cluster_3_masters", "3-master cluster")):
            x = sc.get(case)
            if not x:
                continue
            new, back, orders = x["new_shoppers"], x["returning_shopper"], x["orders"]
            lines.append(f"| {name} | {new['gateway_cpu_us_per_page']} us | {new['redis_commands_per_page']} | "
                         f"{back['gateway_cpu_us_per_page']} us | {back['redis_commands_per_page']} | "
                         f"{orders['redis_commands_per_order']} | {new['non_200'] + back['non_200']} |")
        lines += ["", f"CPU per new shopper's page on the cluster vs one node: "
                  f"{sc['cpu_per_page_cluster_vs_single']}x. Both workers share the gateway's one core (work per "
                  "page, not speed-up, is measured); Redis counts are the servers' own (INFO commandstats).", ""]
    return "\n".join(lines) + "\n"


def _attacker(a: dict[str, Any]) -> str:
    if "aimed_declines" in a:
        return f"declines aimed at her email: {a['aimed_declines']}; the buyer, her own card: {a['buyer_first_try']}"
    if "slowest_ms" in a:
        return f"{a['sent']} documents: {a['answers']}; the slowest answered in {a['slowest_ms']} ms"
    if "sent" in a:
        return f"{a['sent']} registrations: HTTP {a['statuses']}"
    if "outcomes" in a:
        return (f"{a['attempts']} attempts: {a['outcomes']}; the buyer who came halfway: {a['buyer_first_try']} "
                "on the first try")
    if "answers" in a:
        return f"{a['connections']} connections, answers {a['answers'] or 'none yet (still inside their timeouts)'}"
    if "statuses" in a:
        return f"{a['requests']} requests: HTTP {a['statuses']}"
    return "-"
