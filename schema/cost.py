"""What a document may cost, known before anything expensive runs.

- `check_shape`, right after parsing and before validation: at most `max_fields` selections in all
  (fields and fragments, a fragment's selections counted every time it is spread), no response name
  in more than `max_repeats` forms in one merged selection set (a form: the field, its arguments and
  directives), nor in more than `max_copies` copies, and at most `max_deferred` @defer and @stream
  directives (each counted every time its fragment is spread or its field aliased).
  graphql-core's OverlappingFieldsCanBeMerged rule compares every pair of same-named fields, so 480
  copies of `variants { id }` cost ~0.6 s of CPU to validate; a document within these caps cannot
  make the rule quadratic, and checking them is linear. Copies of one form are what clients add on
  their own (Apollo Client selects `__typename` in every selection set, five deferred fragments
  included; colocated fragments each select `id`), so they have a cap of their own, well above
  theirs; what an attacker would vary to make pairs conflict is the form, and that cap stays low.
- Every pass that inlines fragments (`Expansion`) counts the selections it visits and stops at a
  bound: `...F1 ...F1` in each of 23 fragments spreads the last one 2^22 times in 900 bytes, and
  following that blindly took seconds. The shape check refuses such a document after `max_fields`
  steps; any later pass (a checkout's budgets, `OnePlaceOrder`) only ever sees documents it passed.
- `vendor_calls`, after validation and before execution: the most vendor calls the operation can
  make, from what each field asks of vendors (`WEIGHTS`), multiplied by list sizes it asks for
  (`products(first:)`, cart lines). Over `max_cost`, the operation is refused, having asked no one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    print_ast,
)

from resolvers.cart import MAX_LINES
from resolvers.validation import PAGE_DEFAULT, PAGE_MAX

# The most vendor calls one resolution of a field can cause (batched reads count once).
WEIGHTS: dict[tuple[str, str], int] = {
    ("Query", "product"): 1,  # catalog (handles of one request share a call)
    ("Query", "products"): 1,  # catalog, one page
    ("Query", "order"): 1,  # the order store, no vendor
    ("Product", "taxEstimate"): 1,
    ("Product", "shippingInsurance"): 1,
    ("Product", "financing"): 2,  # Affirm and Afterpay
    ("Product", "engravingPreview"): 1,
    ("ProductVariant", "availability"): 1,  # every variant of a request in one inventory call
}
# Fields whose cost grows with their input: a cart's lines (one variant lookup each), then catalog,
# tax, insurance and two financing calls; an order also authorizes, and may seed stock from the ERP.
PER_LINE_EXTRA = {("Query", "cartQuote"): 5, ("Mutation", "placeOrder"): 9}
# `products(first:)`: every field under it is asked once per product (PAGE_DEFAULT, PAGE_MAX); a cart holds
# at most MAX_LINES lines. The resolvers refuse beyond these; the cost check counts with the same numbers.
# How many items a list field holds at most, as the shape check counts a @defer inside it (a part per
# item): a product's variants (the catalog's page of them; Shopify allows up to 2,048), a page of
# products, a cart's lines.
LIST_PARTS = {"variants": 250, "nodes": PAGE_MAX, "edges": PAGE_MAX, "lines": MAX_LINES}
# The most selections any pass inlining fragments visits, whoever calls it: a bound far above what
# the shape check lets through (`max_fields`), so it only ever stops a document nothing checked.
MAX_EXPANSION = 20_000


class TooComplex(Exception):
    """The document is refused before validation or execution; the message says why, in our words, and
    `limit` names the `[gateway]` key it is over."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class Expansion:
    """A document's fragments inlined, one selection set at a time, within a bound on the work.

    Every selection visited (field, inline fragment, spread, each time a fragment is spread) costs
    one step of `limit`; past it, `TooComplex`. It also counts the @defer and @stream directives it
    meets, each time it meets them (`deferred`)."""

    def __init__(self, document: DocumentNode, limit: int = MAX_EXPANSION, limit_name: str = "max_fields") -> None:
        self.fragments = _fragments(document)
        self.limit = limit
        self.limit_name = limit_name
        self.left = limit
        self.deferred = 0

    def fields(self, selection_set: SelectionSetNode, seen: frozenset[str] = frozenset()) -> Iterator[FieldNode]:
        """The fields of a selection set, fragments inlined (each spread as often as it is spread)."""
        for selection in selection_set.selections:
            self.left -= 1
            if self.left < 0:
                raise TooComplex(f"The document selects more than {self.limit} fields and fragments.",
                                 self.limit_name)
            if isinstance(selection, FieldNode):
                if _directed(selection, "stream"):
                    self.deferred += 1
                yield selection
                continue
            if _directed(selection, "defer"):
                self.deferred += 1
            if isinstance(selection, InlineFragmentNode):
                yield from self.fields(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is not None and name not in seen:  # a cycle is invalid anyway: do not follow it
                    yield from self.fields(fragment.selection_set, seen | {name})


def check_shape(document: DocumentNode, *, max_fields: int, max_repeats: int, max_copies: int, max_deferred: int,
                max_parts: int | None = None) -> None:
    """Raises `TooComplex` if the document has too many selections, a name in too many forms or copies,
    too many @defer/@stream, or could stream more than `max_parts` parts (each a part for every item of
    the lists around it: `LIST_PARTS`), graphql-core's costliest work per field."""
    expansion = Expansion(document, max_fields)
    parts = [0]

    def visit(sets: list[SelectionSetNode], items: int) -> None:
        groups: dict[str, list[FieldNode]] = {}
        before = expansion.deferred
        for selection_set in sets:
            for node in expansion.fields(selection_set):
                groups.setdefault(node.alias.value if node.alias else node.name.value, []).append(node)
        if expansion.deferred > max_deferred:
            raise TooComplex(f"The document asks for more than {max_deferred} @defer or @stream parts (each "
                             "fragment counted every time it is spread).", "max_deferred")
        parts[0] += (expansion.deferred - before) * items
        for key, nodes in groups.items():
            if len(nodes) > max_repeats:
                _repeated(key, nodes, max_repeats=max_repeats, max_copies=max_copies)
            each = items * LIST_PARTS.get(nodes[0].name.value, 1)
            if any(_directed(node, "stream") for node in nodes):
                parts[0] += each  # every streamed item may be a part of its own
            if max_parts is not None and parts[0] > max_parts:
                raise TooComplex(f"The document could stream more than {max_parts} parts (a fragment deferred "
                                 "inside a list is a part for every item); defer the list's field once instead.",
                                 "max_incremental_parts")
            children = [node.selection_set for node in nodes if node.selection_set]
            if children:
                visit(children, each)

    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            visit([definition.selection_set], 1)


def _repeated(key: str, nodes: list[FieldNode], *, max_repeats: int, max_copies: int) -> None:
    """A response name selected more than `max_repeats` times in one merged selection set: fine while the
    copies are at most `max_repeats` forms and `max_copies` in all (only looked at past `max_repeats`)."""
    if len(nodes) > max_copies:
        raise TooComplex(f"'{key}' is selected {len(nodes)} times in one selection set; at most {max_copies} "
                         "copies are allowed.", "max_copies")
    forms = {_form(node) for node in nodes}
    if len(forms) > max_repeats:
        raise TooComplex(f"'{key}' is selected in {len(forms)} different forms (field, arguments or directives) "
                         f"in one selection set; at most {max_repeats} are allowed.", "max_repeats")


def _form(node: FieldNode) -> tuple[str, ...]:
    """What makes two selections of one response name differ for the overlapping-fields rule (their
    selections aside, which are merged): the field, its arguments and its directives."""
    arguments = sorted(f"{a.name.value}:{print_ast(a.value)}" for a in node.arguments or ())
    return (node.name.value, *arguments, "|", *(print_ast(d) for d in node.directives or ()))


def vendor_calls(document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any] | None) -> int:
    """The most vendor calls the operation named (or the only one) can make with these variables."""
    operation = _operation(document, operation_name)
    if operation is None:
        return 0
    expansion = Expansion(document)
    variables = {**_defaults(operation), **(variables or {})}  # what is not sent, its default
    root = "Mutation" if operation.operation is OperationType.MUTATION else "Query"

    def cost(parent: str, selection_set: SelectionSetNode) -> int:
        total = 0
        for node in expansion.fields(selection_set):
            name = node.name.value
            own = WEIGHTS.get((parent, name), 0)
            if (parent, name) in PER_LINE_EXTRA:
                own = _lines(node, variables) + PER_LINE_EXTRA[(parent, name)]
            child = _CHILD_TYPES.get((parent, name))
            below = cost(child, node.selection_set) if child and node.selection_set else 0
            if (parent, name) == ("Query", "products"):
                below *= _page_size(node, variables)
            total += own + below
        return total

    return cost(root, operation.selection_set)


