"""Building an object (or a list of them) from a flat selection in one step, or NOT_FAST to let
graphql-core do it (a null, a value its type refuses)."""

from __future__ import annotations

from typing import Any

from schema.fastpath.plans import NOT_FAST, Flat, Leaf, Selection


def complete(plan: Flat, selection: Selection, value: Any) -> Any:
    """An object (or list of objects) built from a flat selection, or NOT_FAST for graphql-core."""
    if not plan.is_list:
        return build(selection, value)
    if not isinstance(value, list | tuple):
        return NOT_FAST
    return build_all(selection, value)


def build_all(selection: Selection, items: list[Any] | tuple[Any, ...]) -> Any:
    out = []
    for item in items:
        built = build(selection, item) if item is not None else NOT_FAST
        if built is NOT_FAST:
            return NOT_FAST
        out.append(built)
    return out


def build(selection: Selection, value: Any) -> Any:
    out = {}
    for key, entry in selection:
        if entry.__class__ is Leaf:
            raw = getattr(value, entry.attribute, None)
            if raw.__class__ is entry.passthrough:
                out[key] = raw
                continue
            if raw is None:
                return NOT_FAST
            completed = entry.serialize(raw)
        else:
            nested_plan, nested_selection = entry
            raw = getattr(value, nested_plan.attribute, None)
            if raw is None:
                return NOT_FAST
            completed = complete(nested_plan, nested_selection, raw)
        if completed is NOT_FAST:
            return NOT_FAST
        out[key] = completed
    return out
