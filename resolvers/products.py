"""Products, variants and their availability."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from connectors.errors import InputError, VendorError, VendorUnavailable
from connectors.models import (
    Availability,
    Freshness,
    Product,
    ProductPage,
    SelectedOption,
    Source,
    Sourced,
    StockLevel,
    StockPath,
    StockStatus,
    Variant,
)
from resolvers.context import RequestContext
from resolvers.loaders import StockAnswer
from resolvers.validation import decode_cursor, page_size, parse_gid

MAX_HANDLE = 255


async def product_by_handle(ctx: RequestContext, handle: str) -> Sourced[Product] | None:
    """The product, or None when no product has this handle (not an error)."""
    handle = handle.strip().lower()
    if not handle or len(handle) > MAX_HANDLE:
        return None
    found = await ctx.loaders.product_by_handle.load(handle)
    if found is not None:
        ctx.shown.product(found.value.id)
    return found


async def product_page(ctx: RequestContext, first: int | None, after: str | None) -> Sourced[ProductPage]:
    size = page_size(first)
    after_cursor = decode_cursor(after) if after else None
    page = await ctx.call(ctx.services.vendors.catalog.product_page(size, after_cursor, client=ctx.client))
    ctx.shown.listing = True
    for product in page.value.products:
        ctx.shown.product(product.id)
    return page


def variant_by_selected_options(
    product: Product, selected: Sequence[SelectedOption], *, case_insensitive: bool = False
) -> Variant | None:
    """The variant matching every option; None if that combination is not made.

    An option name or value the product does not have is an input error, so a typo is never
    mistaken for "sold out".
    """
    def norm(text: str) -> str:
        return text.strip().casefold() if case_insensitive else text.strip()

    options = {norm(o.name): o for o in product.options}
    wanted: dict[str, str] = {}
    problems = []
    for i, choice in enumerate(selected):
        option = options.get(norm(choice.name))
        field = f"selectedOptions[{i}]"
        if option is None:
            problems.append((f"{field}.name", f"{product.title} has no option {choice.name!r}; "
                             f"its options are {', '.join(o.name for o in product.options)}."))
        elif norm(option.name) in wanted:
            problems.append((f"{field}.name", f"Option {option.name!r} is given twice."))
        elif norm(choice.value) not in {norm(v) for v in option.values}:
            problems.append((f"{field}.value", f"{choice.value!r} is not a value of {option.name}; "
                             f"choose one of {', '.join(option.values)}."))
        else:
            wanted[norm(option.name)] = norm(choice.value)
    missing = [o.name for o in product.options if norm(o.name) not in wanted]
    if missing and not problems:
        problems.append(("selectedOptions", f"Choose a value for every option; missing: {', '.join(missing)}."))
    if problems:
        raise InputError(problems[0][1], field=problems[0][0],
                         problems=[{"field": f, "message": m} for f, m in problems])
    for variant in product.variants:
        if all(wanted.get(norm(o.name)) == norm(o.value) for o in variant.selected_options):
            return variant
    return None


def pick_variant(product: Product, variant_id: str | None, field: str = "variantId") -> Variant:
    """The variant asked for, or the product's entry price variant when none is given."""
    if variant_id is None:
        return min(product.variants, key=lambda v: v.price.amount)
    variant = product.variant(parse_gid(variant_id, "ProductVariant", field))
    if variant is None:
        raise InputError(f"{product.title} has no variant {variant_id}.", field=field)
    return variant


def stock_status(available: int, safety_stock: int) -> StockStatus:
    if available <= 0:
        return StockStatus.OUT_OF_STOCK
    if available < safety_stock:
        return StockStatus.LOW_STOCK
    return StockStatus.IN_STOCK


