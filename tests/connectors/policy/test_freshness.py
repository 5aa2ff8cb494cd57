"""How old a cached answer may be: fresh, servable while revalidated, able to stand in, and kept just as long."""

from __future__ import annotations

from connectors.config import VendorConfig
from connectors.models import Freshness, Source
from connectors.policy.cache import Entry
from connectors.policy.freshness import Windows, sourced


def test_the_windows_follow_the_vendors_config_and_their_edges_are_exclusive() -> None:
    w = Windows.of(VendorConfig(cache_ttl_s=10, revalidate_s=5, stale_ttl_s=60))
    assert (w.fresh(9.99), w.fresh(10)) == (True, False)
    assert (w.servable(14.99), w.servable(15)) == (True, False)
    assert (w.may_stand_in(69.99), w.may_stand_in(70)) == (True, False)


def test_an_answer_is_kept_for_the_longer_of_its_stale_and_revalidation_windows() -> None:
    assert Windows(fresh_s=10, revalidate_s=5, stale_s=60).keep_s == 70
    assert Windows(fresh_s=10, revalidate_s=30, stale_s=0).keep_s == 40


def test_with_nothing_configured_no_age_is_served_or_stands_in() -> None:
    w = Windows.of(VendorConfig())
    assert (w.fresh(0), w.servable(0), w.may_stand_in(0), w.keep_s) == (False, False, False, 0)


def test_a_cached_entry_is_served_with_its_source_and_age_in_ms() -> None:
    answer = sourced(Entry(value={"rate": "0.095"}, stored_at=1000.0, tier="redis"), Source.STALE, "tax",
                     now=1042.5)
    assert answer.value == {"rate": "0.095"}
    assert answer.freshness == Freshness(Source.STALE, 42_500, "tax")
    ahead = sourced(Entry(value=1, stored_at=1010.0, tier="local"), Source.CACHE, "tax", now=1000.0)
    assert ahead.freshness.age_ms == 0  # another process's clock ahead of ours: not a negative age
