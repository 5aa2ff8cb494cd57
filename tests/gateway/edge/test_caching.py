"""The edge's decision (`gateway.edge.caching`) from a request's context and call log, without HTTP."""

from __future__ import annotations

from typing import Any

from connectors.config import DEFAULT_VENDORS, EdgeConfig
from connectors.edge import product_key, sku_key
from connectors.models import Outcome, Source
from connectors.policy import CallScope, Deadline
from connectors.policy.scope import CallRecord
from gateway.edge.caching import EdgePolicy, matches
from resolvers.context import RequestContext, Shown

VENDORS = {str(name): config for name, config in DEFAULT_VENDORS.items()}


class _Context:
    """What `decide` reads of a RequestContext."""

    def __init__(self, *records: CallRecord, shown: Shown | None = None, partial: bool = False) -> None:
        self.scope = CallScope(Deadline.after_ms(1000))
        for record in records:
            self.scope.log.add(record)
        self.shown = shown or Shown()
        self.partial_errors: dict[str, Any] = {"inventory": object()} if partial else {}


def call(vendor: str, source: Source | None, age_s: float = 0.0) -> CallRecord:
    outcome = {Source.LIVE: Outcome.LIVE, Source.CACHE: Outcome.CACHE, Source.STALE: Outcome.STALE}.get(
        source, Outcome.ERROR) if source is not None else Outcome.ERROR
    return CallRecord(vendor=vendor, operation="x", outcome=outcome, source=source, ms=1.0, age_ms=int(age_s * 1000))


def decide(*records: CallRecord, config: EdgeConfig | None = None, trusted: bool = True, errors: bool = False,
           shown: Shown | None = None, partial: bool = False, client_budget: bool = False) -> Any:
    policy = EdgePolicy(config or EdgeConfig(), VENDORS)
    context: Any = _Context(*records, shown=shown, partial=partial)
    ctx: RequestContext = context
    return policy.decide(trusted=trusted, errors=errors, context=ctx, client_budget=client_budget)


def test_max_age_is_the_least_freshness_left_of_the_parts() -> None:
    decision = decide(call("catalog", Source.CACHE, 20), call("inventory", Source.LIVE))
    assert decision.public
    assert decision.reason == "fresh"
    assert decision.max_age_s == 5  # inventory, just asked: its whole 5 s
    assert decision.revalidate_s == 0  # inventory does not revalidate
    decision = decide(call("catalog", Source.CACHE, 20))
    assert decision.max_age_s == 40
    assert decision.revalidate_s == 60  # catalog's 300, capped by [edge]
    assert decision.if_error_s == 3600  # a day left of catalog's stale window, capped
    assert decision.cache_control == "public, max-age=40, stale-while-revalidate=60, stale-if-error=3600"


def test_a_part_past_its_freshness_in_the_revalidation_window_leaves_no_max_age() -> None:
    assert decide(call("catalog", Source.CACHE, 90)).max_age_s == 0


def test_the_caps_of_the_edge_section_bound_every_window() -> None:
    config = EdgeConfig(max_age_s=10, stale_while_revalidate_s=2, stale_if_error_s=30)
    decision = decide(call("catalog", Source.LIVE), config=config)
    assert (decision.max_age_s, decision.revalidate_s, decision.if_error_s) == (10, 2, 30)
    nothing_asked = decide(config=config)
    assert (nothing_asked.max_age_s, nothing_asked.revalidate_s, nothing_asked.if_error_s) == (10, 2, 30)


def test_a_stale_part_is_public_only_for_an_edge_whose_gateway_fails_too() -> None:
    decision = decide(call("catalog", Source.STALE, 3600))
    assert decision.public
    assert decision.reason == "stale"
    assert decision.max_age_s == 0
    assert decision.if_error_s == 3600


def test_a_stale_part_older_than_its_vendor_allows_is_private() -> None:
    decision = decide(call("inventory", Source.STALE, 5 + 600 + 1))
    assert not decision.public
    assert decision.reason == "stale-beyond-policy"
    assert decision.cache_control == "private, no-store"


def test_a_part_that_failed_is_private() -> None:
    assert decide(call("catalog", None)).reason == "failed-part"
    assert decide(call("catalog", Source.NONE)).reason == "failed-part"


def test_errors_partial_failures_untrusted_documents_and_a_client_budget_are_private() -> None:
    assert decide(errors=True).explained == "private; reason=errors"
    assert decide(partial=True).explained == "private; reason=errors"
    assert decide(trusted=False).explained == "private; reason=untrusted"
    assert decide(client_budget=True).explained == "private; reason=client-budget"
    assert decide(config=EdgeConfig(enabled=False)).explained == "private; reason=disabled"


def test_what_the_shopper_brought_is_named_in_the_reason() -> None:
    shown = Shown()
    shown.personal("address")
    shown.personal("engraving")
    shown.personal("address")
    assert decide(shown=shown, errors=True).explained == "private; reason=shopper:address,engraving"


def test_scarce_stock_is_private_unless_scarce_max_age_s_allows_a_little() -> None:
    shown = Shown(scarce=True)
    assert decide(call("inventory", Source.LIVE), shown=shown).reason == "scarce"
    assert not decide(call("inventory", Source.LIVE), shown=shown).public
    allowed = decide(call("inventory", Source.LIVE), shown=shown, config=EdgeConfig(scarce_max_age_s=2))
    assert allowed.public
    assert allowed.reason == "scarce"
    assert (allowed.max_age_s, allowed.revalidate_s, allowed.if_error_s) == (2, 0, 0)
    assert decide(shown=Shown(unconfirmed=True)).reason == "unconfirmed"


def test_keys_name_the_list_the_products_and_the_skus_and_must_fit() -> None:
    shown = Shown(listing=True)
    shown.product("123", ["RING-1", "RING 2"])
    decision = decide(shown=shown)
    assert decision.keys == ("product-list", "product-123", "sku-RING-1", "sku-RING_2")
    assert product_key("a b,c") == "product-a_b_c"
    assert sku_key('x"y') == "sku-x_y"
    many = Shown()
    many.product("1", [f"SKU-{i:05d}" for i in range(2000)])
    assert decide(shown=many).reason == "too-many-keys"


def test_the_key_header_is_the_provider_s_unless_named() -> None:
    assert EdgePolicy(EdgeConfig(provider="fastly"), VENDORS).key_header == "Surrogate-Key"
    assert EdgePolicy(EdgeConfig(provider="cloudflare"), VENDORS).key_header == "Cache-Tag"
    assert EdgePolicy(EdgeConfig(provider="varnish"), VENDORS).key_header == "xkey"
    assert EdgePolicy(EdgeConfig(provider="varnish", key_header="X-Keys"), VENDORS).key_header == "X-Keys"


def test_if_none_match_compares_weakly_and_takes_a_list_or_a_star() -> None:
    assert matches('W/"a"', 'W/"a"')
    assert matches('"a"', 'W/"a"')
    assert matches('"b", W/"a"', 'W/"a"')
    assert matches("*", 'W/"a"')
    assert not matches('"b"', 'W/"a"')
    assert not matches(None, 'W/"a"')
    assert not matches("", 'W/"a"')
