"""Direct resolvers (schema/fastpath/direct.py) convert arguments exactly as strawberry does, and leave
alone every field whose resolver needs strawberry's own chain."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    coerce_input_value,
)
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission
from strawberry.types.arguments import convert_argument

from schema import build_schema
from schema.fastpath.direct import BACKREF, install

SCALARS = {"String": "Forever Yours", "ID": "gid://bezel/ProductVariant/1", "Int": 2, "Float": 1.5, "Boolean": True}


def samples(type_: Any, shape: str) -> list[Any]:
    """JSON-ish input values of `type_`: every field set ("full"), only the required ones ("required"),
    optional fields sent as null ("nulls")."""
    if isinstance(type_, GraphQLNonNull):
        return samples(type_.of_type, shape)
    if isinstance(type_, GraphQLList):
        return [samples(type_.of_type, shape) * 2, []]
    if isinstance(type_, GraphQLEnumType):
        return [next(iter(type_.values))]
    if isinstance(type_, GraphQLScalarType):
        return [SCALARS[type_.name]]
    assert isinstance(type_, GraphQLInputObjectType)
    out = {}
    for name, field in type_.fields.items():
        required = isinstance(field.type, GraphQLNonNull)
        if required or shape == "full":
            out[name] = samples(field.type, shape)[0]
        elif shape == "nulls":
            out[name] = None
    return [out]


def is_direct(field_def: Any) -> bool:
    return getattr(field_def.resolve, "_bezel_direct", None) is not None


def direct_arguments() -> list[tuple[str, Any, Any]]:
    schema = build_schema()
    found = []
    for type_name in ("Query", "Mutation", "Product"):
        for field_name, field_def in schema._schema.type_map[type_name].fields.items():
            if not is_direct(field_def):
                continue
            strawberry_field = field_def.extensions[BACKREF]
            for argument in strawberry_field.arguments:
                graphql_name = schema.config.name_converter.from_argument(argument)
                found.append((f"{type_name}.{field_name}({graphql_name})", field_def, argument))
    return found


@pytest.mark.parametrize(("where", "field_def", "argument"), direct_arguments(), ids=lambda x: x if isinstance(x, str)
                         else "")
@pytest.mark.parametrize("shape", ["full", "required", "nulls"])
def test_arguments_convert_as_strawberry_converts_them(where: str, field_def: Any, argument: Any, shape: str) -> None:
    schema = build_schema()
    graphql_name = schema.config.name_converter.from_argument(argument)
    graphql_type = field_def.args[graphql_name].type
    for raw in samples(graphql_type, shape):
        coerced = coerce_input_value(raw, graphql_type)
        expected = convert_argument(coerced, argument.type, schema.schema_converter.scalar_registry, schema.config)
        converted = {python_name: convert(coerced) for name, python_name, convert in field_def.resolve._bezel_direct
                     if name == graphql_name}
        assert converted == {argument.python_name: expected}, where


def test_the_product_page_resolvers_are_called_directly() -> None:
    schema = build_schema()
    product = schema._schema.type_map["Product"].fields
    for name in ("variants", "taxEstimate", "shippingInsurance", "financing", "engravingPreview"):
        assert is_direct(product[name]), name
    assert is_direct(schema._schema.type_map["Query"].fields["product"])
    plain = build_schema(fast_path=False)
    assert not is_direct(plain._schema.type_map["Query"].fields["product"])


class Upper(FieldExtension):
    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        return next_(source, info, **kwargs).upper()


class Never(BasePermission):
    message = "no"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Sample:
    @strawberry.field(extensions=[Upper()])
    def shouted(self) -> str:
        return "quiet"

    @strawberry.field(permission_classes=[Never])
    def secret(self) -> str:
        return "secret"

    @strawberry.field
    def echo(self, info: strawberry.Info, text: str, times: int = 1) -> str:
        assert info.field_name == "echo"
        return text * times

    @strawberry.field
    @staticmethod
    def constant() -> str:
        return "c"


def test_fields_that_need_strawberry_s_chain_keep_it() -> None:
    schema = strawberry.Schema(query=Sample)
    assert install(schema) == 2  # echo and constant
    fields = schema._schema.type_map["Sample"].fields
    assert not is_direct(fields["shouted"])
    assert not is_direct(fields["secret"])
    assert is_direct(fields["echo"])
    assert is_direct(fields["constant"])
    result = schema.execute_sync('{ shouted secret echo(text: "ab", times: 2) constant }', root_value=Sample())
    # The permission class ran (strawberry's chain, not a direct call): its refusal of a non-null field
    # nulls the whole answer, and says why at the field.
    assert result.data is None
    assert [(e.message, e.path) for e in result.errors or []] == [("no", ["secret"])]
    result = schema.execute_sync('{ shouted echo(text: "ab", times: 2) constant }', root_value=Sample())
    assert result.data == {"shouted": "QUIET", "echo": "abab", "constant": "c"}
