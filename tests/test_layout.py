"""The house rules a reader relies on: layers import downwards only, no import circles, the sandbox
stands apart, leaves import nothing of ours, and each name has one source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

# A layer may import itself and the layers after it, nothing before it.
LAYERS = ("gateway", "schema", "resolvers", "connectors")
PACKAGES = (*LAYERS, "sandbox")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports(path: Path, *, lazy: bool = True) -> set[str]:
    """Our modules this one imports at run time (not under `if TYPE_CHECKING:`); with `lazy=False`,
    only those imported when the module itself is (not inside a function)."""
    tree = ast.parse(path.read_text())
    typing_only = {id(node) for stmt in ast.walk(tree) if isinstance(stmt, ast.If)
                   and getattr(stmt.test, "id", None) == "TYPE_CHECKING" for node in ast.walk(stmt)}
    in_functions = {id(node) for stmt in ast.walk(tree) if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
                    for node in ast.walk(stmt)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in typing_only or (not lazy and id(node) in in_functions):
            continue
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in out if name.split(".")[0] in PACKAGES}


def graph(*, lazy: bool = True) -> dict[str, set[str]]:
    known = modules()
    return {name: {target for target in imports(path, lazy=lazy) if target in known and target != name}
            for name, path in known.items()}


def test_layers_import_downwards_only_and_the_sandbox_stands_apart() -> None:
    """The one exception: `bezel dev` and `bezel sandbox` import the sandbox when they run, never before
    (it is not in the production wheel)."""
    wrong = []
    for module, targets in graph(lazy=False).items():
        top = module.split(".")[0]
        for target in targets:
            other = target.split(".")[0]
            if top == "sandbox" or other == "sandbox":
                if top != other:
                    wrong.append(f"{module} -> {target}")
            elif LAYERS.index(other) < LAYERS.index(top):
                wrong.append(f"{module} -> {target}")
    assert wrong == [], "imports against the layering: " + ", ".join(sorted(wrong))
    lazily = {(m, t) for m, ts in graph().items() for t in ts if t.split(".")[0] == "sandbox" != m.split(".")[0]}
    assert {m for m, _ in lazily} <= {"gateway.cli"}


def test_no_import_circles() -> None:
    edges = graph()
    # A package's __init__ re-exporting its own modules is not a circle a reader walks into.
    edges = {m: {t for t in ts if not m.startswith(f"{t}.")} for m, ts in edges.items()}
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt):], nxt] if nxt in trail else [node, nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


LEAVES = ("connectors.models", "connectors.errors", "connectors.payload")
# What a leaf may import: itself, and the leaves below it (the errors name their outcomes from the models).
BELOW = {"connectors.models": (), "connectors.errors": ("connectors.models",), "connectors.payload": ()}


@pytest.mark.parametrize("leaf", LEAVES)
def test_leaves_import_nothing_of_bezel_outside_themselves(leaf: str) -> None:
    allowed = (leaf, *BELOW[leaf])
    for module, targets in graph().items():
        if module == leaf or module.startswith(f"{leaf}."):
            assert all(any(t == a or t.startswith(f"{a}.") for a in allowed) for t in targets), (module, targets)


def test_the_sandbox_imitates_exactly_the_vendors_bezel_calls() -> None:
    from connectors.config import DEFAULT_VENDORS
    from connectors.models import Vendor
    from connectors.vendors import PROVIDER_MODULES
    from sandbox import VENDOR_NAMES

    assert set(VENDOR_NAMES) == set(Vendor) == set(DEFAULT_VENDORS) == set(PROVIDER_MODULES)


def test_the_production_wheel_leaves_out_the_sandbox_and_tests() -> None:
    import tomllib

    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert sorted(packages["packages"]) == sorted(LAYERS)


# Modules without a test file of their own (tests/<path>/test_<name>.py), and where they are tested:
# what only a whole request exercises is tested end to end, through the sandbox and real HTTP.
TESTED_ELSEWHERE = {
    "connectors/checkout/lua.py": "tests/connectors/checkout/test_stock.py",  # each script through its caller
    "connectors/checkout/store.py": "tests/connectors/checkout/conftest.py",  # the store every checkout test uses
    "connectors/edge/cloudflare.py": "tests/connectors/edge/test_purger.py",  # each provider through the purger
    "connectors/edge/fastly.py": "tests/connectors/edge/test_purger.py",
    "connectors/edge/varnish.py": "tests/connectors/edge/test_purger.py",  # and tests/e2e/test_varnish.py
    "gateway/admin.py": "tests/e2e/test_metrics_and_health.py",
    "gateway/app.py": "tests/e2e/test_product_page.py",  # every end-to-end test starts it
    "gateway/devredis.py": "tests/gateway/test_cli.py",  # `bezel dev`'s private Redis
    "gateway/edge/protocol.py": "tests/e2e/test_slow_clients.py",  # header limits over real sockets
    "gateway/live_encoding.py": "tests/gateway/test_live_transports.py",  # framed once, beside the transports
    "gateway/storefront.py": "tests/browser/test_storefront.py",
    "gateway/supervisor.py": "tests/e2e/test_workers.py",
    "gateway/view.py": "tests/e2e/test_bad_requests.py",
    "gateway/webhooks/__init__.py": "tests/e2e/test_webhooks.py",
    "resolvers/events.py": "tests/e2e/test_webhooks.py",
    "resolvers/loaders.py": "tests/e2e/test_product_page.py",  # one catalog and one inventory call per request
    "resolvers/quotes.py": "tests/e2e/test_cart_quote.py",
    "schema/cart.py": "tests/e2e/test_cart_quote.py",
    "schema/checkout.py": "tests/e2e/test_checkout.py",
    "schema/fastpath/caches.py": "tests/schema/test_execution.py",
    "schema/fastpath/context.py": "tests/schema/test_execution.py",  # fast and plain answer the same
    "schema/fastpath/planner.py": "tests/schema/test_execution.py",
    "schema/fastpath/plans.py": "tests/schema/test_execution.py",
    "schema/product.py": "tests/e2e/test_product_page.py",
    "schema/quotes.py": "tests/e2e/test_product_page.py",
    "schema/refusals.py": "tests/gateway/edge/test_admission.py",
    "schema/root.py": "tests/schema/test_execution.py",
    "schema/telemetry.py": "tests/e2e/test_metrics_and_health.py",
}


def test_every_module_has_its_own_test_file_or_says_where_it_is_tested() -> None:
    """Tests mirror modules, so a module's tests are found without a search."""
    unmirrored, stale = [], []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            module = str(path.relative_to(ROOT))
            if "static" in path.parts or (path.name == "__init__.py" and len(path.read_text().splitlines()) < 100):
                continue  # a package's face, handing names on
            mirror = ROOT / "tests" / path.parent.relative_to(ROOT) / f"test_{path.stem}.py"
            if mirror.exists():
                if module in TESTED_ELSEWHERE:
                    stale.append(module)
            elif module not in TESTED_ELSEWHERE:
                unmirrored.append(module)
    assert not unmirrored, f"no tests/<path>/test_<name>.py and not in TESTED_ELSEWHERE: {unmirrored}"
    assert not stale, f"has its own test file now; drop it from TESTED_ELSEWHERE: {stale}"
    missing = {m: t for m, t in TESTED_ELSEWHERE.items() if not (ROOT / t).exists() or not (ROOT / m).exists()}
    assert not missing, missing
