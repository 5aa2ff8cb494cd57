"""The execution context: plain fields and flat selections take the fast path, everything else
graphql-core's own (see the package's docstring)."""

from __future__ import annotations

from typing import Any, ClassVar

from graphql import GraphQLList, GraphQLObjectType
from graphql.pyutils import Path

from schema.bounds import BoundedExecutionContext
from schema.fastpath.build import build_all, compiled, complete
from schema.fastpath.caches import FastPathCaches, Selections
from schema.fastpath.plans import NOT_FAST, Flat, Leaf, Leaves, Selection, plan, unwrap
from schema.limits import QueryLimits


class FastLeafExecutionContext(BoundedExecutionContext):
    # The caches of the one schema this class was made for (`limited`): plans and shared selections.
    caches: ClassVar[FastPathCaches]

    @classmethod
    def limited(cls, limits: QueryLimits, *, quiet: bool = False,
                caches: FastPathCaches | None = None) -> type[FastLeafExecutionContext]:
        """This execution context for one schema: its limits, and its own caches (new ones by default)."""
        made = super().limited(limits, quiet=quiet)
        assert issubclass(made, FastLeafExecutionContext)
        made.caches = caches if caches is not None else FastPathCaches(operations=limits.document_cache_size)
        return made

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._flat_selections: dict[int, tuple[Any, Selection | None]] = {}
        self._fast = not (self.middleware_manager and getattr(self.middleware_manager, "middlewares", None))
        self._plans = self.caches.plans
        self._shared: Selections | None = None
        if self._fast:
            self._shared = self.caches.selections(self.operation, self.fragments)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        if self._stop_at is not None and self.overran():  # a streamed answer past its budget: start nothing
            return self.stopped_field(parent_type, field_details_list, path)
        if self._fast:
            field_plan = plan(self._plans, self.schema, parent_type, field_details_list[0].node)
            if field_plan is not None:
                result = self._fast_value(field_plan, source, field_details_list)
                if result is not NOT_FAST:
                    return result
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A resolver's object whose selection is flat is built in one step (e.g. `priceRange`)."""
        if self._fast:
            selection = self._flat_selection(return_type, field_details_list)
            if selection is not None:
                built = selection.one(result)
                if built is not NOT_FAST:
                    return built
        return super().complete_object_value(return_type, field_details_list, info, path, result,
                                             position_context)

    def complete_list_value(
        self,
        return_type: GraphQLList[Any],
        field_details_list: Any,
        info: Any,
        path: Path,
        result: Any,
        position_context: Any,
    ) -> Any:
        """A resolver's list of objects whose selection is flat is built in one step: a product's
        `variants` come from a resolver, and completing each through graphql-core was half the page."""
        if self._fast and isinstance(result, list | tuple) and not _streamed(field_details_list):
            item_type = unwrap(return_type.of_type)
            if isinstance(item_type, GraphQLObjectType):
                selection = self._flat_selection(item_type, field_details_list)
                if selection is not None:
                    built = build_all(selection, result)
                    if built is not NOT_FAST:
                        return built
        return super().complete_list_value(return_type, field_details_list, info, path, result, position_context)

    def _fast_value(self, field_plan: Leaf | Leaves | Flat, source: Any, field_details_list: Any) -> Any:
        value = getattr(source, field_plan.attribute, None)
        if value is None:
            return NOT_FAST  # nulls (and their errors on non-null fields) go graphql-core's way
        if isinstance(field_plan, Leaf | Leaves):
            return field_plan.serialize(value)
        selection = self._flat_selection(field_plan.object_type, field_details_list)
        if selection is None:
            return NOT_FAST
        return complete(field_plan, selection, value)

    def _flat_selection(self, object_type: GraphQLObjectType, field_details_list: Any) -> Selection | None:
        """The selection on `object_type` if it is made only of plain leaves and flat objects, else None.

        Memoized on the identity of the field list, as graphql-core memoizes collected sub-fields."""
        cached = self._flat_selections.get(id(field_details_list))
        if cached is not None:
            return cached[1]
        shared_key = None
        if self._shared is not None:
            shared_key = (object_type.name, *[id(details.node) for details in field_details_list])
            if shared_key in self._shared:
                selection = self._shared[shared_key]
                self._flat_selections[id(field_details_list)] = (field_details_list, selection)
                return selection
        selection = None
        if object_type.is_type_of is None:
            grouped, defer_usages, _ = self.collect_subfields(object_type, field_details_list)
            if not defer_usages:
                selection = Selection()
                for key, details in grouped.items():
                    sub_plan = plan(self._plans, self.schema, object_type, details[0].node)
                    if isinstance(sub_plan, Flat):
                        nested = self._flat_selection(sub_plan.object_type, details)
                        if nested is None:
                            selection = None
                            break
                        selection.append((key, (sub_plan, nested)))
                    elif isinstance(sub_plan, Leaf | Leaves):
                        selection.append((key, sub_plan))
                    else:
                        selection = None
                        break
        if selection is not None:
            selection.one = compiled(selection)
        self._flat_selections[id(field_details_list)] = (field_details_list, selection)
        if shared_key is not None:
            self._shared[shared_key] = selection  # type: ignore[index]
        return selection


def _streamed(field_details_list: Any) -> bool:
    """Whether the list is asked for with @stream: its items are then graphql-core's to deliver."""
    return any(d.name.value == "stream" for details in field_details_list for d in details.node.directives or ())