def fixed_vendor_calls(document: DocumentNode) -> int | None:
    """The most vendor calls any operation of a document without variables can make; None when an
    operation takes variables (its cost is known only with them, at request time)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if not operations or any(op.variable_definitions for op in operations):
        return None
    return max(vendor_calls(document, op.name.value if op.name else None, {}) for op in operations)


# The object type each object-valued field returns, for the fields that can lead to a weighted one.
_CHILD_TYPES: dict[tuple[str, str], str] = {
    ("Query", "product"): "Product",
    ("Query", "products"): "ProductConnection",
    ("ProductConnection", "nodes"): "Product",
    ("ProductConnection", "edges"): "ProductEdge",
    ("ProductEdge", "node"): "Product",
    ("Product", "variants"): "ProductVariant",
    ("Product", "variantBySelectedOptions"): "ProductVariant",
    ("Query", "cartQuote"): "CartQuote",
    ("CartQuote", "lines"): "CartLine",
    ("CartLine", "variant"): "ProductVariant",
}


def fields_of(document: DocumentNode, selection_set: SelectionSetNode) -> list[FieldNode]:
    """A selection set's fields, fragments of the document inlined (within `MAX_EXPANSION` steps)."""
    return list(Expansion(document).fields(selection_set))


def _directed(node: SelectionNode, name: str) -> bool:
    return any(d.name.value == name for d in node.directives or ())


