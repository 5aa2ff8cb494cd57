"""The public GraphQL contract: types per domain, the Query root, and the schema factory."""

from schema.limits import QueryLimits
from schema.root import build_schema

__all__ = ["QueryLimits", "build_schema"]
