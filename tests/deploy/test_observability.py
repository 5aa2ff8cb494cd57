"""deploy/observability/: the Grafana dashboard, the alert rules and the Prometheus Operator's objects, checked
against what Bezel really serves.

- promtool checks alerts.yaml and runs its unit tests (alerts.test.yaml): every alert shown firing and not firing.
  The PrometheusRule holds the same groups.
- Every metric a panel or a rule names, with every label value it matches on, is on the /metrics of a real
  `bezel serve` and `bezel worker` right after they start, before any traffic; histograms (which have no series
  before their first measurement) once a page, a checkout and its sync have happened.
- The manifests are valid: the dashboard's ConfigMap by kubernetes-validate; the PrometheusRule and the
  ServiceMonitors, which it does not know (CRDs), against the fields of their CRDs; and the ServiceMonitors
  select exactly the metrics Services of deploy/kubernetes, on ports that serve /metrics.
- A real Prometheus scraping a real gateway and worker every second evaluates every rule without error, knows
  every metric from the first scrapes, runs every panel's query, and fires the vendor alerts (their `for:` cut
  to 0s) once the sandbox breaks tax and pages keep asking for it.

promtool and prometheus are Debian's (`make test` installs them as root); without them their tests are skipped,
saying so, and fail with CI=true.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import httpx
import jsonschema
import kubernetes_validate
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from gateway.admin import admin_routes
from gateway.cli import _parser, worker_probe_app
from gateway.settings import AdminSettings
from sandbox.handle import Sandbox, free_port, wait_for
from tests.deploy.test_kubernetes import KUBERNETES_VERSIONS
from tests.e2e.test_checkout import PLACE, order_input
from tests.support import PRODUCT_PAGE_QUERY, ROOMY, ROOT, US_ADDRESS, run_switches

OBSERVABILITY = ROOT / "deploy" / "observability"
KUBERNETES = ROOT / "deploy" / "kubernetes"
ALERTS = OBSERVABILITY / "alerts.yaml"
DASHBOARD = OBSERVABILITY / "grafana-dashboard.json"
PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
# kubectl's client-side apply keeps the whole object in an annotation of at most this many bytes.
LAST_APPLIED_LIMIT = 262_144
DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
SELECTOR = re.compile(r"\b(bezel_[a-z0-9_]+)(?:\{([^}]*)\})?")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')
HISTOGRAM = re.compile(r"_(bucket|count|sum)$")
HOOPS = '{ product(handle: "gold-huggie-hoops") { variants { id sku } } }'


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}: the rules and a real Prometheus cannot be tested (`make test` installs "
                    "prometheus as root)", pytrace=False)
    pytest.skip(f"{reason}: apt-get install prometheus")


@pytest.fixture
def promtool() -> str:
    if PROMTOOL is None:
        _unavailable("promtool is not installed")
    return PROMTOOL


@pytest.fixture
def prometheus() -> str:
    if PROMETHEUS is None:
        _unavailable("prometheus is not installed")
    return PROMETHEUS


def _rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _panels() -> list[dict[str, Any]]:
    return [p for p in _dashboard()["panels"] if p["type"] != "row"]


def _exprs() -> dict[str, str]:
    """Every PromQL expression, by where it is: `panel <title> <refId>` or `alert <name>`."""
    found = {f"panel {p['title']} {t['refId']}": t["expr"] for p in _panels() for t in p["targets"]}
    found.update({f"alert {rule['alert']}": rule["expr"] for rule in _rules()})
    return found


def _wanted() -> dict[str, set[tuple[str, str, str]]]:
    """Every metric the expressions name, with the label matchers each is selected by (but `job`, a
    dashboard variable)."""
    wanted: dict[str, set[tuple[str, str, str]]] = {}
    for expr in _exprs().values():
        for name, matchers in SELECTOR.findall(expr):
            wanted.setdefault(name, set()).update(m for m in MATCHER.findall(matchers) if m[0] != "job")
    return wanted


# ---------------------------------------------------------------------------------------------------- the rules


def test_promtool_checks_the_rules(promtool: str) -> None:
    checked = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in checked.stdout


def test_promtool_runs_the_alert_unit_tests(promtool: str) -> None:
    tested = subprocess.run([promtool, "test", "rules", str(OBSERVABILITY / "alerts.test.yaml")],
                            capture_output=True, text=True, timeout=120, cwd=OBSERVABILITY)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_every_alert_is_tested_firing_and_not_firing_and_says_what_it_means() -> None:
    cases = [case for test in yaml.safe_load((OBSERVABILITY / "alerts.test.yaml").read_text())["tests"]
             for case in test["alert_rule_test"]]
    for rule in _rules():
        name = rule["alert"]
        assert re.fullmatch(r"Bezel[A-Z]\w+", name)
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert {"summary", "description"} <= rule["annotations"].keys(), name
        assert re.match(DURATION, rule["for"]), f"{name}: for: {rule['for']}"
        assert rule["for"] not in {"0", "0s", "0m"}, f"{name}: a sensible for:, not none"
        mine = [case for case in cases if case["alertname"] == name]
        assert any(case["exp_alerts"] for case in mine), f"{name} is never tested firing"
        assert any(not case["exp_alerts"] for case in mine), f"{name} is never tested not firing"


def test_the_prometheusrule_holds_the_same_groups_as_alerts_yaml() -> None:
    (rule,) = yaml.safe_load_all((OBSERVABILITY / "prometheusrule.yaml").read_text())
    groups, expected = rule["spec"]["groups"], yaml.safe_load(ALERTS.read_text())["groups"]
    differing = [f"{g['name']}/{r.get('alert')}" for g, e in zip(groups, expected, strict=False)
                 for r, x in zip(g["rules"], e["rules"], strict=False) if r != x]
    assert differing == [], "copy alerts.yaml's groups into prometheusrule.yaml: these differ"
    assert groups == expected


# ------------------------------------------------------------------------------------------------ the dashboard


def test_the_dashboard_asks_for_a_prometheus_data_source_and_uses_it_everywhere() -> None:
    dashboard = _dashboard()
    assert 36 <= dashboard["schemaVersion"] <= 41
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == ("datasource", "prometheus")
    wanted = {"type": "prometheus", "uid": "${datasource}"}
    assert variables["job"]["datasource"] == wanted
    for panel in _panels():
        assert panel["datasource"] == wanted, panel["title"]
        assert all(t["datasource"] == wanted for t in panel["targets"]), panel["title"]
        assert panel["description"], panel["title"]
    assert len({p["id"] for p in _dashboard()["panels"]}) == len(_dashboard()["panels"])
    titles = [p["title"] for p in _dashboard()["panels"] if p["type"] == "row"]
    for area in ("Pages", "budget", "shedding", "Vendors", "Checkout", "Payments", "queue", "sync", "Inventory"):
        assert any(area in title for title in titles), f"no row for {area}"


def test_the_dashboard_covers_what_operators_were_promised() -> None:
    """Pages, vendors' outcomes and freshness, the budget, shedding, checkout, payments, the queue, sync, ghost
    offers and inventory mismatches: each named metric is on some panel."""
    on_panels = {name for p in _panels() for t in p["targets"] for name, _ in SELECTOR.findall(t["expr"])}
    assert on_panels >= {
        "bezel_graphql_request_duration_seconds_count", "bezel_graphql_request_duration_seconds_bucket",
        "bezel_requests_refused_total", "bezel_vendor_calls_total", "bezel_vendor_fallbacks_total",
        "bezel_vendor_unavailable_total", "bezel_breaker_state", "bezel_requests_shed_total",
        "bezel_checkout_requests_total", "bezel_checkout_duration_seconds_bucket", "bezel_checkout_refused_total",
        "bezel_order_confirmation_delay_seconds_bucket", "bezel_payment_failures_total", "bezel_payment_reasks_total",
        "bezel_payment_voids_total", "bezel_queue_lag", "bezel_queue_pending", "bezel_queue_dead_letters",
        "bezel_order_sync_attempts_total", "bezel_order_sync_delay_seconds_bucket", "bezel_ghost_offers_total",
        "bezel_inventory_mismatches_total"}


# ------------------------------------------------------------------------------- what a real gateway serves


@dataclass
class Running:
    """A `bezel serve` (its public and admin ports) and a `bezel worker` (its metrics port), as processes."""

    url: str
    admin: str
    worker: str

    def metrics(self) -> dict[str, list[dict[str, str]]]:
        """Every series on both processes' /metrics: name -> the label sets it has."""
        series: dict[str, list[dict[str, str]]] = {}
        for url in (self.admin, self.worker):
            text = httpx.get(f"{url}/metrics", timeout=10).text
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    series.setdefault(sample.name, []).append(dict(sample.labels))
        return series


