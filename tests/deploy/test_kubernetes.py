"""deploy/kubernetes/: valid Kubernetes objects, and consistent with the gateway they run.

Every manifest is validated offline against the pinned Kubernetes API schemas (kubernetes-validate,
strict: an unknown field is an error). Then what Kubernetes cannot check: the ConfigMap's bezel.toml
loads and keeps every key of the repository's bezel.toml, every BEZEL_* variable names a real key,
the container args are real `bezel` flags, the probes hit paths the gateway serves on those ports,
and the Service, autoscaler and disruption budgets select what they mean to.
"""

from __future__ import annotations

import fnmatch
import json
import os
import tomllib
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel

from connectors.models import Vendor
from gateway import cli
from gateway.admin import admin_app
from gateway.app import create_app
from gateway.documents import commands
from gateway.runner import drain_seconds
from gateway.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
# The oldest Kubernetes the manifests support (README.md there) and the newest kubernetes-validate ships.
KUBERNETES_VERSIONS = ("1.30", "1.37")
EXAMPLE_SECRET = "secret.example.yaml"
SECRET_NAME = "bezel-secrets"
# Read by the process itself, not keys of Settings: the config file (gateway/settings.py) and the
# log format and level (gateway/telemetry.py). BEZEL_ENV is a key (`env`) and is checked as one.
PROCESS_VARIABLES = {"BEZEL_CONFIG", "BEZEL_LOG_FORMAT", "BEZEL_LOG_LEVEL"}
# The production choices: the keys whose value in the ConfigMap's bezel.toml may differ from the
# repository's bezel.toml (each says why in configmap.yaml). Any other difference is a mistake.
PRODUCTION_CHOICES = (
    "env",
    "gateway.host",
    "gateway.trusted_proxies",
    "admin.host",
    "documents.manifest",
    "documents.require_trusted",
    "documents.apq",
    "storefront.enabled",
    "sandbox.url",
    "checkout.wait_replicas",
    "logging.requests",
    "vendors.*.url",
    "vendors.inventory.options",
    "vendors.bnpl.options",
)
MANIFESTS = sorted(p for p in DEPLOY.glob("*.yaml") if p.name != "kustomization.yaml")


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _applied() -> list[dict[str, Any]]:
    """Every object `kubectl apply -k` creates (the kustomization's resources, in order)."""
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    return [doc for name in kustomization["resources"] for doc in _documents(DEPLOY / name)]


