"""A request's budget (`gateway.edge.budget`): the client may ask for less than configured, never more."""

from __future__ import annotations

import pytest
from cross_web import HTTPException

from gateway.edge.budget import BUDGET_HEADER, budget_ms


def test_without_the_header_the_configured_budget_holds() -> None:
    assert budget_ms({}, 1200) == 1200


def test_a_client_may_ask_for_less() -> None:
    assert budget_ms({BUDGET_HEADER: "300"}, 1200) == 300


@pytest.mark.parametrize("asked", ["1201", "5000", "9" * 40])
def test_asking_for_more_gets_the_configured_budget(asked: str) -> None:
    assert budget_ms({BUDGET_HEADER: asked}, 1200) == 1200


@pytest.mark.parametrize("raw", ["0", "-5", "abc", "1.5", "", "1e3", "0x10", "NaN"])
def test_anything_but_a_positive_integer_is_a_400(raw: str) -> None:
    with pytest.raises(HTTPException) as refused:
        budget_ms({BUDGET_HEADER: raw}, 1200)
    assert refused.value.status_code == 400
    assert BUDGET_HEADER in refused.value.reason
