"""Products, variants, options, availability and the products connection."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from enum import Enum
from typing import Any

import strawberry
from cachetools import LRUCache

from connectors import models
from resolvers import products as product_resolvers
from resolvers import quotes as quote_resolvers
from resolvers import validation
from resolvers.live import LiveProduct
from resolvers.validation import encode_cursor, gid
from schema.common import Freshness, Info, Money, selects
from schema.fastpath import prefetched
from schema.quotes import AddressInput, EngravingInput, EngravingPreview, FinancingOffers, InsuranceQuote, TaxQuote


@strawberry.enum
class AvailabilityStatus(Enum):
    IN_STOCK = "IN_STOCK"
    LOW_STOCK = "LOW_STOCK"
    OUT_OF_STOCK = "OUT_OF_STOCK"
    UNKNOWN = "UNKNOWN"


@strawberry.enum(description="How an availability answer was reached.")
class StockPath(Enum):
    CACHE = strawberry.enum_value("CACHE", description="At or above safety stock: served from cache.")
    LIVE = strawberry.enum_value("LIVE", description="Not cached yet: asked the inventory vendor.")
    LIVE_CHECK = strawberry.enum_value(
        "LIVE_CHECK", description="Below safety stock: asked the inventory vendor, as on every read."
    )
    FALLBACK = strawberry.enum_value(
        "FALLBACK", description="The inventory vendor could not answer: an unconfirmed guess from its last answer, "
        "or UNKNOWN."
    )
    CHECKOUT = strawberry.enum_value(
        "CHECKOUT", description="Checkout's own stock counter decided: it would sell fewer than the inventory vendor "
        "says (a sale or hold the vendor has not heard of yet). What a page shows is never more than checkout would "
        "sell."
    )


@strawberry.type(description="Whether a variant can be bought now, and how sure Bezel is.")
class Availability:
    status: AvailabilityStatus
    quantity_available: int | None = strawberry.field(description="Null when the answer is unconfirmed.")
    confirmed: bool = strawberry.field(
        description="False when the inventory vendor, or checkout's own stock counter, could not confirm it just "
        "now. An unconfirmed answer from the vendor's last answer is never IN_STOCK: LOW_STOCK means 'last seen in "
        "stock; checkout will tell'."
    )
    path: StockPath
    freshness: Freshness

    @classmethod
    def from_domain(cls, a: models.Availability) -> Availability:
        return cls(
            status=_STATUSES[a.status],
            quantity_available=a.quantity,
            confirmed=a.confirmed,
            path=_PATHS[a.path],
            freshness=Freshness.from_domain(a.freshness),
        )


# Domain enum -> schema enum by lookup: calling an Enum class to convert costs ~1 us a value.
_STATUSES = {status: AvailabilityStatus(status.value) for status in models.StockStatus}
_PATHS = {path: StockPath(path.value) for path in models.StockPath}


@strawberry.type
class SelectedOption:
    name: str
    value: str


@strawberry.input
class SelectedOptionInput:
    name: str
    value: str


@strawberry.type
class ProductOption:
    name: str
    values: list[str]


@strawberry.type
class PriceRange:
    min_variant_price: Money
    max_variant_price: Money


@strawberry.type
class Image:
    url: str
    alt_text: str


@strawberry.type
class ProductVariant:
    id: strawberry.ID
    sku: str
    title: str
    price: Money
    selected_options: list[SelectedOption]
    domain: strawberry.Private[models.Variant]
    stock: strawberry.Private[Availability | None] = None  # prefetched for a whole product's variants

    @classmethod
    def from_domain(cls, v: models.Variant, stock: models.Availability | None = None) -> ProductVariant:
        return cls._shell(v).with_stock(stock)

    def with_stock(self, stock: models.Availability | None) -> ProductVariant:
        if stock is None:
            return self  # shells are never mutated: sharing one across requests is safe
        return ProductVariant(id=self.id, sku=self.sku, title=self.title, price=self.price,
                              selected_options=self.selected_options, domain=self.domain,
                              stock=Availability.from_domain(stock))

    @classmethod
    def _shell(cls, v: models.Variant) -> ProductVariant:
        return cls(
            id=strawberry.ID(gid("ProductVariant", v.id)),
            sku=v.sku,
            title=v.title,
            price=Money.from_domain(v.price),
            selected_options=[SelectedOption(name=o.name, value=o.value) for o in v.selected_options],
            domain=v,
        )

    @strawberry.field(description="Stock for this variant; every variant on a page shares one inventory call.")
    @prefetched("stock")
    def availability(self, info: Info) -> Availability:
        if self.stock is not None:
            return self.stock
        return self._load_availability(info)  # type: ignore[return-value]  # an awaitable graphql-core awaits

    async def _load_availability(self, info: Info) -> Availability:
        return Availability.from_domain(await product_resolvers.availability(info.context, self.domain))


Shells = LRUCache[int, tuple[models.Product, list["ProductVariant"]]]


def variant_shells() -> Shells:
    """The schema's store of variant shells (`BezelSchema.shells`, one per built schema)."""
    return LRUCache(maxsize=1024)


def _variant_shells(shells: Shells, product: models.Product) -> list[ProductVariant]:
    """A product's variants as schema objects without stock, built once per catalog answer.

    The in-process cache hands every request the same `models.Product` while it is fresh, so its
    variants' ids, prices and options are converted once, not on every page view (4% of the
    instructions of a cached 30-variant page). Keyed by identity; the entry holds the product, so
    the id cannot be reused."""
    entry = shells.get(id(product))
    if entry is None or entry[0] is not product:
        entry = (product, [ProductVariant._shell(v) for v in product.variants])
        shells[id(product)] = entry
    return entry[1]


