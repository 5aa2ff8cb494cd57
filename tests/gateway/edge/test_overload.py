"""What a shed request is answered (`gateway.edge.overload.shed`): a cheap 503 a load balancer retries, counted."""

from __future__ import annotations

import orjson

from gateway.edge.overload import REQUESTS_SHED, shed


def test_a_shed_request_is_a_503_overloaded_to_retry_in_a_second() -> None:
    response = shed()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    body = orjson.loads(response.body)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["OVERLOADED"]


def test_every_shed_request_is_counted() -> None:
    before = REQUESTS_SHED.counts[()]
    shed()
    shed()
    assert REQUESTS_SHED.counts[()] == before + 2