@contextlib.contextmanager
def running_bezel(sandbox: Sandbox, redis_url: str, tmp_path: Path, **env: str) -> Iterator[Running]:
    port, admin, metrics = free_port(), free_port(), free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("BEZEL_", "OTEL_"))}
    environment.pop("REDIS_URL", None)
    environment.update({**ROOMY, "BEZEL_ENV": "test", "BEZEL_SANDBOX__URL": sandbox.url, "REDIS_URL": redis_url,
                        "BEZEL_ADMIN__PORT": str(admin), **run_switches(), **env})
    bezel = [sys.executable, "-m", "gateway.cli"]
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for name, args in (("serve", ["serve", "--port", str(port)]),
                           ("worker", ["worker", "--metrics-port", str(metrics)])):
            log = tmp_path / f"{name}.log"
            with log.open("wb") as out:
                processes.append((subprocess.Popen([*bezel, *args], env=environment, stdout=out,
                                                   stderr=subprocess.STDOUT, cwd=ROOT), log))
        running = Running(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{admin}", f"http://127.0.0.1:{metrics}")
        try:
            wait_for(f"{running.admin}/readyz", timeout=30)
            wait_for(f"{running.worker}/healthz", timeout=30)
        except RuntimeError as exc:
            logs = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for _, log in processes)
            raise AssertionError(f"{exc}\n{logs}") from exc
        yield running
    finally:
        for process, _ in processes:
            if process.poll() is None:
                process.terminate()
        for process, _ in processes:
            process.wait(timeout=30)