@strawberry.type
class Product:
    id: strawberry.ID
    handle: str
    title: str
    description: str
    description_html: str
    vendor: str
    product_type: str
    tags: list[str]
    options: list[ProductOption]
    price_range: PriceRange
    engravable: bool
    images: list[Image]
    freshness: Freshness
    domain: strawberry.Private[models.Product]
    # Every variant's stock, read once for all of a live page's subscribers (`schema.live`); None on a query.
    stock: strawberry.Private[Mapping[str, models.Availability] | None] = None
    # A live message's state's memo: the executions every subscriber of it shares (`schema.shared_events`).
    live_memo: strawberry.Private[dict[Hashable, Any] | None] = None

    @classmethod
    def live(cls, state: LiveProduct) -> Product:
        """A `productChanged` message: the state the hub read, stock included, shared by every subscriber."""
        product = cls.from_domain(state.product)
        product.stock = state.stock
        product.live_memo = state.memo  # one execution of each document over this state (schema.shared_events)
        return product

    @classmethod
    def from_domain(cls, sourced: models.Sourced[models.Product]) -> Product:
        p = sourced.value
        return cls(
            id=strawberry.ID(gid("Product", p.id)),
            handle=p.handle,
            title=p.title,
            description=p.description,
            description_html=p.description_html,
            vendor=p.vendor,
            product_type=p.product_type,
            tags=list(p.tags),
            options=[ProductOption(name=o.name, values=list(o.values)) for o in p.options],
            price_range=PriceRange(min_variant_price=Money.from_domain(p.min_price),
                                   max_variant_price=Money.from_domain(p.max_price)),
            engravable=p.engravable,
            images=[Image(url=i.url, alt_text=i.alt_text) for i in p.images],
            freshness=Freshness.from_domain(sourced.freshness),
            domain=p,
        )

    @strawberry.field
    async def variants(self, info: Info) -> list[ProductVariant]:
        # Built on demand: a product list that does not ask for variants never pays for 200 of them.
        # When stock is asked for, it is fetched for all variants at once, not awaited variant by variant.
        shells = _variant_shells(info.schema.shells, self.domain)  # type: ignore[attr-defined]  # BezelSchema
        if not selects(info, "availability"):
            return shells
        if self.stock is not None:  # a live page's message: read already, for every subscriber at once
            return [shell.with_stock(self.stock.get(shell.sku)) for shell in shells]
        stock = await product_resolvers.availabilities(info.context, self.domain.variants)
        return [shell.with_stock(stock.get(shell.sku)) for shell in shells]

    @strawberry.field(description="The variant with exactly these options; null if that combination is not made. "
                      "An unknown option name or value is an error (BAD_USER_INPUT), never a silent null.")
    def variant_by_selected_options(
        self, selected_options: list[SelectedOptionInput], case_insensitive_match: bool = False
    ) -> ProductVariant | None:
        chosen = [models.SelectedOption(name=o.name, value=o.value) for o in selected_options]
        variant = product_resolvers.variant_by_selected_options(
            self.domain, chosen, case_insensitive=case_insensitive_match
        )
        return ProductVariant.from_domain(variant) if variant else None

    @strawberry.field(description="Sales tax for shipping one unit of the variant (default: the lowest-priced).")
    async def tax_estimate(
        self, info: Info, ship_to: AddressInput, variant_id: strawberry.ID | None = None
    ) -> TaxQuote | None:
        address = validation.address(ship_to, "shipTo")
        variant = product_resolvers.pick_variant(self.domain, variant_id)
        return TaxQuote.from_domain(await quote_resolvers.tax_for_lines(info.context, address, [(variant, 1)]))

    @strawberry.field(description="A shipping-insurance quote for one unit of the variant.")
    async def shipping_insurance(
        self, info: Info, ship_to: AddressInput, variant_id: strawberry.ID | None = None
    ) -> InsuranceQuote | None:
        address = validation.address(ship_to, "shipTo")
        variant = product_resolvers.pick_variant(self.domain, variant_id)
        return InsuranceQuote.from_domain(
            await quote_resolvers.insurance_for_lines(info.context, address, [(variant, 1)])
        )

    @strawberry.field(description="Buy-now-pay-later offers from every configured provider for the variant's price.")
    async def financing(
        self, info: Info, variant_id: strawberry.ID | None = None
    ) -> FinancingOffers | None:
        variant = product_resolvers.pick_variant(self.domain, variant_id)
        return FinancingOffers.from_domain(await quote_resolvers.financing(info.context, variant.price))

    @strawberry.field(description="A rendered preview of an engraving, with the limits that apply to it.")
    async def engraving_preview(
        self, info: Info, input: EngravingInput
    ) -> EngravingPreview | None:
        variant = product_resolvers.pick_variant(self.domain, input.variant_id, field="input.variantId")
        preview = await quote_resolvers.engraving_preview(
            info.context, self.domain, variant, text=input.text, font=input.font, placement=input.placement.value
        )
        return EngravingPreview.from_domain(preview)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class ProductEdge:
    cursor: str
    node: Product


@strawberry.type
class ProductConnection:
    edges: list[ProductEdge]
    nodes: list[Product]
    page_info: PageInfo

    @classmethod
    def from_domain(cls, sourced: models.Sourced[models.ProductPage]) -> ProductConnection:
        nodes = [Product.from_domain(models.Sourced(p, sourced.freshness)) for p in sourced.value.products]
        edges = [ProductEdge(cursor=encode_cursor(n.domain.id, vendor_cursor), node=n)
                 for n, vendor_cursor in zip(nodes, sourced.value.cursors, strict=True)]
        return cls(
            edges=edges,
            nodes=nodes,
            page_info=PageInfo(has_next_page=sourced.value.has_next_page,
                               end_cursor=edges[-1].cursor if edges else None),
        )

