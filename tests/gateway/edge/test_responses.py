"""Refusals at the edge (`gateway.edge.responses`): GraphQL's error shape, the status and headers asked for."""

from __future__ import annotations

import orjson

from gateway.edge.responses import error_response


def test_a_refusal_is_a_graphql_error_with_its_code() -> None:
    response = error_response(429, 'Too many "requests"', "RATE_LIMITED", {"retry-after": "3"})
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json"
    assert response.headers["retry-after"] == "3"
    assert orjson.loads(response.body) == {"data": None, "errors": [
        {"message": 'Too many "requests"', "extensions": {"code": "RATE_LIMITED"}}]}


def test_without_headers_only_the_body_s_own_are_sent() -> None:
    response = error_response(400, "no", "BAD_REQUEST")
    assert set(response.headers) == {"content-type", "content-length"}
    assert int(response.headers["content-length"]) == len(response.body)