def _missing(series: dict[str, list[dict[str, str]]], names: Callable[[str], bool]) -> list[str]:
    """What the panels and rules select that has no series: a metric, or a label value it is matched on."""
    missing = []
    for name, matchers in sorted(_wanted().items()):
        if not names(name):
            continue
        if name not in series:
            missing.append(name)
            continue
        for label, op, value in sorted(matchers):
            if op in {"=", "=~"} and not any(re.fullmatch(value, labels.get(label, "")) for labels in series[name]):
                missing.append(f'{name}{{{label}{op}"{value}"}}')
    return missing


def _until(read: Callable[[], list[str]], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    while (missing := read()) and time.monotonic() < deadline:
        time.sleep(0.1)
    return missing


def test_every_metric_a_panel_or_rule_selects_is_served_from_start_up(sandbox: Sandbox, redis_url: str,
                                                                     tmp_path: Path) -> None:
    """Counters and gauges before any traffic, each label value a query matches on included (a counter that
    appeared at its first event would leave an alert nothing to watch, and its first event unseen); histograms
    have no series before their first measurement: once a page, a checkout and its sync have happened."""
    with running_bezel(sandbox, redis_url, tmp_path) as bezel:
        # Within a second of start (the queue watcher's first read of Redis), before any request.
        missing = _until(lambda: _missing(bezel.metrics(), lambda n: not HISTOGRAM.search(n)), timeout=10)
        assert missing == [], "not on /metrics from start-up"
        with httpx.Client(base_url=bezel.url, timeout=10) as client:
            assert client.post("/graphql", json={"query": PRODUCT_PAGE_QUERY}).json()["data"]["product"]["title"]
            hoops = client.post("/graphql", json={"query": HOOPS}).json()["data"]["product"]["variants"][2]
            sandbox.set_stock(hoops["sku"], 4)
            placed = client.post("/graphql", json={"query": PLACE, "variables": {
                "i": order_input([{"variantId": hoops["id"]}])}}).json()
        assert placed["data"]["placeOrder"]["order"], placed
        missing = _until(lambda: _missing(bezel.metrics(), lambda n: True), timeout=15)
        assert missing == [], "not on /metrics after a page, a checkout and its sync"


# ------------------------------------------------------------------------------------------------ the manifests


def _observability_objects() -> list[dict[str, Any]]:
    """What `kubectl apply -k deploy/observability` creates: its resources, and the dashboard's ConfigMap."""
    kustomization = yaml.safe_load((OBSERVABILITY / "kustomization.yaml").read_text())
    objects = [doc for name in kustomization["resources"]
               for doc in yaml.safe_load_all((OBSERVABILITY / name).read_text()) if doc]
    for generator in kustomization["configMapGenerator"]:
        objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": generator["name"], "labels": generator["options"]["labels"]},
                        "data": {name: (OBSERVABILITY / name).read_text() for name in generator["files"]}})
    return objects