def _defaults(operation: OperationDefinitionNode) -> dict[str, Any]:
    """The operation's variables' default values: `$n: Int = 50` asks for 50 when $n is not sent."""
    return {d.variable.name.value: _value(d.default_value, {}) for d in operation.variable_definitions or ()
            if d.default_value is not None}


def _fragments(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)


def _argument(node: FieldNode, name: str) -> ValueNode | None:
    return next((a.value for a in node.arguments or () if a.name.value == name), None)


def _value(value: ValueNode | None, variables: Mapping[str, Any]) -> Any:
    """A literal as Python, or a variable's value; objects and lists only as far as needed here."""
    if isinstance(value, VariableNode):
        return variables.get(value.name.value)
    if isinstance(value, IntValueNode):
        return int(value.value)
    if isinstance(value, ListValueNode):
        return [_value(v, variables) for v in value.values]
    if isinstance(value, ObjectValueNode):
        return {f.name.value: _value(f.value, variables) for f in value.fields}
    return None


def _page_size(node: FieldNode, variables: Mapping[str, Any]) -> int:
    first = _value(_argument(node, "first"), variables)
    if first is None:
        return PAGE_DEFAULT
    return first if isinstance(first, int) and 0 < first <= PAGE_MAX else PAGE_MAX


def _lines(node: FieldNode, variables: Mapping[str, Any]) -> int:
    given = _value(_argument(node, "input"), variables)
    lines = given.get("lines") if isinstance(given, dict) else None
    return min(len(lines), MAX_LINES) if isinstance(lines, list) else MAX_LINES
