"""The sandbox's jewelry catalog and starting stock, generated deterministically.

Sixteen products: engagement rings with metal x stone x size matrices (108 to 220 variants), a bespoke
configurator ring of 1,200 variants (engravable by metafield, not by tag), bands,
a 30-variant pendant (the benchmark's standard page), earrings from a few hundred dollars, three
one-of-a-kind pieces (quantity 1) and low-production pieces (2 or 3 units). Ids imitate Shopify's
numeric ids; prices are decimal strings in USD, as Shopify's Admin REST API returns them.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from decimal import Decimal

RING_SIZES = tuple(f"{s / 2:g}" for s in range(8, 19))  # 4 to 9 in half sizes: 11 sizes

PLATINUM = ("Platinum", "PT", Decimal("650"))
WHITE_GOLD_18 = ("18k White Gold", "WG", Decimal("300"))
YELLOW_GOLD_18 = ("18k Yellow Gold", "YG", Decimal("300"))
ROSE_GOLD_14 = ("14k Rose Gold", "RG", Decimal("0"))
YELLOW_GOLD_14 = ("14k Yellow Gold", "Y14", Decimal("0"))
WHITE_GOLD_14 = ("14k White Gold", "W14", Decimal("0"))
METALS_4 = (PLATINUM, WHITE_GOLD_18, YELLOW_GOLD_18, ROSE_GOLD_14)
METALS_3 = (PLATINUM, WHITE_GOLD_18, YELLOW_GOLD_18)


@dataclass(frozen=True)
class SeedVariant:
    id: int
    sku: str
    options: tuple[str, ...]
    price: Decimal
    position: int
    updated_at: str | None = None  # set by a price change (`PUT /_admin/price/{sku}`); None: as created


@dataclass(frozen=True)
class SeedProduct:
    id: int
    handle: str
    title: str
    body_html: str
    product_type: str
    tags: tuple[str, ...]
    option_names: tuple[str, ...]
    variants: tuple[SeedVariant, ...]
    stock_profile: str = "regular"  # regular | one_of_a_kind | limited
    vendor: str = "Maison Bezel"
    updated_at: str | None = None  # set by a change to one of its variants; None: as created
    engravable_metafield: bool = False  # engravable by its `custom.engravable` metafield (not a tag)

    def option_values(self, index: int) -> list[str]:
        return list(dict.fromkeys(v.options[index] for v in self.variants))


@dataclass
class _Ids:
    product: int = 8_104_000_000
    variant: int = 45_210_000_000


@dataclass
class _Builder:
    ids: _Ids = field(default_factory=_Ids)
    products: list[SeedProduct] = field(default_factory=list)

    def add(
        self,
        handle: str,
        title: str,
        description: str,
        product_type: str,
        tags: tuple[str, ...],
        base: Decimal,
        axes: list[tuple[str, list[tuple[str, str, Decimal]]]],
        code: str,
        stock_profile: str = "regular",
        engravable_metafield: bool = False,
    ) -> None:
        self.ids.product += 1
        names = tuple(name for name, _ in axes)
        variants = []
        for position, combo in enumerate(itertools.product(*(values for _, values in axes)), start=1):
            self.ids.variant += 1
            sku = "-".join([code, *(part for _, part, _ in combo)])
            price = base + sum((extra for _, _, extra in combo), Decimal(0))
            variants.append(
                SeedVariant(
                    id=self.ids.variant,
                    sku=sku,
                    options=tuple(label for label, _, _ in combo),
                    price=price.quantize(Decimal("0.01")),
                    position=position,
                )
            )
        self.products.append(
            SeedProduct(
                id=self.ids.product,
                handle=handle,
                title=title,
                body_html=f"<p>{description}</p>",
                product_type=product_type,
                tags=tags,
                option_names=names,
                variants=tuple(variants),
                stock_profile=stock_profile,
                engravable_metafield=engravable_metafield,
            )
        )


def _sizes(sizes: tuple[str, ...] = RING_SIZES) -> list[tuple[str, str, Decimal]]:
    return [(s, f"S{float(s) * 100:04.0f}", Decimal(0)) for s in sizes]


def build_catalog() -> list[SeedProduct]:
    b = _Builder()
    b.add(
        "aurelia-solitaire-ring",
        "Aurelia Solitaire Engagement Ring",
        "A knife-edge band rising to a four-prong cathedral setting. Hand-finished in our New York "
        "atelier; every center stone ships with its grading report.",
        "Engagement Ring",
        ("bridal", "engagement", "solitaire", "engravable"),
        Decimal("1450"),
        [
            ("Metal", list(METALS_4)),
            (
                "Center Stone",
                [
                    ("1.0 ct Lab Diamond", "LD10", Decimal("1800")),
                    ("1.5 ct Lab Diamond", "LD15", Decimal("2900")),
                    ("1.0 ct Natural Diamond", "ND10", Decimal("6500")),
                    ("1.5 ct Natural Diamond", "ND15", Decimal("12900")),
                ],
            ),
            ("Ring Size", _sizes()),
        ],
        "AUR",
    )
    b.add(
        "seraphina-halo-ring",
        "Seraphina Halo Engagement Ring",
        "A 1.0 ct natural center framed by a halo of 24 pavé diamonds (0.30 ctw) on a split shank.",
        "Engagement Ring",
        ("bridal", "engagement", "halo", "engravable"),
        Decimal("7900"),
        [
            ("Metal", list(METALS_4)),
            (
                "Stone Shape",
                [
                    ("Round", "RD", Decimal("600")),
                    ("Oval", "OV", Decimal("300")),
                    ("Cushion", "CU", Decimal("0")),
                    ("Emerald", "EM", Decimal("200")),
                    ("Pear", "PR", Decimal("250")),
                ],
            ),
            ("Ring Size", _sizes()),
        ],
        "SER",
    )
    b.add(
        "trinity-three-stone-ring",
        "Trinity Three-Stone Ring",
        "Past, present and future: a 0.75 ct center flanked by two 0.25 ct side stones.",
        "Engagement Ring",
        ("bridal", "engagement", "three-stone", "engravable"),
        Decimal("3900"),
        [
            ("Metal", list(METALS_3)),
            (
                "Stones",
                [
                    ("Diamond", "DDD", Decimal("1200")),
                    ("Sapphire & Diamond", "SDS", Decimal("600")),
                    ("Emerald & Diamond", "EDE", Decimal("900")),
                ],
            ),
            ("Ring Size", _sizes((*RING_SIZES, "9.5"))),
        ],
        "TRI",
    )
    b.add(
        "classic-comfort-band",
        "Classic Comfort-Fit Wedding Band",
        "A domed band with a comfort-fit interior, polished by hand.",
        "Wedding Band",
        ("bridal", "wedding-band", "engravable"),
        Decimal("690"),
        [
            ("Metal", list(METALS_4)),
            ("Width", [("2 mm", "W2", Decimal("0")), ("4 mm", "W4", Decimal("540"))]),
            ("Ring Size", _sizes((*RING_SIZES, "9.5", "10"))),
        ],
        "CCB",
    )
    b.add(
        "pave-eternity-band",
        "Pavé Eternity Band",
        "Diamonds set all the way around in a fine micro-pavé. Sized to order; cannot be resized.",
        "Wedding Band",
        ("bridal", "wedding-band", "diamond"),
        Decimal("2100"),
        [
            ("Metal", list(METALS_3)),
            ("Total Carat Weight", [("1.0 ctw", "C10", Decimal("0")), ("2.0 ctw", "C20", Decimal("2300"))]),
            ("Ring Size", _sizes(RING_SIZES[:9])),
        ],
        "PEB",
    )
    b.add(
        "lumiere-sapphire-pendant",
        "Lumière Sapphire Pendant",
        "A 1.2 ct oval sapphire in a bezel setting on a cable chain. Engravable on the back.",
        "Necklace",
        ("pendant", "sapphire", "engravable", "gift"),
        Decimal("1850"),
        [
            ("Metal", list(METALS_3)),
            ("Stone", [("Blue Sapphire", "BLU", Decimal("0")), ("Pink Sapphire", "PNK", Decimal("150"))]),
            (
                "Chain Length",
                [(f'{n}"', f"L{n}", Decimal((n - 16) * 15)) for n in (16, 18, 20, 22, 24)],
            ),
        ],
        "LUM",
    )
    b.add(
        "diamond-stud-earrings",
        "Diamond Stud Earrings",
        "Matched round brilliants in four-prong martini settings with screw backs.",
        "Earrings",
        ("earrings", "diamond", "gift"),
        Decimal("950"),
        [
            ("Metal", list(METALS_3)),
            (
                "Total Carat Weight",
                [
                    ("0.5 ctw", "C05", Decimal("0")),
                    ("1.0 ctw", "C10", Decimal("1650")),
                    ("1.5 ctw", "C15", Decimal("3900")),
                    ("2.0 ctw", "C20", Decimal("6900")),
                ],
            ),
        ],
        "STD",
    )
    b.add(
        "riviera-tennis-bracelet",
        "Riviera Tennis Bracelet",
        "A continuous line of round diamonds with a hidden box clasp and double safety.",
        "Bracelet",
        ("bracelet", "diamond"),
        Decimal("4800"),
        [
            ("Metal", list(METALS_3)),
            ('Length', [('6.5"', "L65", Decimal("0")), ('7"', "L70", Decimal("350")), ('7.5"', "L75", Decimal("700"))]),
            ("Total Carat Weight", [("3 ctw", "C3", Decimal("0")), ("5 ctw", "C5", Decimal("8200"))]),
        ],
        "RIV",
    )
    b.add(
        "gold-huggie-hoops",
        "Gold Huggie Hoops",
        "Everyday 12 mm huggies with a hinged snap closure.",
        "Earrings",
        ("earrings", "gold", "gift", "under-500"),
        Decimal("385"),
        [("Metal", [YELLOW_GOLD_14, WHITE_GOLD_14, ("14k Rose Gold", "R14", Decimal("35"))])],
        "HUG",
    )
    b.add(
        "art-deco-emerald-ring",
        "Art Deco Colombian Emerald Ring, c. 1925",
        "A 2.41 ct Colombian emerald with French-cut sapphire shoulders in hand-pierced platinum. "
        "One of a kind, restored in our workshop; size 6.5, can be resized.",
        "Ring",
        ("vintage", "one-of-a-kind", "emerald"),
        Decimal("18500"),
        [("Ring Size", [("6.5", "S0650", Decimal(0))])],
        "ADE",
        stock_profile="one_of_a_kind",
    )
    b.add(
        "padparadscha-cocktail-ring",
        "Padparadscha Sapphire Cocktail Ring",
        "A 4.02 ct unheated Sri Lankan padparadscha, GRS certified, in an 18k rose gold basket.",
        "Ring",
        ("one-of-a-kind", "sapphire", "high-jewelry"),
        Decimal("42000"),
        [("Ring Size", [("6", "S0600", Decimal(0))])],
        "PAD",
        stock_profile="one_of_a_kind",
    )
    b.add(
        "victorian-diamond-brooch",
        "Victorian Old-Mine Diamond Brooch",
        "A crescent of old-mine diamonds in silver-topped gold, circa 1880, with its original fitted case.",
        "Brooch",
        ("vintage", "one-of-a-kind", "diamond"),
        Decimal("9800"),
        [("Style", [("Original", "ORIG", Decimal(0))])],
        "VIC",
        stock_profile="one_of_a_kind",
    )
    b.add(
        "akoya-pearl-strand",
        "Akoya Pearl Strand",
        "Hand-knotted 7-7.5 mm AAA Akoya pearls with an 18k clasp. Strung in small batches.",
        "Necklace",
        ("pearl", "limited"),
        Decimal("2400"),
        [("Length", [('16"', "L16", Decimal("0")), ('18"', "L18", Decimal("300"))])],
        "AKO",
        stock_profile="limited",
    )
    b.add(
        "hand-forged-signet-ring",
        "Hand-Forged Signet Ring",
        "Forged from recycled gold by a single goldsmith; each face hand-engraved to order.",
        "Ring",
        ("signet", "limited", "engravable"),
        Decimal("1650"),
        [
            ("Metal", [YELLOW_GOLD_18, PLATINUM]),
            ("Ring Size", _sizes(("7", "8", "9", "10", "11"))),
        ],
        "SIG",
        stock_profile="limited",
    )
    b.add(
        "ruby-drop-earrings",
        "Burmese Ruby Drop Earrings",
        "Pigeon's-blood rubies (1.8 ctw) suspended beneath diamond tops. Three pairs made.",
        "Earrings",
        ("earrings", "ruby", "limited"),
        Decimal("12600"),
        [("Metal", [PLATINUM])],
        "RUB",
        stock_profile="limited",
    )
    # A bespoke-ring configurator: metal x center stone (kind and carat) x size, 6 x 20 x 10 = 1,200
    # variants: twelve times what Shopify's REST API answered (100), five pages of the Storefront API's.
    b.add(
        "bespoke-solitaire-configurator",
        "Bespoke Solitaire, Made to Order",
        "Choose the metal, the center stone and its weight, and the size: made to order in our New York "
        "atelier in four weeks.",
        "Engagement Ring",
        ("bridal", "engagement", "bespoke", "made-to-order"),
        Decimal("990"),
        [
            ("Metal", [PLATINUM, WHITE_GOLD_18, YELLOW_GOLD_18, ROSE_GOLD_14, YELLOW_GOLD_14, WHITE_GOLD_14]),
            (
                "Center Stone",
                [
                    (f"{carat} ct {kind}", f"{code}{round(float(carat) * 100):03d}",
                     Decimal(carat) * per_carat)
                    for kind, code, per_carat in (("Lab Diamond", "LD", Decimal("1400")),
                                                  ("Natural Diamond", "ND", Decimal("7800")),
                                                  ("Sapphire", "SA", Decimal("2100")),
                                                  ("Moissanite", "MO", Decimal("600")))
                    for carat in ("0.75", "1.00", "1.25", "1.50", "2.00")
                ],
            ),
            ("Ring Size", _sizes(RING_SIZES[:10])),  # 4 to 8.5
        ],
        "BSP",
        engravable_metafield=True,
    )
    return b.products


def initial_stock(products: list[SeedProduct], seed: int = 20261122) -> dict[str, int]:
    """Units on hand per SKU: a believable spread, including sold-out and low-stock variants."""
    rng = random.Random(seed)
    stock: dict[str, int] = {}
    for product in products:
        for variant in product.variants:
            if product.stock_profile == "one_of_a_kind":
                stock[variant.sku] = 1
            elif product.stock_profile == "limited":
                stock[variant.sku] = rng.choice((2, 3))
            else:
                roll = rng.random()
                if roll < 0.12:
                    stock[variant.sku] = 0
                elif roll < 0.30:
                    stock[variant.sku] = rng.choice((1, 2))
                else:
                    stock[variant.sku] = rng.randint(3, 14)
    return stock
