"""What the fast path keeps between requests, owned by the schema it serves: `build_schema` makes one
`FastPathCaches` per schema and hands it to that schema's execution context class, so two schemas (a
test's fast and plain ones, two apps in one process) never share a plan, and `clear()` forgets all.

    plans       per (type, field): what to do with it (`schema.fastpath.plans`); they depend only on
                the schema, so they are never evicted
    recent      per operation: its flat selections, for the operations of the last documents used
    pinned      the same for trusted documents, planned at startup and kept for the life of the process

The document cache hands every request of one text the same AST, so an operation is known by its
node's identity; each entry holds the operation itself, so an id is never mistaken for a new node's.
Unless a directive takes a variable, @include/@skip cannot change a selection between requests: an
operation whose directives do is worked out per request (its entry holds None).
"""

from __future__ import annotations

from typing import Any

from cachetools import LRUCache
from graphql import BREAK, DirectiveNode, VariableNode, Visitor, visit

from schema.fastpath.plans import Plans, Selection

Selections = dict[tuple[Any, ...], Selection | None]  # (object type name, field node ids...) -> selection
Entry = tuple[Any, Any, Selections | None]  # (operation, fragments, its selections or None)


class FastPathCaches:
    def __init__(self, *, operations: int = 256) -> None:
        """`operations`: how many operations' selections are kept besides the pinned ones (the document
        cache's size: more would outlive their documents)."""
        self.plans: Plans = {}
        self.recent: LRUCache[int, Entry] = LRUCache(maxsize=operations)
        self.pinned: dict[int, Entry] = {}

    def selections(self, operation: Any, fragments: Any) -> Selections | None:
        """The operation's shared selections, or None when variables steer its directives."""
        entry = self.pinned.get(id(operation)) or self.recent.get(id(operation))
        if entry is None or entry[0] is not operation:
            steered = bool(operation.variable_definitions) and _directives_take_variables(operation, fragments)
            entry = (operation, fragments, None if steered else {})
            self.recent[id(operation)] = entry
        return entry[2]

    def pin(self, operation: Any, fragments: Any) -> None:
        """Keep this operation's selections for good (a trusted document's, planned at startup)."""
        key = id(operation)
        self.selections(operation, fragments)
        self.pinned[key] = self.recent.pop(key) if key in self.recent else self.pinned[key]

    def clear(self) -> None:
        """Forget every plan and selection (they are worked out again on the next request)."""
        self.plans.clear()
        self.recent.clear()
        self.pinned.clear()


class _DirectiveVariables(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
        if any(isinstance(argument.value, VariableNode) for argument in node.arguments or ()):
            self.found = True
            return BREAK
        return None


def _directives_take_variables(operation: Any, fragments: Any) -> bool:
    finder = _DirectiveVariables()
    # graphql-core 3.3 keeps fragments as FragmentDetails, the definition inside.
    definitions = [getattr(f, "definition", f) for f in (fragments or {}).values()]
    for node in (operation, *definitions):
        visit(node, finder)
        if finder.found:
            return True
    return False
