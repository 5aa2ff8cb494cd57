"""The edge's own errors (`gateway.errors`): a refusal carries its status, code, message and headers."""

from __future__ import annotations

import pytest

from gateway.errors import BodyTooLarge, ConfigError, DocumentRefused


def test_a_refusal_carries_what_the_client_is_answered() -> None:
    refused = DocumentRefused(429, "RATE_LIMITED", "Too many requests", headers={"retry-after": "3"})
    assert (refused.status, refused.code, refused.message, refused.headers) == (
        429, "RATE_LIMITED", "Too many requests", {"retry-after": "3"})
    assert str(refused) == "Too many requests"


def test_refusals_without_headers_do_not_share_them() -> None:
    first, second = DocumentRefused(400, "BAD_REQUEST", "a"), DocumentRefused(400, "BAD_REQUEST", "b")
    first.headers["x"] = "1"
    assert second.headers == {}


@pytest.mark.parametrize("error", [ConfigError, BodyTooLarge, DocumentRefused])
def test_each_is_an_exception_of_its_own(error: type[Exception]) -> None:
    others = {ConfigError, BodyTooLarge, DocumentRefused} - {error}
    assert issubclass(error, Exception)
    assert not any(issubclass(error, other) for other in others)
