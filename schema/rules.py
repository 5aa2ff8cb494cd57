"""Validation rules of Bezel's own."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, OperationType, ValidationRule

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