def test_the_kustomization_applies_every_manifest_and_the_dashboard() -> None:
    kustomization = yaml.safe_load((OBSERVABILITY / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == ["prometheusrule.yaml", "servicemonitor.yaml"]
    assert "namespace" not in kustomization, "namespace-agnostic: -n or an overlay chooses it"
    (generator,) = kustomization["configMapGenerator"]
    assert generator["files"] == [DASHBOARD.name]
    assert generator["options"]["labels"]["grafana_dashboard"] == "1"  # what Grafana's sidecar looks for
    assert generator["options"]["disableNameSuffixHash"] is True
    assert len(DASHBOARD.read_bytes()) < LAST_APPLIED_LIMIT / 2, "too large for `kubectl apply` (client-side)"


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_objects_are_valid_kubernetes(version: str) -> None:
    """Core objects with kubernetes-validate (strict); the Prometheus Operator's, which it does not know,
    their metadata with it and their spec against the fields of their CRDs (monitoring.coreos.com/v1)."""
    kinds = []
    for obj in _observability_objects():
        kinds.append(obj["kind"])
        where = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"] == "monitoring.coreos.com/v1":
            jsonschema.validate(obj, CRD_SCHEMAS[obj["kind"]])
            obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": obj["metadata"]}  # its ObjectMeta
        try:
            kubernetes_validate.validate(obj, desired_version=version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{where} is not valid Kubernetes {version}: {'.'.join(map(str, exc.path))}: {exc.message}")
    assert sorted(kinds) == ["ConfigMap", "PrometheusRule", "ServiceMonitor", "ServiceMonitor"]


def test_the_crd_checks_are_not_vacuous() -> None:
    (rule,) = [o for o in _observability_objects() if o["kind"] == "PrometheusRule"]
    monitor = next(o for o in _observability_objects() if o["kind"] == "ServiceMonitor")
    misspelt = json.loads(json.dumps(rule))
    misspelt["spec"]["groups"][0]["rules"][0]["for_"] = "5m"
    bad_duration = json.loads(json.dumps(rule))
    bad_duration["spec"]["groups"][0]["rules"][0]["for"] = "5 minutes"
    no_port = json.loads(json.dumps(monitor))
    no_port["spec"]["endpoints"][0]["portName"] = no_port["spec"]["endpoints"][0].pop("port")
    for wrong in (misspelt, bad_duration):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(wrong, CRD_SCHEMAS["PrometheusRule"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(no_port, CRD_SCHEMAS["ServiceMonitor"])


def test_the_servicemonitors_scrape_the_metrics_services_on_ports_that_serve_metrics() -> None:
    services = [doc for path in sorted(KUBERNETES.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())
                if doc and doc["kind"] == "Service"]
    scraped = {}
    for monitor in (o for o in _observability_objects() if o["kind"] == "ServiceMonitor"):
        wanted = monitor["spec"]["selector"]["matchLabels"]
        selected = [s for s in services if wanted.items() <= s["metadata"]["labels"].items()]
        assert selected, f"{monitor['metadata']['name']} selects no Service"
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["path"] == "/metrics"
            ports = [(s["metadata"]["name"], p["port"]) for s in selected for p in s["spec"]["ports"]
                     if p["name"] == endpoint["port"]]
            assert len(ports) == 1, f"{monitor['metadata']['name']}: port {endpoint['port']} on {ports}"
            scraped[monitor["metadata"]["name"]] = ports[0]
    assert scraped == {"bezel-gateway": ("bezel-gateway-admin", AdminSettings().port),
                       "bezel-worker": ("bezel-worker-metrics", _parser().parse_args(["worker"]).metrics_port)}
    assert "/metrics" in {r.path for r in admin_routes()}  # the admin port's app
    assert "/metrics" in {getattr(r, "path", None) for r in worker_probe_app().routes}


_STRINGS = {"type": "object", "additionalProperties": {"type": "string"}}
_SELECTOR = {"type": "object", "additionalProperties": False, "properties": {
    "matchLabels": _STRINGS, "matchExpressions": {"type": "array"}}}
_METADATA = {"type": "object", "required": ["name"]}
# The fields of the Prometheus Operator's CRDs (monitoring.coreos.com/v1) these objects may use, strict like
# kubernetes-validate: an unknown field (a typo) is an error. Durations as the CRDs' own pattern has them.
CRD_SCHEMAS: dict[str, dict[str, Any]] = {
    "PrometheusRule": {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "PrometheusRule"},
            "metadata": _METADATA,
            "spec": {"type": "object", "additionalProperties": False, "required": ["groups"], "properties": {
                "groups": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "additionalProperties": False, "required": ["name", "rules"], "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "interval": {"type": "string", "pattern": DURATION},
                        "limit": {"type": "integer"},
                        "rules": {"type": "array", "minItems": 1, "items": {
                            "type": "object", "additionalProperties": False, "required": ["expr"],
                            "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
                            "properties": {
                                "alert": {"type": "string"}, "record": {"type": "string"},
                                "expr": {"type": "string", "minLength": 1},
                                "for": {"type": "string", "pattern": DURATION},
                                "keep_firing_for": {"type": "string", "pattern": DURATION},
                                "labels": _STRINGS, "annotations": _STRINGS}}}}}}}}}},
    "ServiceMonitor": {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": False,
        "properties": {
            "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": "ServiceMonitor"},
            "metadata": _METADATA,
            "spec": {"type": "object", "additionalProperties": False, "required": ["selector", "endpoints"],
                     "properties": {
                         "selector": _SELECTOR, "jobLabel": {"type": "string"},
                         "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
                             "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
                         "endpoints": {"type": "array", "minItems": 1, "items": {
                             "type": "object", "additionalProperties": False, "required": ["port"], "properties": {
                                 "port": {"type": "string"}, "path": {"type": "string"},
                                 "scheme": {"enum": ["http", "https"]},
                                 "interval": {"type": "string", "pattern": DURATION},
                                 "scrapeTimeout": {"type": "string", "pattern": DURATION},
                                 "honorLabels": {"type": "boolean"}}}}}}}},
}


