"""Resolvers called directly, with their arguments converted by functions built once per type.

strawberry wraps every resolver in a chain built for the general case: per call it makes an `Info`,
converts each argument by walking its annotation (the name converter camel-cases every input
field's name again, `resolve_type` re-reads annotations), folds the field extensions over the
call, and wraps the answer in `await_maybe`. A product page has six resolver fields, three of them
with an input object: ~10% of a warm page's CPU went to that chain (profile in bench/README.md).

For a field that uses none of what the chain adds (no field extensions, no permission classes, no
exception handlers, no `Maybe`, `GlobalID` or `from_input` argument), `install` replaces its
`resolve` with a direct call: the same reserved parameters (self, root, parent, info: strawberry's
own `Info` class) and arguments converted exactly as `strawberry.types.arguments.convert_argument`
would, by a converter built once per argument type. Errors pass through unchanged, so graphql-core
locates and reports them as before. Any field outside that subset keeps strawberry's resolver.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema
from strawberry.relay.types import GlobalID
from strawberry.scalars import is_scalar
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryList, StrawberryMaybe, StrawberryOptional, has_object_definition
from strawberry.types.enum import StrawberryEnumDefinition, has_enum_definition
from strawberry.types.field import StrawberryField
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET

BACKREF = GraphQLCoreConverter.DEFINITION_BACKREF
Converter = Callable[[Any], Any]


class NotDirect(Exception):
    """This field (or one of its argument types) needs strawberry's own resolver."""


def install(schema: Any) -> int:
    """Give every eligible resolver field of `schema` (a strawberry Schema) a direct `resolve`;
    returns how many fields got one."""
    core: GraphQLSchema = schema._schema
    converter: GraphQLCoreConverter = schema.schema_converter
    installed = 0
    for graphql_type in core.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for field_def in graphql_type.fields.values():
            field = (field_def.extensions or {}).get(BACKREF)
            if not isinstance(field, StrawberryField):
                continue
            try:
                direct = direct_resolver(field, converter)
            except NotDirect:
                continue
            field_def.resolve = direct
            installed += 1
    return installed


def direct_resolver(field: StrawberryField, converter: GraphQLCoreConverter) -> Callable[..., Any]:
    """A `resolve` for graphql-core that calls the field's resolver as strawberry's chain would."""
    resolver = field.base_resolver
    if (resolver is None or field.extensions or field.is_subscription or getattr(field, "permission_classes", None)
            or converter._get_field_exception_handlers(field)):
        raise NotDirect(field.python_name)
    reserved = resolver.reserved_parameters
    known = {resolver.self_parameter, resolver.root_parameter, resolver.parent_parameter, resolver.info_parameter}
    if any(parameter is not None and parameter not in known for parameter in reserved.values()):
        raise NotDirect(field.python_name)  # e.g. `cls`: strawberry binds it its own way
    config, registry = converter.config, converter.scalar_registry
    arguments = tuple((config.name_converter.from_argument(argument), argument.python_name,
                       converter_for(argument.type, registry, config))
                      for argument in field.arguments)
    func = resolver.wrapped_func
    if not callable(func):
        raise NotDirect(field.python_name)
    pass_self = resolver.self_parameter is not None
    sources = tuple(p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None)
    info_name = resolver.info_parameter.name if resolver.info_parameter is not None else None
    info_class = config.info_class

    def resolve(source: Any, info: Any, **raw: Any) -> Any:
        kwargs = {}
        for graphql_name, python_name, convert in arguments:
            if graphql_name in raw:
                kwargs[python_name] = convert(raw[graphql_name])
        for name in sources:
            kwargs[name] = source
        if info_name is not None:
            kwargs[info_name] = info_class(_raw_info=info, _field=field)
        return func(source, **kwargs) if pass_self else func(**kwargs)

    resolve._is_default = False  # type: ignore[attr-defined]
    # (graphql name, python name, converter) per argument: what tests/schema/fastpath/test_direct.py checks
    resolve._bezel_direct = arguments  # type: ignore[attr-defined]
    return resolve


def converter_for(type_: Any, registry: Mapping[object, Any], config: Any) -> Converter:
    """A function converting a GraphQL input value of `type_` as `convert_argument` does."""
    if isinstance(type_, StrawberryMaybe) or type_ is GlobalID:
        raise NotDirect(str(type_))
    if isinstance(type_, StrawberryOptional):
        return converter_for(type_.of_type, registry, config)
    if isinstance(type_, LazyType):
        return converter_for(type_.resolve_type(), registry, config)
    if isinstance(type_, StrawberryList):
        return _list(type_, registry, config)
    if is_scalar(type_, registry) or isinstance(type_, StrawberryEnumDefinition) or has_enum_definition(type_):
        return _same
    if has_object_definition(type_):
        return _input_object(type_, registry, config)
    raise NotDirect(str(type_))


def _same(value: Any) -> Any:
    return value


def _list(type_: StrawberryList, registry: Mapping[object, Any], config: Any) -> Converter:
    item = type_.of_type
    bare = item.of_type if isinstance(item, StrawberryOptional) else item
    if isinstance(bare, LazyType):
        bare = bare.resolve_type()
    if bare is not GlobalID and (is_scalar(bare, registry) or isinstance(bare, StrawberryEnumDefinition)):
        # Leaves are not converted, but the list is copied: graphql-core hands every request that
        # omits it the same default list.
        def leaves(value: Any) -> Any:
            if value is None or value is UNSET:
                return value
            return list(value)

        return leaves
    convert_item = converter_for(item, registry, config)

    def items(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        return [None if x is None else convert_item(x) for x in value]

    return items


def _input_object(cls: type, registry: Mapping[object, Any], config: Any) -> Converter:
    definition = cls.__strawberry_definition__  # type: ignore[attr-defined]
    if definition.from_input is not None:
        raise NotDirect(cls.__name__)
    defaults = {f.python_name: None for f in definition.fields
                if f.default_value is MISSING and f.default_factory is MISSING} if definition.is_input else {}
    # Every converter passes None and UNSET through itself, as convert_argument does for any type.
    fields = tuple((config.name_converter.from_field(f), f.python_name,
                    converter_for(f.resolve_type(type_definition=definition), registry, config))
                   for f in definition.fields)

    def build(value: Any) -> Any:
        if value is None or value is UNSET:
            return value
        kwargs = dict(defaults)
        for graphql_name, python_name, convert in fields:
            if graphql_name in value:
                kwargs[python_name] = convert(value[graphql_name])
        return cls(**kwargs)

    return build

