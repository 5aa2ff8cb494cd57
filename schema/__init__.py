"""The public GraphQL contract: types per domain, the Query root, and the schema factory."""

from schema.root import SchemaLimits, build_schema

__all__ = ["SchemaLimits", "build_schema"]
