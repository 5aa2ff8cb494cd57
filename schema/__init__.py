"""The public GraphQL contract: types per domain, the Query root, and the schema factory."""

from schema import internals  # noqa: F401  (first: its probe checks every library internal Bezel uses)
from schema.limits import QueryLimits
from schema.root import build_schema

__all__ = ["QueryLimits", "build_schema"]
