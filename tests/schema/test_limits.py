"""QueryLimits: the shipped protections, and the floors a config cannot go below."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from schema.limits import QueryLimits


def test_defaults_are_the_documented_protections() -> None:
    limits = QueryLimits()
    assert (limits.max_depth, limits.max_aliases, limits.max_tokens, limits.max_query_bytes) == (12, 30, 2_000, 16_384)
    assert (limits.max_fields, limits.max_repeats, limits.max_deferred, limits.max_incremental_parts) == (
        1_000, 4, 8, 300)
    assert (limits.max_cost, limits.vendor_calls_per_request, limits.max_copies) == (100, 16, 16)


@pytest.mark.parametrize(("name", "floor"), [
    ("max_depth", 2), ("max_aliases", 1), ("max_tokens", 100), ("max_query_bytes", 1_024), ("max_fields", 10),
    ("max_repeats", 1), ("max_copies", 1), ("max_deferred", 0), ("max_incremental_parts", 1), ("max_cost", 1),
    ("vendor_calls_per_request", 1), ("document_cache_size", 1),
])
def test_each_limit_takes_its_floor_and_refuses_below_it(name: str, floor: int) -> None:
    assert getattr(QueryLimits(**{name: floor}), name) == floor
    with pytest.raises(ValidationError):
        QueryLimits(**{name: floor - 1})


def test_unknown_keys_are_refused_and_limits_are_frozen() -> None:
    with pytest.raises(ValidationError, match="extra"):
        QueryLimits(max_dept=5)  # a typo must not silently leave the default
    with pytest.raises(ValidationError):
        QueryLimits().max_depth = 100  # type: ignore[misc]
