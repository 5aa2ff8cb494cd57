"""The values every answer is made of: money, where an answer came from, and the names of the
vendors and downstream systems (the one list of each; config, wiring and the GraphQL enums use it)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Generic, TypeVar

T = TypeVar("T")

CENT = Decimal("0.01")


class Source(enum.Enum):
    """Where an answer came from."""

    LIVE = "LIVE"  # the vendor answered during this request
    CACHE = "CACHE"  # a fresh cached answer (within the vendor's cache TTL)
    STALE = "STALE"  # the last good answer, served because the vendor failed
    NONE = "NONE"  # no answer at all: the value is a placeholder (e.g. UNKNOWN availability)


class Outcome(enum.StrEnum):
    """How one vendor call ended, as `extensions.vendors`, logs, spans and metrics say it. Listed from
    best to worst: several calls to one vendor in a request are summed up by the worst (`severity`)."""

    CACHE = "cache"  # a fresh answer from cache, the vendor not asked
    LIVE = "live"  # the vendor answered
    BAD_INPUT = "bad_input"  # the vendor refused what was asked (the shopper's input, usually)
    STALE = "stale"  # the vendor failed; its last good answer stood in
    REJECTED = "rejected"  # not sent: bulkhead full, backing off after a 429, the request's quota spent
    CIRCUIT_OPEN = "circuit_open"  # not sent: the vendor's breaker is open
    ERROR = "error"  # an error status, a reset, an unreadable or wrong-shaped answer
    TIMEOUT = "timeout"  # no answer in time

    @property
    def severity(self) -> int:
        return _SEVERITY[self]

    @property
    def failed(self) -> bool:
        """Nothing usable came of the call (a stale stand-in or a refused input are answers)."""
        return self in _FAILED

    @property
    def sent(self) -> bool:
        """Whether the call reached the vendor at all (nothing to learn from, or to undo, if not)."""
        return self not in _NOT_SENT


_SEVERITY = {outcome: i for i, outcome in enumerate(Outcome)}
_FAILED = frozenset({Outcome.REJECTED, Outcome.CIRCUIT_OPEN, Outcome.ERROR, Outcome.TIMEOUT})
_NOT_SENT = frozenset({Outcome.REJECTED, Outcome.CIRCUIT_OPEN})


@dataclass(frozen=True, slots=True)
class Freshness:
    source: Source
    age_ms: int
    vendor: str


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    """A vendor answer together with where it came from and how old it is."""

    value: T
    freshness: Freshness


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str) -> Money:
        return cls(Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP), currency.upper())

    @classmethod
    def from_minor(cls, cents: int, currency: str) -> Money:
        return cls.of(Decimal(cents) / 100, currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls.of(0, currency)

    @property
    def minor(self) -> int:
        return int((self.amount * 100).to_integral_value(rounding=ROUND_HALF_UP))

    def __add__(self, other: Money) -> Money:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money.of(self.amount + other.amount, self.currency)

    def times(self, quantity: int) -> Money:
        return Money.of(self.amount * quantity, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def as_json(self) -> dict[str, str]:
        """The shape every JSON body we write carries money in: the amount as a string, never a float."""
        return {"amount": str(self.amount), "currency": self.currency}


class Vendor(enum.StrEnum):
    """Every third party Bezel calls. Members are strings, so they index dicts and config by name."""

    CATALOG = "catalog"
    INVENTORY = "inventory"
    TAX = "tax"
    INSURANCE = "insurance"
    BNPL = "bnpl"
    ENGRAVING = "engraving"
    PAYMENTS = "payments"
    ERP = "erp"
    WMS = "wms"
    CRM = "crm"


class DownstreamSystem(enum.StrEnum):
    """The systems a placed order is synced to through the order stream, one consumer group each."""

    ERP = "erp"
    WMS = "wms"
    CRM = "crm"
    INSURANCE = "insurance"  # binds the shipping-insurance policy; only for insured orders

    @property
    def vendor(self) -> Vendor:
        """The vendor this system's sync calls."""
        return Vendor(self.value)
