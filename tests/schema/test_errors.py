"""Error shaping: every error a client sees carries a code; public errors keep their words, the rest is masked
behind an errorId; partial failures join the errors and `extensions.vendors` reports the calls."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import strawberry
from graphql import GraphQLError

from connectors.errors import InputError, VendorUnavailable
from connectors.models import Outcome
from resolvers.context import RequestContext
from schema.common import Info
from schema.errors import INTERNAL_MESSAGE, ShapeErrors, VendorReport, ensure_coded, masked, shape_execution_error
from tests.support import shop_in_process


@strawberry.type
class Query:
    @strawberry.field
    def bad_input(self) -> str:
        raise InputError("Zip is not valid.", field="shipTo.zip")

    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError("redis password is hunter2")

    @strawberry.field
    def echo(self, n: int) -> int:
        return n

    @strawberry.field
    def partly(self, info: Info) -> str:
        info.context.note_partial("inventory", VendorUnavailable("inventory", Outcome.TIMEOUT))
        info.context.note_partial("inventory", VendorUnavailable("inventory", Outcome.ERROR))  # one per key
        return "shown as UNKNOWN"


SCHEMA = strawberry.Schema(Query, extensions=[ShapeErrors, VendorReport])


@pytest.fixture
async def ctx(redis_url: str) -> AsyncIterator[RequestContext]:
    async with shop_in_process(redis_url) as shop:
        yield RequestContext.start(shop.services, budget_ms=2000)


def codes(result: object) -> list[str]:
    return [e.extensions["code"] for e in result.errors or ()]  # type: ignore[attr-defined]


async def test_a_public_error_keeps_its_message_code_and_field(ctx: RequestContext) -> None:
    result = await SCHEMA.execute("{ badInput }", context_value=ctx)
    [error] = result.errors or []
    assert error.message == "Zip is not valid."
    assert error.extensions == {"code": "BAD_USER_INPUT", "field": "shipTo.zip"}


async def test_an_unexpected_error_is_masked_with_an_id_to_find_its_log(ctx: RequestContext,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="bezel.errors"):
        result = await SCHEMA.execute("{ broken }", context_value=ctx)
    [error] = result.errors or []
    assert error.message == INTERNAL_MESSAGE
    assert "hunter2" not in str(error.formatted)
    assert error.extensions["code"] == "INTERNAL_SERVER_ERROR"
    assert error.path == ["broken"]
    logged = [r for r in caplog.records if getattr(r, "error_id", None) == error.extensions["errorId"]]
    assert len(logged) == 1
    assert logged[0].exc_info is not None


async def test_parse_validation_and_variable_errors_get_their_codes(ctx: RequestContext) -> None:
    assert codes(await SCHEMA.execute("{ broken ", context_value=ctx)) == ["GRAPHQL_PARSE_FAILED"]
    assert codes(await SCHEMA.execute("{ nope }", context_value=ctx)) == ["GRAPHQL_VALIDATION_FAILED"]
    wrong = await SCHEMA.execute("query($n: Int!) { echo(n: $n) }", variable_values={"n": "x"}, context_value=ctx)
    assert codes(wrong) == ["BAD_USER_INPUT"]


async def test_partial_failures_join_the_errors_once_per_key_with_data_kept(ctx: RequestContext) -> None:
    result = await SCHEMA.execute("{ partly }", context_value=ctx)
    assert result.data == {"partly": "shown as UNKNOWN"}
    assert [(e.extensions["code"], e.extensions["outcome"]) for e in result.errors or []] == [
        ("VENDOR_UNAVAILABLE", "timeout")]


async def test_the_vendor_report_lists_the_calls_of_the_request(ctx: RequestContext) -> None:
    result = await SCHEMA.execute("{ echo(n: 1) }", context_value=ctx)
    assert result.errors is None
    assert result.extensions == {"vendors": ctx.scope.log.summary()}
    assert (await SCHEMA.execute("{ echo(n: 1) }", context_value=None)).extensions in (None, {})


def test_shape_execution_error_codes_graphql_cores_own_and_masks_the_rest() -> None:
    public = GraphQLError("x", original_error=InputError("x"))
    assert shape_execution_error(public) is public
    assert shape_execution_error(GraphQLError("Variable '$n' got invalid value")).extensions == {
        "code": "BAD_USER_INPUT"}
    assert shape_execution_error(GraphQLError("boom", original_error=KeyError("k"))).message == INTERNAL_MESSAGE


def test_a_code_set_on_purpose_is_kept() -> None:
    error = GraphQLError("slow", extensions={"code": "BUDGET_EXCEEDED"})
    assert shape_execution_error(error).extensions == {"code": "BUDGET_EXCEEDED"}


def test_ensure_coded_masks_only_uncoded_errors() -> None:
    coded = GraphQLError("fine", extensions={"code": "BAD_USER_INPUT"})
    leaked = GraphQLError("internal detail")
    out = ensure_coded([coded, leaked])
    assert out[0] is coded
    assert (out[1].message, out[1].extensions["code"]) == (INTERNAL_MESSAGE, "INTERNAL_SERVER_ERROR")
    assert len(masked(leaked).extensions["errorId"]) == 12
