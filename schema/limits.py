"""How much one GraphQL document may ask for: the schema's own protections, with their reasons.

They are `[gateway]` keys in `bezel.toml` (`GatewaySettings` extends this), declared once, here.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class QueryLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The deepest product-page query is 6; introspection is not counted.
    max_depth: int = Field(default=12, ge=2)
    # Enough for a comparison page, too few to fan one query out 1000x.
    max_aliases: int = Field(default=30, ge=1)
    # The README's full product query is ~150 tokens; refuses huge documents before parsing them.
    max_tokens: int = Field(default=4_000, ge=100)
    # Distinct query texts whose parse and validation results are kept.
    document_cache_size: int = Field(default=256, ge=1)
