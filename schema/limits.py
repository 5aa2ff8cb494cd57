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
    # The README's full product query is ~150 tokens, the storefront's ~300. Parsing costs ~3 us a token
    # (graphql-core's parser is Python): 2,000 bounds a refused document's parse to ~6 ms.
    max_tokens: int = Field(default=2_000, ge=100)
    # A query text's size in bytes, checked before anything reads it: comments and whitespace cost no
    # tokens but graphql-core's lexer reads every character (a 62 KB comment, ~10 ms of CPU, 20 times a
    # second from one client). The README's page is ~1.5 KB. Over it: 413 PAYLOAD_TOO_LARGE, unparsed.
    max_query_bytes: int = Field(default=16_384, ge=1_024)
    # Distinct query texts whose parse and validation results are kept.
    document_cache_size: int = Field(default=256, ge=1)
    # Checked before validation (whose overlapping-fields rule is quadratic): fields in a document,
    # fragments counted each time they are spread (the README's product page has ~45); in how many forms
    # (field, arguments, directives) one response name may appear in one selection set (a fragment
    # overlapping a field is 2); and in how many copies in all. Copies of one form are what clients add
    # by themselves: Apollo Client selects `__typename` in every selection set (the storefront's product
    # page, with its five deferred fragments, has six in one), colocated fragments each select `id`.
    # 16 copies of the largest subtree `max_fields` allows validate in ~20 ms; 480 took 0.6 s.
    max_fields: int = Field(default=1_000, ge=10)
    max_repeats: int = Field(default=4, ge=1)
    max_copies: int = Field(default=16, ge=1)
    # @defer and @stream in one operation, each counted every time its fragment is spread or its field
    # aliased (the storefront's product page has 5). Each one is a part of the answer for every item of
    # the lists around it, and a part costs graphql-core ~80 us: 30 aliased products with 4 deferred
    # fragments in their variants made 26,400 parts and seconds of CPU.
    max_deferred: int = Field(default=8, ge=0)
    # The most parts one answer may stream (deferred fragments times the list items they sit in, plus
    # streamed items), counted while it runs. Deferring a variant's stock inside `variants` makes a part
    # per variant (220 for the seed's largest ring, ~100 us of CPU each); deferring `variants {
    # availability }` once, as the storefront does, makes one. Past it: QUERY_TOO_COMPLEX there.
    max_incremental_parts: int = Field(default=300, ge=1)
    # The most vendor calls one operation may make, counted before it runs (`schema/cost.py`). The
    # README's product page is 7 (catalog, stock, tax, insurance, two BNPL, engraving); a 50-product
    # listing with every variant's stock is 53, with financing on each 150. 100 lets a page and a
    # listing through with room, and refuses fanning fields out over a listing (15 taxEstimate and 15
    # shippingInsurance over 50 products is 1,501). What does run is still held to
    # `vendor_calls_per_request`. Trusted (manifest) operations are reviewed code and are not counted.
    max_cost: int = Field(default=100, ge=1)
    # Per request and per vendor, the calls actually sent: beyond it, answers come from cache or the
    # field is refused for that request only, so no one request can fill a vendor's bulkhead (64).
    vendor_calls_per_request: int = Field(default=16, ge=1)