# ------------------------------------------------------------------------------------ a real Prometheus


@dataclass
class Prometheus:
    url: str

    def api(self, path: str, **params: Any) -> Any:
        answer = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10).json()
        assert answer["status"] == "success", answer
        return answer["data"]

    def firing(self) -> set[tuple[str, str]]:
        return {(a["labels"]["alertname"], a["labels"].get("vendor", "")) for a in self.api("alerts")["alerts"]
                if a["state"] == "firing"}


@contextlib.contextmanager
def running_prometheus(binary: str, tmp_path: Path, targets: dict[str, str]) -> Iterator[Prometheus]:
    """Prometheus scraping `targets` (job -> host:port) every second, with alerts.yaml's rules evaluated every
    second, each `for:` cut to 0s (the rules file's own durations are for production)."""
    rules = tmp_path / "alerts.yaml"
    rules.write_text(re.sub(r"(?m)^(\s+for:) \S+$", r"\1 0s", ALERTS.read_text()))
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}
                           for job, target in targets.items()]}))
    port = free_port()
    log = tmp_path / "prometheus.log"
    with log.open("wb") as out:
        process = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
                                    f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            wait_for(f"http://127.0.0.1:{port}/-/ready", timeout=20)
        except RuntimeError as exc:
            raise AssertionError(f"{exc}\n{log.read_text()[-3000:]}") from exc
        yield Prometheus(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=20)