def _object(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in _applied() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def _deployments() -> list[dict[str, Any]]:
    return [o for o in _applied() if o["kind"] == "Deployment"]


def _containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for deployment in _deployments():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            yield f"{deployment['metadata']['name']}/{container['name']}", container


def _container(deployment: str) -> dict[str, Any]:
    (container,) = _object("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    return container


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are checked here"
    return all(labels.get(k) == v for k, v in selector["matchLabels"].items())


def _pod_labels(deployment: str) -> dict[str, str]:
    return _object("Deployment", deployment)["spec"]["template"]["metadata"]["labels"]


def _configmap_toml() -> str:
    return _object("ConfigMap", "bezel-config")["data"]["bezel.toml"]


def _without_bezel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test runner's own BEZEL_* and REDIS_URL must not leak into the configuration under test."""
    for name in list(os.environ):
        if name.startswith("BEZEL_") or name == "REDIS_URL":
            monkeypatch.delenv(name)


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _without_bezel_environment(monkeypatch)
    path = tmp_path / "bezel.toml"
    path.write_text(_configmap_toml())
    return path


@pytest.fixture
def production(config_file: Path) -> Settings:
    return load_settings(config_file)


# --- 1. Valid Kubernetes objects -------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_is_valid_for_the_pinned_kubernetes_versions(path: Path, version: str) -> None:
    documents = _documents(path)
    assert documents, f"{path.name} holds no object"
    for doc in documents:
        where = f"{path.name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            used = kubernetes_validate.validate(doc, desired_version=version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{where} is not valid Kubernetes {version}: {'.'.join(map(str, exc.path))}: {exc.message}")
        assert used == version, f"{where}: validated against {used}, not the pinned {version}"


def test_strict_validation_refuses_a_misspelt_field() -> None:
    """The check above is not vacuous: an unknown field (what a typo makes) fails it."""
    deployment = _object("Deployment", "bezel-gateway")
    misspelt = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(misspelt, desired_version=KUBERNETES_VERSIONS[0], strict=True)


def test_the_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    kustomization = yaml.safe_load((DEPLOY / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(p.name for p in MANIFESTS if p.name != EXAMPLE_SECRET)
    assert "namespace" not in kustomization, "namespace-agnostic: -n or an overlay chooses it"
    objects = [(o["kind"], o["metadata"]["name"]) for o in _applied()]
    assert len(objects) == len(set(objects))
    assert not any("namespace" in o["metadata"] for o in _applied())
    assert not any(o["kind"] == "Secret" for o in _applied()), "no secret values are shipped"
    images = {c["image"].rsplit(":", 1)[0] for _, c in _containers()}
    assert images == {i["name"] for i in kustomization["images"]}, "one `images` entry sets every container's image"


# --- 2. Consistent with the configuration ----------------------------------------------------------


def test_the_configmap_config_loads_as_production(production: Settings) -> None:
    assert production.production
    assert production.documents.require_trusted
    assert not production.storefront.enabled
    assert production.admin.host == "0.0.0.0"
    assert production.gateway.host == "0.0.0.0"
    assert production.gateway.trusted_proxies
    assert "0.0.0.0/0" not in production.gateway.trusted_proxies
    assert not production.redis.url, "Redis URLs come from the Secret"
    assert not production.checkout.redis_url, "Redis URLs come from the Secret"
    for name, vendor in production.vendors.items():
        assert vendor.url.startswith("https://"), f"[vendors.{name}] url: the provider, never the sandbox"


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict) and key != "options":
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def test_the_configmap_config_keeps_every_key_of_bezel_toml() -> None:
    """Every key spelled out, as in bezel.toml; a value differs only where production chooses otherwise."""
    repo = _flat(tomllib.loads((ROOT / "bezel.toml").read_text()))
    deployed = _flat(tomllib.loads(_configmap_toml()))
    assert sorted(set(repo) - set(deployed)) == [], "keys of bezel.toml missing from deploy/kubernetes/configmap.yaml"
    assert sorted(set(deployed) - set(repo)) == [], "keys in configmap.yaml that bezel.toml does not have"
    differing = sorted(key for key in repo if repo[key] != deployed[key])
    unexplained = [k for k in differing if not any(fnmatch.fnmatchcase(k, p) for p in PRODUCTION_CHOICES)]
    assert unexplained == [], "values that differ from bezel.toml without being a production choice"


def _config_key(variable: str) -> str | None:
    """The key a `BEZEL_<SECTION>__<KEY>[__...]` variable sets, or None if Settings has no such key."""
    parts = variable.removeprefix("BEZEL_").lower().split("__")
    node: Any = Settings
    walked: list[str] = []
    for i, part in enumerate(parts):
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(part)
            if field is None:
                return None
            node = field.annotation
        elif typing.get_origin(node) is dict:
            if walked == ["vendors"] and part not in set(Vendor):
                return None
            node = typing.get_args(node)[1]
        elif node is Any:  # a free-form table ([vendors.*] options): any key below it
            return ".".join(walked + parts[i:])
        else:
            return None  # below a value that has no keys
        walked.append(part)
    return ".".join(walked)


def test_the_variable_parser_knows_real_keys_from_typos() -> None:
    assert _config_key("BEZEL_GATEWAY__BUDGET_MS") == "gateway.budget_ms"
    assert _config_key("BEZEL_VENDORS__TAX__TIMEOUT_MS") == "vendors.tax.timeout_ms"
    assert _config_key("BEZEL_VENDORS__TAX__BREAKER__OPEN_WAIT_MS") == "vendors.tax.breaker.open_wait_ms"
    assert _config_key("BEZEL_VENDORS__BNPL__OPTIONS__PROVIDERS") == "vendors.bnpl.options.providers"
    assert _config_key("BEZEL_ENV") == "env"
    for typo in ("BEZEL_GATEWAY__BUDGET", "BEZEL_REDIS__CLUSTERS", "BEZEL_VENDORS__TAXJAR__URL",
                 "BEZEL_GATEWAY__PORT__X", "BEZEL_GATEWAY_PORT"):
        assert _config_key(typo) is None, typo


def _bezel_variables() -> list[tuple[str, str]]:
    return [(where, env["name"]) for where, c in _containers() for env in c.get("env", [])
            if env["name"].startswith("BEZEL_") and env["name"] not in PROCESS_VARIABLES]


@pytest.mark.parametrize(("where", "variable"), _bezel_variables(), ids=lambda v: v)
def test_every_bezel_variable_names_a_real_key(where: str, variable: str) -> None:
    # Checked against Settings with no allow-list, BEZEL_REDIS__CLUSTER and BEZEL_CHECKOUT__REDIS_CLUSTER
    # included: Settings refuses unknown keys, so a variable naming none would stop the pod (exit 2).
    assert _config_key(variable) is not None, f"{where}: {variable} is no key of gateway.settings.Settings"


def _pod_environment(container: dict[str, Any], config_file: Path) -> dict[str, str]:
    """The container's environment as the pod gets it: literal values, and secrets from the example."""
    (secret,) = _documents(DEPLOY / EXAMPLE_SECRET)
    environment = {}
    for env in container.get("env", []):
        if "value" in env:
            environment[env["name"]] = env["value"]
        else:
            ref = env["valueFrom"]["secretKeyRef"]
            assert ref["name"] == secret["metadata"]["name"]
            environment[env["name"]] = secret["stringData"][ref["key"]]
    assert environment["BEZEL_CONFIG"] == _config_path(container)
    environment["BEZEL_CONFIG"] = str(config_file)  # the mounted file, here
    return environment


@pytest.mark.parametrize("deployment", ["bezel-gateway", "bezel-worker"])
def test_each_pod_configuration_loads(deployment: str, config_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ConfigMap plus the pod's environment (secrets from the example) is a valid configuration."""
    for name, value in _pod_environment(_container(deployment), config_file).items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.production
    assert settings.redis.cluster, "the page cache is a managed Redis Cluster"
    assert settings.checkout.redis_cluster, "so is checkout's Redis"
    assert settings.redis_url.startswith("rediss://")
    assert settings.checkout_redis_url.startswith("rediss://")
    assert settings.checkout_redis_url != settings.redis_url, "checkout has its own noeviction Redis"


def test_secrets_are_the_redis_urls_and_the_vendor_keys(production: Settings) -> None:
    (secret,) = _documents(DEPLOY / EXAMPLE_SECRET)
    assert secret["metadata"]["name"] == SECRET_NAME
    key_variables = {v.api_key_env for v in production.vendors.values() if v.api_key_env}
    events = production.events
    webhook_secrets = {events.shopify_secret_env, events.commercetools_token_env, events.erp_secret_env,
                       events.shopify_admin_token_env}  # the Admin API token an inventory webhook's SKU needs
    edge = {production.edge.api_key_env}  # the purge API's token (Fastly, Cloudflare)
    expected = {"REDIS_URL", "BEZEL_CHECKOUT__REDIS_URL"} | key_variables | webhook_secrets | edge
    assert set(secret["stringData"]) == expected
    used: set[str] = set()
    for where, container in _containers():
        assert "envFrom" not in container, f"{where}: every variable by name, so these checks see it"
        for env in container.get("env", []):
            if "valueFrom" not in env:
                assert env["name"] not in expected, f"{where}: {env['name']} must come from the Secret"
                continue
            ref = env["valueFrom"]["secretKeyRef"]
            assert ref == {"name": SECRET_NAME, "key": env["name"]}, where
            assert not ref.get("optional"), where
            used.add(env["name"])
        names = [env["name"] for env in container.get("env", [])]
        assert len(names) == len(set(names)), where
        assert {"REDIS_URL", "BEZEL_CHECKOUT__REDIS_URL"} <= set(names), where
    assert used == expected, "every key of the Secret is given to some process"


def test_the_trusted_documents_validate_against_this_gateway(production: Settings, tmp_path: Path) -> None:
    data = _object("ConfigMap", "bezel-documents")["data"]
    (name,) = data
    documents = _mount("bezel-gateway", "bezel-documents")
    assert production.documents.manifest == f"{documents}/{name}"
    path = tmp_path / name
    path.write_text(data[name])
    assert commands.check(str(path), production) == 0


# --- 3. Probes, args, ports, selectors --------------------------------------------------------------


def _mount(deployment: str, configmap: str) -> str:
    pod = _object("Deployment", deployment)["spec"]["template"]["spec"]
    (volume,) = [v["name"] for v in pod["volumes"] if v.get("configMap", {}).get("name") == configmap]
    (container,) = pod["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume]
    assert mount.get("readOnly")
    assert "subPath" not in mount, "a subPath mount never sees the ConfigMap change"
    return mount["mountPath"]


def _config_path(container: dict[str, Any]) -> str:
    return cli._parser().parse_args(container["args"]).config


def _ports(container: dict[str, Any]) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in container["ports"]}


@pytest.mark.parametrize(("deployment", "command"), [("bezel-gateway", cli._serve), ("bezel-worker", cli._worker)])
def test_containers_run_real_bezel_commands_with_the_mounted_config(deployment: str, command: Any) -> None:
    container = _container(deployment)
    assert container["command"] == ["bezel"]  # the image's ENTRYPOINT, spelled out
    args = cli._parser().parse_args(container["args"])  # an unknown flag exits here
    assert args.run is command
    assert args.config == f"{_mount(deployment, 'bezel-config')}/bezel.toml"
    assert next(e["value"] for e in container["env"] if e["name"] == "BEZEL_CONFIG") == args.config
    assert next(e["value"] for e in container["env"] if e["name"] == "BEZEL_ENV") == "production"


def test_gateway_ports_are_the_ones_it_listens_on(production: Settings) -> None:
    container = _container("bezel-gateway")
    args = cli._parser().parse_args(container["args"])
    assert (args.host or production.gateway.host) == "0.0.0.0"
    assert _ports(container) == {
        "http": args.port or production.gateway.port,
        "admin": production.admin.port if args.admin_port is None else args.admin_port,
    }


def test_worker_port_is_the_one_it_listens_on() -> None:
    container = _container("bezel-worker")
    args = cli._parser().parse_args(container["args"])
    assert args.host == "0.0.0.0"
    assert _ports(container) == {"metrics": args.metrics_port}


def _probe(container: dict[str, Any], kind: str) -> tuple[str, str]:
    get = container[kind]["httpGet"]
    return get["port"], get["path"]


async def _status(app: Any, path: str) -> int:
    """GET `path` from an ASGI app in-process (its lifespan not run: the process is "starting")."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pod") as client:
        return (await client.get(path)).status_code


async def test_gateway_probes_hit_what_the_gateway_serves(production: Settings, tmp_path: Path) -> None:
    container = _container("bezel-gateway")
    assert _probe(container, "readinessProbe") == ("admin", "/readyz")
    assert _probe(container, "livenessProbe") == ("http", "/healthz")
    assert _probe(container, "startupProbe") == ("http", "/healthz")
    # The production app, its lifespan not run: /healthz answers at once, /readyz says "starting" (503)
    # on the admin port only; the public port does not serve /readyz in production.
    manifest = tmp_path / "documents.json"
    manifest.write_text(_object("ConfigMap", "bezel-documents")["data"]["persisted-query-manifest.json"])
    app = create_app(production.model_copy(update={"documents": production.documents.model_copy(
        update={"manifest": str(manifest)})}))
    assert await _status(app, "/healthz") == 200
    assert await _status(app, "/readyz") == 404
    assert await _status(admin_app(app), "/readyz") == 503
    assert await _status(admin_app(app), "/metrics") == 200


async def test_worker_probes_hit_what_the_worker_serves() -> None:
    container = _container("bezel-worker")
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert _probe(container, kind) == ("metrics", "/healthz"), kind
    assert await _status(cli.worker_probe_app(), "/healthz") == 200
    assert await _status(cli.worker_probe_app(), "/metrics") == 200


def test_the_gateway_drains_within_its_grace_period(production: Settings) -> None:
    pod = _object("Deployment", "bezel-gateway")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop_s = float(command[1])
    drain_s = drain_seconds(production)  # what a stopping worker gives its in-flight requests
    longest_budget_s = max(production.gateway.budget_ms, production.checkout.budget_ms) / 1000
    assert pre_stop_s >= 5, "time for the endpoint removal to reach kube-proxy and the load balancer"
    assert pre_stop_s + drain_s >= longest_budget_s + 5, "a request arriving in the first 5 s keeps its budget"
    assert pod["terminationGracePeriodSeconds"] > pre_stop_s + longest_budget_s + drain_s


def test_every_pod_runs_unprivileged() -> None:
    for deployment in _deployments():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's `bezel` user
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            resources = container["resources"]
            assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
            assert resources["requests"]["memory"] == resources["limits"]["memory"]


def test_the_service_sends_port_80_to_the_gateway_http_port_only() -> None:
    service = _object("Service", "bezel-gateway")
    assert _selects({"matchLabels": service["spec"]["selector"]}, _pod_labels("bezel-gateway"))
    assert not _selects({"matchLabels": service["spec"]["selector"]}, _pod_labels("bezel-worker"))
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(80, "http")]
    assert "http" in _ports(_container("bezel-gateway"))
    assert service["spec"].get("type", "ClusterIP") == "ClusterIP"


@pytest.mark.parametrize(("service", "deployment", "port"),
                         [("bezel-gateway-admin", "bezel-gateway", "admin"),
                          ("bezel-worker-metrics", "bezel-worker", "metrics")])
def test_metrics_services_are_headless_and_scrape_the_metrics_port(service: str, deployment: str, port: str) -> None:
    obj = _object("Service", service)
    assert obj["spec"]["clusterIP"] == "None"
    assert _selects({"matchLabels": obj["spec"]["selector"]}, _pod_labels(deployment))
    assert [p["targetPort"] for p in obj["spec"]["ports"]] == [port]
    annotations = obj["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(_ports(_container(deployment))[port])
    assert annotations["prometheus.io/path"] == "/metrics"


def test_the_autoscaler_scales_the_gateway_on_cpu() -> None:
    hpa = _object("HorizontalPodAutoscaler", "bezel-gateway")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["apiVersion"], target["kind"]) == ("apps/v1", "Deployment")
    assert target["name"] == "bezel-gateway"
    assert "replicas" not in _object("Deployment", "bezel-gateway")["spec"], "the autoscaler owns the count"
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 50}
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60
    assert _container("bezel-gateway")["resources"]["requests"]["cpu"] == "1"  # 50% of one core: the knee


@pytest.mark.parametrize(("budget", "deployment", "other"),
                         [("bezel-gateway", "bezel-gateway", "bezel-worker"),
                          ("bezel-worker", "bezel-worker", "bezel-gateway")])
def test_disruption_budgets_select_their_own_pods(budget: str, deployment: str, other: str) -> None:
    pdb = _object("PodDisruptionBudget", budget)
    assert pdb["spec"]["maxUnavailable"] == 1
    assert _selects(pdb["spec"]["selector"], _pod_labels(deployment))
    assert not _selects(pdb["spec"]["selector"], _pod_labels(other))
    assert pdb["spec"]["selector"] == _object("Deployment", deployment)["spec"]["selector"]


def test_network_policies_name_real_ports() -> None:
    for deployment, open_ports in (("bezel-gateway", {"http"}), ("bezel-worker", set())):
        policy = _object("NetworkPolicy", deployment)
        assert _selects(policy["spec"]["podSelector"], _pod_labels(deployment))
        ports = _ports(_container(deployment))
        for rule in policy["spec"]["ingress"]:
            named = {p["port"] for p in rule["ports"]}
            assert named <= set(ports), named
            if "from" not in rule:  # open to every source: only the public port
                assert named == open_ports, named


def test_the_example_secret_holds_placeholders_only() -> None:
    (secret,) = _documents(DEPLOY / EXAMPLE_SECRET)
    for key, value in secret["stringData"].items():
        assert "CHANGE-ME" in value, key
    assert "data" not in secret


def test_the_documents_configmap_holds_operations() -> None:
    data = _object("ConfigMap", "bezel-documents")["data"]
    manifest = json.loads(data["persisted-query-manifest.json"])
    assert manifest["operations"], "an empty manifest would refuse every request under require_trusted"


def test_the_documents_configmap_is_the_demo_storefront_s_manifest() -> None:
    """The example is the storefront's build, so it never lags behind an operation the storefront sends
    (it did: the live pages' subscriptions were missing). Rebuild it as its comment says."""
    data = _object("ConfigMap", "bezel-documents")["data"]
    storefront = ROOT / "storefront" / "persisted-query-manifest.json"
    assert json.loads(data["persisted-query-manifest.json"]) == json.loads(storefront.read_text())
