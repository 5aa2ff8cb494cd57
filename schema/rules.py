"""Validation rules of Bezel's own."""

from __future__ import annotations

from typing import Any, cast

from graphql import (
    ASTValidationRule,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    ValidationContext,
    ValidationRule,
)

from schema.cost import fields_of


class OnePlaceOrder(ValidationRule):
    """One `placeOrder` per operation: six aliased ones made six card authorizations in one request,
    each answering with its own decline reason (card testing at one request's cost)."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        if node.operation is not OperationType.MUTATION:
            return
        document = self.context.document
        orders = [f for f in fields_of(document, node.selection_set) if f.name.value == "placeOrder"]
        if len(orders) > 1:
            self.report_error(GraphQLError("An operation may place one order: send each placeOrder on its own.",
                                           orders[1]))


def limit_rule(rule: type[ASTValidationRule], limit: str) -> type[ASTValidationRule]:
    """A limit's validation rule (strawberry's depth and alias limiters) whose errors name the `[gateway]` key
    they are over in `extensions.limit`, as every other limit's do: a storefront's CI (`bezel documents
    check`) tells a document over a limit from one the schema no longer accepts."""

    class LimitRule(rule):  # type: ignore[valid-type,misc]  # a rule class made at run time
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(cast(ValidationContext, _Tagging(context, limit)))

    LimitRule.__name__ = LimitRule.__qualname__ = f"{rule.__name__}[{limit}]"
    return LimitRule


class _Tagging:
    """A validation context whose reported errors carry `extensions.limit`; the rest is the context's."""

    def __init__(self, context: ValidationContext, limit: str) -> None:
        self._context = context
        self._limit = limit

    def report_error(self, error: GraphQLError) -> None:
        error.extensions = {**(error.extensions or {}), "limit": self._limit}
        self._context.report_error(error)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)