async def availability(ctx: RequestContext, variant: Variant) -> Availability:
    """Stock for one variant; every variant of a request shares one inventory call.

    At or above the safety stock, a cached answer will do. Below it, the inventory vendor is asked
    on every read. If it cannot answer, the variant is never shown IN_STOCK from an old answer:
    LOW_STOCK (or OUT_OF_STOCK if it was last seen sold out), unconfirmed; with no earlier answer
    at all, UNKNOWN. The response then carries one VENDOR_UNAVAILABLE error for the whole request.

    Bezel's own truth comes first: what a page shows is never more than checkout would sell now (its
    counter, holds taken off), whatever the inventory vendor says (path CHECKOUT when the counter
    decided); if checkout's Redis cannot say, the answer is unconfirmed.
    """
    loader = ctx.loaders.stock_by_sku
    stock = loader.answered.get(variant.sku)
    if stock is None:
        try:
            stock = await loader.load(variant.sku)
        except VendorError as exc:
            stock = exc
    shown = _availability(ctx, stock)
    _note(ctx, variant.sku, shown)
    if shown.status in _OFFERED:
        ctx.services.offers.offered((variant.sku,))
    return shown


async def availabilities(ctx: RequestContext, variants: Sequence[Variant]) -> dict[str, Availability]:
    """Stock for many variants at once (one inventory call), by SKU: cheaper than one await per variant."""
    skus = tuple(v.sku for v in variants)
    try:
        answers = await ctx.loaders.stock_by_sku.load(skus)
    except VendorError as exc:
        answers = dict.fromkeys(skus, exc)
    shown = {sku: _availability(ctx, answer) for sku, answer in answers.items()}
    for sku, one in shown.items():
        _note(ctx, sku, one)
    ctx.services.offers.offered(sku for sku, a in shown.items() if a.status in _OFFERED)
    return shown


_OFFERED = frozenset({StockStatus.IN_STOCK, StockStatus.LOW_STOCK})  # what a shopper may put in the bag
_COUNTED = frozenset({StockPath.CHECKOUT, StockPath.LIVE_CHECK})  # read this request, not from a cache
CHECKOUT = "checkout"  # the freshness vendor of an availability checkout's own counter decided


def _note(ctx: RequestContext, sku: str, shown: Availability) -> None:
    """What an edge must know of the stock this answer shows: its SKU (a sale purges it), and whether it
    is scarce (only the next sale would tell) or unconfirmed."""
    seen = ctx.shown
    seen.skus.add(sku)
    if shown.status is StockStatus.LOW_STOCK:
        seen.scarce = True
    if not shown.confirmed and shown.status is not StockStatus.OUT_OF_STOCK:
        seen.unconfirmed = True
    if shown.path in _COUNTED:
        seen.counted = True
    if shown.status in _OFFERED:
        seen.offered.add(sku)


def _availability(ctx: RequestContext, stock: StockAnswer | BaseException) -> Availability:
    """The inventory vendor's answer, bounded by checkout's counter."""
    if isinstance(stock, BaseException):
        return _from_vendor(ctx, stock)
    shown = _from_vendor(ctx, stock.level)
    if stock.held_unread:  # checkout could not say what it would sell: the vendor's word alone is not enough
        return replace(shown, confirmed=False)
    held = stock.held
    if held is None or (shown.quantity is not None and shown.quantity <= held):
        return shown
    if shown.quantity is None and held > 0:  # the vendor failed: checkout alone cannot confirm more
        return shown
    return Availability(stock_status(held, ctx.services.safety_stock), held, Freshness(Source.LIVE, 0, CHECKOUT),
                        confirmed=True, path=StockPath.CHECKOUT)


def _from_vendor(ctx: RequestContext, stock: Sourced[StockLevel] | BaseException) -> Availability:
    if isinstance(stock, BaseException):
        if not isinstance(stock, VendorError):
            raise stock
        unavailable = VendorUnavailable(stock.vendor, stock.outcome)
        ctx.note_partial(stock.vendor, unavailable)
        return Availability(StockStatus.UNKNOWN, None, Freshness(Source.NONE, 0, stock.vendor), confirmed=False,
                            path=StockPath.FALLBACK)
    safety = ctx.services.safety_stock
    level, freshness = stock.value, stock.freshness
    if freshness.source is Source.STALE:
        status = StockStatus.LOW_STOCK if level.available > 0 else StockStatus.OUT_OF_STOCK
        return Availability(status, None, freshness, confirmed=False, path=StockPath.FALLBACK)
    if freshness.source is Source.CACHE:
        path = StockPath.CACHE
    else:
        path = StockPath.LIVE_CHECK if level.available < safety else StockPath.LIVE
    return Availability(stock_status(level.available, safety), level.available, freshness, confirmed=True, path=path)
