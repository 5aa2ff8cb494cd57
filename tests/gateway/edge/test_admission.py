"""Whether a request may run (`gateway.edge.admission`): per-client budgets answered 429 with Retry-After, and
no order lookup by GET in production."""

from __future__ import annotations

import ast

import pytest

from connectors.ratelimits import RateLimits
from gateway.edge import admission
from gateway.edge.admission import admit_operation, admit_request
from gateway.errors import DocumentRefused
from schema.refusals import REASONS, REFUSED
from tests.support import ROOT


def limits(**budgets: str) -> RateLimits:
    return RateLimits({"pages": "1000/hour", "checkout": "1000/hour", "order_lookups": "1000/hour", **budgets})


async def test_a_client_over_its_pages_budget_is_refused_429_with_retry_after() -> None:
    pages = limits(pages="2/hour")
    await admit_request(pages, "203.0.113.7")
    await admit_request(pages, "203.0.113.7")
    with pytest.raises(DocumentRefused) as refused:
        await admit_request(pages, "203.0.113.7")
    assert (refused.value.status, refused.value.code) == (429, "RATE_LIMITED")
    wait = int(refused.value.headers["retry-after"])
    assert 1 <= wait <= 2 * 3600  # a sliding window: what was spent fades over the next hour
    assert f"retry in {wait} s" in refused.value.message
    await admit_request(pages, "198.51.100.1")  # another client has a budget of its own


@pytest.mark.parametrize(("field", "budget"), [("placeOrder", "checkout"), ("order", "order_lookups")])
async def test_an_operation_spends_its_own_budget_and_no_other(field: str, budget: str) -> None:
    budgets = limits(**{budget: "1/hour"})
    await admit_operation(budgets, "c", method="POST", fields={field}, production=True)
    await admit_operation(budgets, "c", method="POST", fields={"product", "products"}, production=True)
    before = REFUSED.counts[(("reason", f"rate_limit_{budget}"),)]
    with pytest.raises(DocumentRefused) as refused:
        await admit_operation(budgets, "c", method="POST", fields={"product", field}, production=True)
    assert refused.value.code == "RATE_LIMITED"
    assert REFUSED.counts[(("reason", f"rate_limit_{budget}"),)] == before + 1


async def test_a_document_with_both_spends_both() -> None:
    budgets = limits(order_lookups="1/hour")
    await admit_operation(budgets, "c", method="POST", fields={"placeOrder", "order"}, production=False)
    with pytest.raises(DocumentRefused):
        await admit_operation(budgets, "c", method="POST", fields={"order"}, production=False)


async def test_in_production_an_order_lookup_by_get_is_405_and_spends_nothing() -> None:
    budgets = limits(order_lookups="1/hour")
    with pytest.raises(DocumentRefused) as refused:
        await admit_operation(budgets, "c", method="GET", fields={"order"}, production=True)
    assert (refused.value.status, refused.value.code) == (405, "METHOD_NOT_ALLOWED")
    assert refused.value.headers == {"allow": "POST"}
    await admit_operation(budgets, "c", method="POST", fields={"order"}, production=True)  # its budget unspent
    await admit_operation(limits(), "c", method="GET", fields={"order"}, production=False)  # development allows it
    await admit_operation(limits(), "c", method="GET", fields={"product"}, production=True)


def _is_refused_add(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "add" \
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "REFUSED"


def _called(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")


def reasons_counted() -> set[str]:
    """Every reason the code counts a refusal with: given to `REFUSED.add` as it is, or through a function
    that passes its parameter on (`refused(..., reason)`, `refused_for_rate(wait, budget)`), wherever that
    function is called (its own module, or one that imports it by name)."""
    trees = {".".join(path.relative_to(ROOT).with_suffix("").parts): ast.parse(path.read_text())
             for package in ("gateway", "schema") for path in (ROOT / package).rglob("*.py")}
    found: set[str] = set()
    forwarders: dict[tuple[str, str], tuple[int, str]] = {}  # (module, function) -> (its parameter, the reason)
    for module, tree in trees.items():
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            params = [a.arg for a in function.args.args if a.arg != "self"]
            for call in filter(_is_refused_add, ast.walk(function)):
                assert isinstance(call, ast.Call)
                reason = call.args[1].elts[0].elts[1]  # type: ignore[attr-defined]
                if isinstance(reason, ast.Constant):
                    found.add(reason.value)
                elif isinstance(reason, ast.Name):
                    forwarders[module, function.name] = (params.index(reason.id), "{}")
                else:
                    assert isinstance(reason, ast.JoinedStr), ast.unparse(reason)
                    names = [v.value.id for v in reason.values if isinstance(v, ast.FormattedValue)
                             and isinstance(v.value, ast.Name)]
                    template = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in reason.values)
                    forwarders[module, function.name] = (params.index(names[0]), template)
    assert {name for _, name in forwarders} == {"refused", "refused_for_rate", "_answer"}  # the scan still sees them
    for module, tree in trees.items():
        imported = {(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    for alias in node.names}
        here = {name: forwarders[key] for key in forwarders if key[0] == module or key in imported
                for name in [key[1]]}
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or _called(call) not in here:
                continue
            position, template = here[_called(call)]
            if len(call.args) <= position:
                raise AssertionError(f"{module}: cannot tell the reason of {ast.unparse(call)}")
            arg = call.args[position]
            if isinstance(arg, ast.Constant):
                found.add(template.format(arg.value))
            else:  # `refused_for_rate(wait, BUDGETS[name])`
                assert ast.unparse(arg).startswith("BUDGETS["), f"{module}: cannot tell the reason {ast.unparse(arg)}"
                found.update(template.format(budget) for budget in admission.BUDGETS.values())
    return found


def test_every_reason_counted_is_declared_so_its_series_exists_from_start_up() -> None:
    """`bezel_requests_refused_total{reason}` has each reason at 0 before the first refusal: a new reason in
    the code belongs in `schema.refusals.REASONS`."""
    counted = reasons_counted()
    assert counted >= {"rate_limit_pages", "rate_limit_checkout", "header_timeout", "not_in_list", "cost"}
    assert counted == set(REASONS)
    assert len(REASONS) == len(set(REASONS))
    assert set(REFUSED.counts) >= {(("reason", reason),) for reason in REASONS}
