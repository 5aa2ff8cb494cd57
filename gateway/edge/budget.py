"""A request's budget: the configured one, or less when the client asks for less (never more)."""

from __future__ import annotations

from collections.abc import Mapping

from cross_web import HTTPException

BUDGET_HEADER = "x-bezel-budget-ms"


def budget_ms(headers: Mapping[str, str], configured: float) -> float:
    """`x-bezel-budget-ms`, a positive integer of milliseconds, or the configured budget (a 400 otherwise)."""
    raw = headers.get(BUDGET_HEADER)
    if raw is None:
        return configured
    try:
        asked = int(raw)
    except ValueError:
        asked = 0
    if asked <= 0:
        raise HTTPException(400, f"{BUDGET_HEADER} must be a positive integer of milliseconds")
    return min(asked, configured)
