"""Each query text is parsed and validated once; errors are still typed, and the store stays bounded."""

from __future__ import annotations

from typing import Any

import pytest

from schema import QueryLimits, build_schema, documents


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"parse": 0, "validate": 0}
    parse, validate = documents.parse, documents.validate

    def counting_parse(*args: Any, **kwargs: Any) -> Any:
        counts["parse"] += 1
        return parse(*args, **kwargs)

    def counting_validate(*args: Any, **kwargs: Any) -> Any:
        counts["validate"] += 1
        return validate(*args, **kwargs)

    monkeypatch.setattr(documents, "parse", counting_parse)
    monkeypatch.setattr(documents, "validate", counting_validate)
    return counts


async def test_a_query_is_parsed_and_validated_once(counted: dict[str, int]) -> None:
    from schema.root import build_schema

    schema = build_schema()
    for _ in range(3):
        result = await schema.execute("{ __typename }")
        assert result.data == {"__typename": "Query"}
    assert counted == {"parse": 1, "validate": 1}


async def test_validation_errors_are_reused_and_stay_typed(counted: dict[str, int]) -> None:
    from schema.root import build_schema

    schema = build_schema()
    for _ in range(2):
        result = await schema.execute("{ noSuchField }")
        assert result.errors
        assert result.errors[0].extensions["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert counted == {"parse": 1, "validate": 1}


async def test_a_syntax_error_is_reported_as_such_and_not_kept(counted: dict[str, int]) -> None:
    from schema.root import build_schema

    schema = build_schema()
    for _ in range(2):
        result = await schema.execute("{ product(handle: ")
        assert result.errors
        assert result.errors[0].extensions["code"] == "GRAPHQL_PARSE_FAILED"
    assert counted["validate"] == 0


def test_the_store_is_bounded() -> None:
    store = build_schema(QueryLimits(document_cache_size=4)).documents
    for i in range(10):
        assert store.parsed(f"{{ f{i} }}") is not None
    assert len(store) == 4
    assert store.parsed("{ broken") is None
    assert len(store) == 4
