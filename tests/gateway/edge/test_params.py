"""A GraphQL request's parameters (`gateway.edge.params`): the right shape passes as is, else a 400 saying which."""

from __future__ import annotations

from typing import Any

import pytest
from cross_web import HTTPException

from gateway.edge.params import checked


@pytest.mark.parametrize("data", [
    {"query": "{ __typename }"},
    {"query": None, "operationName": None, "variables": None, "extensions": None},
    {"documentId": "abc", "variables": {"a": 1}, "extensions": {"persistedQuery": {}}, "operationName": "Q"},
])
def test_a_well_shaped_request_is_returned_unchanged(data: dict[str, Any]) -> None:
    assert checked(data) is data


@pytest.mark.parametrize(("data", "says"), [
    ([{"query": "{ __typename }"}], "JSON object"),  # a batch: not served
    ("{ __typename }", "JSON object"),
    (None, "JSON object"),
    ({"query": "{ a }", "variables": [1]}, "`variables`"),
    ({"query": "{ a }", "variables": "{}"}, "`variables`"),
    ({"query": "{ a }", "extensions": "x"}, "`extensions`"),
    ({"query": 1}, "`query`"),
    ({"query": ["{ a }"]}, "`query`"),
    ({"query": "{ a }", "operationName": {"name": "Q"}}, "`operationName`"),
])
def test_a_badly_shaped_request_is_a_400_saying_which(data: Any, says: str) -> None:
    with pytest.raises(HTTPException) as refused:
        checked(data)
    assert refused.value.status_code == 400
    assert says in refused.value.reason
