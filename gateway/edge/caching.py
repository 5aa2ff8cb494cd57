"""What an edge (a CDN, Varnish) in front may do with an answer: Cache-Control, surrogate keys, ETag.

Only answers to GET requests by trusted document id may be public: their URL names the operation and its
variables, nothing else. Public when nothing in the answer depends on the shopper (an address, an engraving,
a cart, an order: the resolvers say so in `RequestContext.shown`), nothing failed, no stock in it is scarce
or unconfirmed, and the client asked for no budget of its own; `private, no-store` otherwise. Then

    max-age                 the least remaining freshness of its parts (each vendor's cache_ttl_s less
                            the age the call log recorded), capped by `[edge] max_age_s`
    stale-while-revalidate  the least of its vendors' revalidate_s, capped
    stale-if-error          the least of what its parts' stale windows have left, capped

A part served STALE (its vendor failing) leaves the answer public with max-age=0: an edge may keep
serving it only while the gateway fails too; one older than its vendor's stale window allows is private.
`x-bezel-edge` says which and why (`public; reason=fresh`, `private; reason=shopper:address`, ...).
Surrogate keys name what the answer shows (`product-<id>`, `sku-<sku>`, `product-list`): the purger
(`connectors.edge`) purges the same names when an event changes them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson
from starlette.requests import Request
from starlette.responses import Response

from connectors.config import EdgeConfig, VendorConfig
from connectors.edge import LIST_KEY, product_key, sku_key
from connectors.models import Source
from connectors.policy.freshness import Windows
from connectors.policy.scope import CallRecord
from gateway.edge.budget import BUDGET_HEADER
from resolvers.context import RequestContext, Shown

PRIVATE = "private, no-store"


@dataclass(frozen=True, slots=True)
class Decision:
    public: bool
    reason: str
    max_age_s: int = 0
    revalidate_s: int = 0
    if_error_s: int = 0
    keys: tuple[str, ...] = ()

    @property
    def cache_control(self) -> str:
        if not self.public:
            return PRIVATE
        return (f"public, max-age={self.max_age_s}, stale-while-revalidate={self.revalidate_s}, "
                f"stale-if-error={self.if_error_s}")

    @property
    def explained(self) -> str:
        return f"{'public' if self.public else 'private'}; reason={self.reason}"


def private(reason: str) -> Decision:
    return Decision(False, reason)


@dataclass(frozen=True, slots=True)
class Rules:
    """What a cache may keep and for how long: the edge's (`[edge]`), or the gateway's own answer store
    (`gateway.answers`), which is keyed by the exact request and so may keep what shows only the request's
    own variables (`shopper_variables`: an address, an engraving), and only answers every part of which
    came from cache (`cached_only`: their ages at send are then the stored ones plus the time since)."""

    max_age_s: float
    revalidate_s: float = 0.0
    if_error_s: float = 0.0
    scarce_max_age_s: float = 0.0
    max_key_bytes: int = 16_384
    shopper_variables: frozenset[str] = frozenset()
    cached_only: bool = False

    @classmethod
    def of(cls, config: EdgeConfig) -> Rules:
        return cls(float(config.max_age_s), float(config.stale_while_revalidate_s), float(config.stale_if_error_s),
                   float(config.scarce_max_age_s), config.max_key_bytes)


class CachePolicy:
    """One decision for every cache of answers: whether an answer may be kept under `Rules`, for how long
    (the least remaining freshness of its parts), and under which surrogate keys an event drops it."""

    def __init__(self, vendors: Mapping[str, VendorConfig]) -> None:
        self.windows = {name: Windows.of(vendor) for name, vendor in vendors.items()}

    @staticmethod
    def keys(shown: Shown) -> tuple[str, ...]:
        keys = [LIST_KEY] if shown.listing else []
        keys += sorted(product_key(p) for p in shown.products)
        keys += sorted(sku_key(s) for s in shown.skus)
        return tuple(keys)

    def judge(self, rules: Rules, *, trusted: bool, errors: bool, context: RequestContext | None,
              client_budget: bool = False) -> Decision:
        """Whether an answer may be kept (`public`), and for how long, or why not."""
        if not trusted:
            return private("untrusted")
        if context is None:
            return private("refused")
        return self.judge_parts(rules, errors=errors or bool(context.partial_errors), shown=context.shown,
                                records=context.scope.log.records, client_budget=client_budget)

    def judge_parts(self, rules: Rules, *, errors: bool, shown: Shown, records: Sequence[CallRecord],
                    client_budget: bool = False) -> Decision:
        """`judge`, from what an answer showed and its call log (an answer kept, at send: `gateway.answers`)."""
        if shown.shopper and not set(shown.shopper) <= rules.shopper_variables:
            return private("shopper:" + ",".join(shown.shopper))
        if errors:
            return private("errors")
        if client_budget:
            return private("client-budget")
        if shown.unconfirmed:
            return private("unconfirmed")
        if shown.scarce and not rules.scarce_max_age_s:
            return private("scarce")
        if rules.cached_only and shown.counted:
            return private("counted")
        parts = self._parts(rules, records)
        if isinstance(parts, str):
            return private(parts)
        max_age, revalidate, if_error, stale = parts
        reason = "stale" if stale else "fresh"
        if shown.scarce:
            max_age, revalidate, if_error, reason = min(max_age, rules.scarce_max_age_s), 0, 0, "scarce"
        keys = self.keys(shown)
        if len(" ".join(keys).encode()) > rules.max_key_bytes:
            return private("too-many-keys")
        return Decision(True, reason, int(max_age), int(revalidate), int(if_error), keys)

    def _parts(self, rules: Rules, records: Sequence[CallRecord]) -> tuple[float, float, float, bool] | str:
        """(max-age, stale-while-revalidate, stale-if-error, any part STALE) from the call log, capped; or
        why the answer may not be kept."""
        max_age, revalidate, if_error = rules.max_age_s, rules.revalidate_s, rules.if_error_s
        stale = False
        for record in records:
            windows = self.windows.get(record.vendor)
            if windows is None:
                continue
            if record.source is None or record.source is Source.NONE:
                return "failed-part"
            if rules.cached_only and record.source is not Source.CACHE:
                return "live-part" if record.source is Source.LIVE else "stale-part"
            age_s = record.age_ms / 1000 if record.source is not Source.LIVE else 0.0
            if record.source is Source.STALE:
                if not windows.may_stand_in(age_s):
                    return "stale-beyond-policy"
                stale, left = True, 0.0
            else:
                left = max(0.0, windows.fresh_s - age_s)
            max_age = min(max_age, left)
            revalidate = min(revalidate, windows.revalidate_s)
            if_error = min(if_error, max(0.0, windows.fresh_s + windows.stale_s - age_s))
        return max_age, revalidate, if_error, stale


class EdgePolicy:
    """`[edge]` and the vendors' windows: decides, then writes, an answer's caching headers."""

    def __init__(self, config: EdgeConfig, vendors: Mapping[str, VendorConfig],
                 policy: CachePolicy | None = None) -> None:
        self.config = config
        self.policy = policy or CachePolicy(vendors)
        self.rules = Rules.of(config)
        self.key_header = config.keys_header

    def keys(self, shown: Shown) -> tuple[str, ...]:
        return self.policy.keys(shown)

    def decide(self, *, trusted: bool, errors: bool, context: RequestContext | None,
               client_budget: bool = False) -> Decision:
        """Whether an answer to a GET may be public, and for how long."""
        if not self.config.enabled:
            return private("disabled")
        return self.policy.judge(self.rules, trusted=trusted, errors=errors, context=context,
                                 client_budget=client_budget)

    def stored(self, *, trusted: bool, shown: Shown, records: Sequence[CallRecord]) -> Decision:
        """`decide` for an answer sent from the answer store (no errors in it), its parts' ages those at send."""
        if not self.config.enabled:
            return private("disabled")
        if not trusted:
            return private("untrusted")
        return self.policy.judge_parts(self.rules, errors=False, shown=shown, records=records)

    def apply(self, request: Request, response: Response, decision: Decision | None = None) -> Response:
        """The headers of an answer to a GET (and 304 for a matching If-None-Match, when public); `decision`
        already made for one from the answer store (`stored`)."""
        response.headers["vary"] = "Accept"
        body = getattr(response, "body", None)
        if response.status_code != 200 or not isinstance(body, bytes | bytearray) or not body:
            decision = private("streamed" if response.status_code == 200 else "status")
        elif decision is None:
            decision = self.decide(trusted=bool(getattr(request.state, "trusted", False)),
                                   errors=bool(getattr(request.state, "errors", True)),
                                   context=getattr(request.state, "bezel", None),
                                   client_budget=BUDGET_HEADER in request.headers)
        response.headers["cache-control"] = decision.cache_control
        response.headers["x-bezel-edge"] = decision.explained
        if not decision.public:
            return response
        if decision.keys:
            response.headers[self.key_header] = " ".join(decision.keys)
        # Weak: over the data alone, as `extensions` (each call's ms and age) differs on every answer.
        data = orjson.dumps(getattr(request.state, "data", None), option=orjson.OPT_SORT_KEYS)
        etag = 'W/"' + hashlib.blake2b(data, digest_size=12).hexdigest() + '"'
        response.headers["etag"] = etag
        if matches(request.headers.get("if-none-match"), etag):
            unchanged = Response(status_code=304)
            for name in ("cache-control", "etag", "vary", "x-bezel-edge", self.key_header.lower()):
                if name in response.headers:
                    unchanged.headers[name] = response.headers[name]
            return unchanged
        return response


def matches(if_none_match: str | None, etag: str) -> bool:
    """If-None-Match compares weakly (RFC 9110 13.1.2): W/ is ignored on either side."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    mine = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == mine for tag in if_none_match.split(","))
