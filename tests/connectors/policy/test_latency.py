"""A vendor's latency window: its p95 (when to hedge) is kept between sorts, never for long."""

from __future__ import annotations

from connectors.policy.latency import REFRESH_EVERY, LatencyWindow


def test_while_few_samples_are_in_every_one_counts_at_once() -> None:
    window = LatencyWindow()
    assert window.percentile(95) is None
    for ms in (10, 20, 30):
        window.observe(ms / 1000)
        assert window.percentile(95) == ms / 1000


def test_a_full_window_is_sorted_once_per_refresh_and_follows_a_slower_vendor() -> None:
    window = LatencyWindow(size=20)
    for _ in range(20):
        window.observe(0.1)
    assert window.percentile(95) == 0.1
    window.observe(5.0)
    assert window.percentile(95) == 0.1  # kept: not re-sorted for one sample
    for _ in range(REFRESH_EVERY - 1):
        window.observe(1.0)
    assert window.percentile(95) == 5.0  # REFRESH_EVERY samples later: sorted again
    assert window.percentile(50) == 1.0  # each percentile kept on its own
