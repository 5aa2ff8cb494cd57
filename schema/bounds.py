"""What one execution may cost while it runs, where counting before it runs cannot tell.

A deferred fragment inside a list is a part of the answer for every item of that list, and streamed
items are parts too: how many, only execution knows (a ring has 30 variants or 2,048). Each part
costs graphql-core ~80 us of CPU, all of it synchronous: `max_incremental_parts` caps them per
answer, and what is over the cap is refused (QUERY_TOO_COMPLEX) where it would have started.

And a streamed answer's work is stopped at its budget (plus `GRACE_S`), not finished and thrown
away: every field graphql-core starts after that resolves to a `BUDGET_EXCEEDED` error instead,
which is also what the client is told of the parts still missing (`schema.incremental`). Only
streamed answers: a one-piece answer's work is bounded by the document's own limits, and a
mutation must finish what it started (a placed order is answered, however late).

Hooks into graphql-core's executor (`execute_field`, `get_new_delivery_group_map`,
`complete_stream_item`, `handle_field_error`, `build`): listed in `schema.internals`, whose probe runs
before this module does. This context runs every request, with the fast path or without it.
"""

from __future__ import annotations

import time
from typing import Any

from graphql import GraphQLError, GraphQLObjectType, OperationType
from graphql.pyutils import Path
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema import (
    internals,  # noqa: F401  (its probe: every internal used below is still there)
    shared_events,
)
from schema.limits import QueryLimits

INCREMENTAL = "bezel.incremental"  # key in a request's operation extensions: the client takes parts
GRACE_S = 0.05  # past the deadline, for the last vendor answer to be turned into a part


class OverBudget(GraphQLError):
    def __init__(self, budget_ms: float) -> None:
        super().__init__(f"This part was not ready within the request's budget ({budget_ms:g} ms).",
                         extensions={"code": "BUDGET_EXCEEDED"})


class TooManyParts(GraphQLError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"This answer would stream more than {limit} parts (each deferred fragment counts once "
                         "for every list item it sits in); defer fewer fragments inside lists.",
                         extensions={"code": "QUERY_TOO_COMPLEX", "maxParts": limit,
                                     "limit": "max_incremental_parts"})


class BoundedExecutionContext(StrawberryGraphQLCoreExecutionContext):
    max_parts = QueryLimits().max_incremental_parts
    # True in production: no "Did you mean ...?" in errors, even about variables (see `limited`).
    hide_suggestions_always = False
    share = True  # subscriptions' events executed once per document, variables and state (schema.shared_events)

    @classmethod
    def limited(cls, limits: QueryLimits, *, quiet: bool = False) -> type[BoundedExecutionContext]:
        """This execution context with the configured cap on parts; `quiet`: never suggesting names
        (which would describe the schema to anyone)."""
        return type(cls.__name__, (cls,), {"max_parts": limits.max_incremental_parts,
                                           "hide_suggestions_always": quiet})

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        """graphql-core's constructor, quiet when made so: its variable errors would suggest names."""
        if cls.hide_suggestions_always:
            kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parts = [0]  # shared with the sub-executors graphql-core copies from this one
        self._stop_at: float | None = None  # monotonic time past which no field is started
        self._budget_ms = 0.0
        deadline = getattr(getattr(self.context_value, "scope", None), "deadline", None)
        if deadline is not None and (self.operation_extensions or {}).get(INCREMENTAL) is True \
                and self.operation.operation is OperationType.QUERY:
            self._stop_at = deadline.expires_at + GRACE_S
            self._budget_ms = deadline.budget_ms

    def execute_operation(self, serially: bool | None = None) -> Any:
        """A subscription's event whose payload carries its state's memo runs once for every subscriber
        with the same document and variables (`schema.shared_events`)."""
        memo = getattr(self.root_value, shared_events.MEMO, None) if self.share else None
        if memo is None or self.operation.operation is not OperationType.SUBSCRIPTION:
            return super().execute_operation(serially)
        key = shared_events.key_of(self.operation, self.variable_values.coerced)
        return shared_events.shared(memo, key, self.operation, lambda: super(BoundedExecutionContext, self)
                                    .execute_operation(serially))

    def overran(self) -> bool:
        """Whether the streamed answer's budget (and grace) has run out: start nothing more."""
        return self._stop_at is not None and time.monotonic() > self._stop_at

    def stopped_field(self, parent_type: GraphQLObjectType, field_details_list: Any, path: Path) -> None:
        """The field a budget ran out on: a located BUDGET_EXCEEDED error (null, or its nullable parent)."""
        field_def = self.schema.get_field(parent_type, field_details_list[0].node.name.value)
        if field_def is not None:
            self.handle_field_error(OverBudget(self._budget_ms), field_def.type, field_details_list, path)

    def execute_field(self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Path,
                      position_context: Any) -> Any:
        if self._stop_at is not None and self.overran():
            return self.stopped_field(parent_type, field_details_list, path)
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def get_new_delivery_group_map(self, new_defer_usages: Any, delivery_group_map: Any, path: Any) -> Any:
        self._count(len(new_defer_usages))
        return super().get_new_delivery_group_map(new_defer_usages, delivery_group_map, path)

    def complete_stream_item(self, *args: Any, **kwargs: Any) -> Any:
        self._count(1)
        return super().complete_stream_item(*args, **kwargs)

    def _count(self, parts: int) -> None:
        self._parts[0] += parts
        if self._parts[0] > self.max_parts:
            raise TooManyParts(self.max_parts)