def _eventually(check: Callable[[], Any], what: str, timeout: float = 20.0, every: Callable[[], None] | None = None
                ) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if every is not None:
            every()
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.25)


def test_a_real_prometheus_fires_the_vendor_alerts_when_tax_breaks(prometheus: str, sandbox: Sandbox, redis_url: str,
                                                                  tmp_path: Path) -> None:
    """Given a gateway and a worker scraped every second, when tax answers 500 and pages keep asking for a tax
    estimate it had answered before (stale) and for new ones (nothing to stand in), then BezelVendorStale and
    BezelVendorUnavailable fire for tax, and nothing fires for any other vendor."""
    env = {"BEZEL_VENDORS__TAX__CACHE_TTL_S": "0.2", "BEZEL_VENDORS__TAX__REVALIDATE_S": "0"}
    with running_bezel(sandbox, redis_url, tmp_path, **env) as bezel, \
            running_prometheus(prometheus, tmp_path, {"bezel-gateway": bezel.admin.removeprefix("http://"),
                                                      "bezel-worker": bezel.worker.removeprefix("http://")}) as prom:
        _eventually(lambda: {r["metric"]["job"] for r in prom.api("query", query="up == 1")["result"]} == {
            "bezel-gateway", "bezel-worker"}, "both targets up")

        # Every rule evaluates without error against real series, and every metric is known before any traffic.
        def rules_healthy() -> bool:
            rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
            assert not [(r["name"], r["lastError"]) for r in rules if r["health"] == "err"]
            return len(rules) == len(_rules()) and all(r["health"] == "ok" for r in rules)

        _eventually(rules_healthy, "every rule evaluated")
        known = set(prom.api("label/__name__/values"))
        assert sorted(n for n in _wanted() if not HISTOGRAM.search(n) and n not in known) == []
        assert prom.firing() == set()
        for where, expr in _exprs().items():  # every panel's query runs (as Grafana would send it)
            query = expr.replace("$__rate_interval", "5s").replace("$job", ".*")
            assert prom.api("query", query=query)["resultType"] == "vector", where
        jobs = prom.api("label/job/values", **{"match[]": "bezel_breaker_state"})
        assert sorted(jobs) == ["bezel-gateway", "bezel-worker"]  # the dashboard's $job variable

        tax_query = "query($a: AddressInput!) { product(handle: \"gold-huggie-hoops\") { taxEstimate(shipTo: $a) " \
                    "{ rate } } }"
        zips = iter(range(10002, 10999))
        with httpx.Client(base_url=bezel.url, timeout=10) as client:
            def page(zip_code: int) -> dict[str, Any]:
                answer = client.post("/graphql", json={"query": tax_query,
                                                       "variables": {"a": {**US_ADDRESS, "zip": str(zip_code)}}})
                assert answer.status_code == 200, answer.text
                return answer.json()

            assert page(10001)["data"]["product"]["taxEstimate"]["rate"]  # answered: its last good answer
            time.sleep(0.3)  # past its cache TTL: the next ask goes to tax
            sandbox.fault("tax", status=500)

            def traffic() -> None:
                page(10001)  # stale
                page(next(zips))  # nothing to stand in: VENDOR_UNAVAILABLE

            def tax_alerts() -> set[tuple[str, str]]:
                firing = prom.firing()
                return firing if {("BezelVendorStale", "tax"), ("BezelVendorUnavailable", "tax")} <= firing else set()

            firing = _eventually(tax_alerts, "the tax alerts firing", timeout=25, every=traffic)
    assert {vendor for _, vendor in firing} == {"tax"}, firing
    assert {name for name, _ in firing} <= {"BezelVendorStale", "BezelVendorUnavailable", "BezelVendorCircuitOpen"}
