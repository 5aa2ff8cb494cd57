"""Types shared by every domain: Money, Freshness, and the request-context alias."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode

from connectors import models
from resolvers.context import RequestContext

Info = strawberry.Info[RequestContext, None]


@strawberry.enum(description="Where a vendor-backed answer came from.")
class FreshnessSource(Enum):
    LIVE = strawberry.enum_value("LIVE", description="The vendor answered during this request.")
    CACHE = strawberry.enum_value("CACHE", description="A cached answer still within the vendor's fresh TTL.")
    STALE = strawberry.enum_value(
        "STALE", description="The vendor failed; this is its last good answer, `ageMs` old."
    )
    NONE = strawberry.enum_value(
        "NONE", description="No answer could be had; the value is a placeholder (e.g. UNKNOWN availability)."
    )


@strawberry.type(description="How fresh a vendor-backed object is, and which vendor it came from.")
class Freshness:
    source: FreshnessSource
    age_ms: int = strawberry.field(description="Age of the answer in milliseconds (0 when LIVE).")
    vendor: str

    @classmethod
    def from_domain(cls, f: models.Freshness) -> Freshness:
        return cls(source=_SOURCES[f.source], age_ms=f.age_ms, vendor=f.vendor)


_SOURCES = {source: FreshnessSource(source.value) for source in models.Source}


@strawberry.type(description="An amount of money. `amount` is a decimal string, never a float.")
class Money:
    amount: str
    currency_code: str

    @classmethod
    def from_domain(cls, m: models.Money) -> Money:
        return cls(amount=f"{m.amount:.2f}", currency_code=m.currency)


def selects(info: Info, field_name: str) -> bool:
    """Whether the current field's selection asks for `field_name` now (directly or through fragments).

    A fragment under @defer does not count: what it asks for is not on the first part's critical path,
    so it is not prefetched (a product's variants do not wait for stock the page shows later)."""
    raw = info._raw_info
    pending = [node.selection_set for node in raw.field_nodes if node.selection_set]
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value == field_name:
                    return True
            elif _deferred(selection):
                continue
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = raw.fragments.get(selection.name.value)
                if fragment is not None:
                    pending.append(fragment.selection_set)
    return False


def _deferred(fragment: Any) -> bool:
    for directive in fragment.directives or ():
        if directive.name.value == "defer":
            condition = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
            return not (condition is not None and condition.kind == "boolean_value" and not condition.value)
    return False
