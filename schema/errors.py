"""What clients see when something goes wrong: a typed `extensions.code`, never a stack trace.

    BAD_USER_INPUT           the input is wrong (field says where); also bad variables
    VENDOR_UNAVAILABLE       a vendor failed and nothing could stand in (vendor says which)
    GRAPHQL_PARSE_FAILED     the document is not GraphQL (or exceeds the token limit)
    GRAPHQL_VALIDATION_FAILED  unknown fields, wrong types, too deep, too many aliases
    QUERY_TOO_COMPLEX        too many fields or repeats (before validation), or too many vendor calls
    INTERNAL_SERVER_ERROR    anything else: the message is generic; `errorId` finds the log line

Errors from `connectors.errors.PublicError` keep their message and extensions; every other
exception is logged server-side with its traceback under an `errorId` and masked.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

from graphql import GraphQLError, GraphQLSyntaxError
from graphql.execution import ExperimentalIncrementalExecutionResults
from strawberry.extensions import SchemaExtension

from connectors.errors import PublicError
from resolvers.context import RequestContext

log = logging.getLogger("bezel.errors")
INTERNAL_MESSAGE = "Internal server error."


class ShapeErrors(SchemaExtension):
    """Give every error a code, add partial failures, and mask what is not meant for clients."""

    def __init__(self) -> None:
        self.validation_errors: set[int] = set()

    def on_validate(self) -> Iterator[None]:
        yield
        self.validation_errors = {id(e) for e in self.execution_context.pre_execution_errors or ()}

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if isinstance(result, ExperimentalIncrementalExecutionResults):  # its later parts: schema.incremental
            result = result.initial_result
        if result is None:
            return
        errors = list(getattr(result, "errors", None) or ())
        context = self.execution_context.context
        if isinstance(context, RequestContext):
            errors += [GraphQLError(e.message, original_error=e) for e in context.partial_errors.values()]
        if errors:
            result.errors = [self.shape(e) for e in errors]

    def shape(self, error: GraphQLError) -> GraphQLError:
        if isinstance(error, GraphQLSyntaxError) or isinstance(error.original_error, GraphQLSyntaxError):
            return _coded(error, "GRAPHQL_PARSE_FAILED")
        if id(error) in self.validation_errors:
            return _coded(error, "GRAPHQL_VALIDATION_FAILED")
        return shape_execution_error(error)


def shape_execution_error(error: GraphQLError) -> GraphQLError:
    """An error raised while executing: a public one as it is, graphql-core's own (e.g. a variable of
    the wrong type) as BAD_USER_INPUT, anything else masked."""
    original = error.original_error
    if isinstance(original, PublicError):
        return error
    if original is None or (isinstance(original, GraphQLError) and original.original_error is None):
        return _coded(error, "BAD_USER_INPUT")
    return masked(error)


def _coded(error: GraphQLError, code: str) -> GraphQLError:
    error.extensions = {"code": code, **(error.extensions or {})}  # a code set on purpose stays
    return error


def masked(error: GraphQLError) -> GraphQLError:
    """The client's view of an unexpected error: a generic message and an id to find the log line."""
    error_id = uuid.uuid4().hex[:12]
    log.error("unhandled error: %s", error.message, exc_info=error.original_error,
              extra={"error_id": error_id, "path": error.path})
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "errorId": error_id},
    )


def ensure_coded(errors: list[GraphQLError]) -> list[GraphQLError]:
    """Last guard before the wire: an error that escaped shaping (no code) is masked, not shown."""
    return [e if (e.extensions or {}).get("code") else masked(e) for e in errors]


class VendorReport(SchemaExtension):
    """Adds `extensions.vendors`: per vendor touched, its outcome, source, time and call count."""

    def get_results(self) -> dict[str, object]:
        context = self.execution_context.context
        if not isinstance(context, RequestContext):
            return {}
        return {"vendors": context.scope.log.summary()}
