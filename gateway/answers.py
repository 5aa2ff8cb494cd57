"""Whole answers kept in this process: a warm answer whose every part came from cache is served again
without executing, for as long as every part of it stays fresh.

Keyed by the exact request: the method (a GET's answer carries an edge's headers), the document (its
text, whether sent by id, by persisted hash or as text), the operation name, the variables and extensions,
canonically encoded. Nothing else a request carries changes a kept answer: the client's address is only
passed on to the catalog (never part of a cached answer), and a request with a budget of its own
(`x-bezel-budget-ms`) or asking for parts (`Accept: multipart/mixed`) is neither served from the store nor
kept in it. So an answer that shows the request's own variables (an address, an engraving) may be kept;
one that shows a cart, an order or a customer may not, whatever its key.

Whether and for how long is the edge's decision (`gateway.edge.caching.CachePolicy`), under rules of the
store's own: every part from cache (an answer's ages at send are then its stored ages plus the time
since), nothing failed, STALE, scarce, unconfirmed or read from checkout's counters; kept for the least
remaining freshness of its parts, capped by `[answers] max_age_s`. It goes when an event changes what it
shows: every invalidation this process hears (its own and every other process's, `connectors.events`)
drops the answers carrying its surrogate keys (`product-<id>`, `sku-<sku>`, `product-list`, as the edge
purges), and every answer when the process drops its whole cache tier. An answer built while an event
arrived is not kept (it may predate the change).

Admission (rate limits, the operation's budgets) runs for every request; only execution is skipped. The
answer sent is the stored bytes with each `freshness { ageMs }` counted at send, and
`extensions.answers` saying it came from the store and how old each vendor's part is; a GET's headers
are the edge's decision over its parts' ages at send (`EdgePolicy.stored`). Only documents
whose every `ageMs` in the answer is a `Freshness.ageMs` are kept (no alias named or renaming `ageMs`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from cachetools import LRUCache
from graphql import FieldNode, OperationDefinitionNode, OperationType, visit
from graphql.language import Visitor

from connectors.edge import keys_of
from connectors.events.bus import Invalidation
from connectors.models import Source
from connectors.policy import CallRecord
from connectors.telemetry import Tally
from gateway.edge.caching import CachePolicy, Decision, Rules
from resolvers.context import RequestContext, Shown
from schema.documents import Prepared

SHOWING_VARIABLES = frozenset({"address", "engraving"})  # what `Shown.personal` names from a request's variables
_AGE = re.compile(rb'([{,]"ageMs":)(\d+)')  # a key: inside a JSON string every quote is escaped
ANSWERS = Tally("bezel.answers", description="Requests the answer store could have answered, by outcome: hit (sent "
                "without executing), kept (executed and stored), passed (executed, not storable).")
OUTCOMES = ("hit", "kept", "passed")

Key = tuple[str, str, str | None, bytes, bytes]  # method, document, operation name, variables, extensions


@dataclass(frozen=True, slots=True)
class Stored:
    """One answer: its bytes cut around each `ageMs` number (the ages as built between them)."""

    pieces: tuple[bytes, ...]
    ages: tuple[int, ...]
    parts: tuple[tuple[str, int], ...]  # (vendor, its oldest part's age as built)
    shown: Shown  # what it showed, and its call log: an edge's decision at send (a GET's headers)
    records: tuple[CallRecord, ...]
    keys: tuple[str, ...]
    offered: tuple[str, ...]  # SKUs it shows available: a page sent offers them again (`connectors.offers`)
    built_at: float  # time.monotonic()
    expires_at: float
    size: int  # bytes it holds, about: what `[answers] max_mb` counts

    def aged(self, since_ms: int) -> tuple[CallRecord, ...]:
        """Its call log as it would be at send: every part (from cache) older by `since_ms`."""
        return tuple(replace(r, age_ms=r.age_ms + since_ms) for r in self.records)

    def render(self, now: float) -> bytes:
        """The answer as sent now: every age grown by the time since it was built."""
        since = int((now - self.built_at) * 1000)
        pieces, out = self.pieces, [self.pieces[0]]
        for i, age in enumerate(self.ages):
            out.append(str(age + since).encode())
            out.append(pieces[i + 1])
        answers = {"from": "store", "ageMs": since, "parts": {vendor: age + since for vendor, age in self.parts}}
        out.append(b',"answers":' + orjson.dumps(answers) + b"}}")
        return b"".join(out)


class _Entries(LRUCache[Key, Stored]):
    """The LRU, bounded in bytes and in entries, its surrogate-key index kept in step with what it evicts."""

    def __init__(self, max_bytes: int, max_entries: int) -> None:
        super().__init__(max_bytes, getsizeof=lambda stored: stored.size)
        self.max_entries = max_entries
        self.by_key: dict[str, set[Key]] = {}

    def __setitem__(self, key: Key, stored: Stored) -> None:
        super().__setitem__(key, stored)
        while len(self) > self.max_entries:
            self.popitem()

    def popitem(self) -> tuple[Key, Stored]:
        key, stored = super().popitem()
        self.unindex(key, stored)
        return key, stored

    def index(self, key: Key, stored: Stored) -> None:
        for name in stored.keys:
            self.by_key.setdefault(name, set()).add(key)

    def unindex(self, key: Key, stored: Stored) -> None:
        for name in stored.keys:
            held = self.by_key.get(name)
            if held is not None:
                held.discard(key)
                if not held:
                    del self.by_key[name]


def storable_document(prepared: Prepared | None, operation_name: str | None) -> bool:
    """A query (no mutation, no subscription) that runs, with no alias naming or renaming `ageMs` (every
    `ageMs` in its answer is then a Freshness's age, which grows). Worked out once per operation name."""
    if prepared is None or prepared.errors:
        return False
    key = ("answers", operation_name)
    found = prepared.extras.get(key)
    if found is None:
        found = prepared.extras[key] = _storable(prepared, operation_name)
    return bool(found)


def _storable(prepared: Prepared, operation_name: str | None) -> bool:
    operations = [d for d in prepared.document.definitions if isinstance(d, OperationDefinitionNode)
                  and (operation_name is None or (d.name is not None and d.name.value == operation_name))]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return False
    aliased: list[FieldNode] = []

    class Aliases(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> None:
            if node.alias is not None and "ageMs" in (node.alias.value, node.name.value):
                aliased.append(node)

    visit(prepared.document, Aliases())
    return not aliased


def request_key(query: str, operation_name: Any, variables: Any, extensions: Any, method: str = "POST") -> Key | None:
    """The exact request, canonically encoded; None for one that cannot be keyed (not JSON-able). The method
    too: a GET's answer carries an edge's headers, a POST's none."""
    if operation_name is not None and not isinstance(operation_name, str):
        return None
    try:
        return (method, query, operation_name, orjson.dumps(variables, option=orjson.OPT_SORT_KEYS),
                orjson.dumps(extensions, option=orjson.OPT_SORT_KEYS))
    except TypeError:
        return None


class AnswerStore:
    """`[answers]`: the answers, bounded (LRU), each kept as long as the edge's rules allow."""

    def __init__(self, policy: CachePolicy, *, max_entries: int, max_age_s: float, max_mb: float = 64) -> None:
        self.policy = policy
        self.rules = Rules(max_age_s=float(max_age_s), max_key_bytes=1 << 30, shopper_variables=SHOWING_VARIABLES,
                           cached_only=True)
        self.entries = _Entries(int(max_mb * 1_000_000), max_entries)
        self.generation = 0  # counts invalidations heard: an answer built across one is not kept
        ANSWERS.declare([(("outcome", o),) for o in OUTCOMES])

    def get(self, key: Key) -> Stored | None:
        stored = self.entries.get(key)
        if stored is None:
            return None
        if time.monotonic() >= stored.expires_at:
            self._drop(key)
            return None
        return stored

    def decide(self, context: RequestContext | None, *, errors: bool) -> Decision:
        return self.policy.judge(self.rules, trusted=True, errors=errors, context=context)

    def keep(self, key: Key, body: bytes, context: RequestContext, decision: Decision, *, since: int) -> bool:
        """Keep an executed answer (`decision` is `decide`'s, and public); False if it may not be: an event
        was heard since the request started (`since`, the generation then), or the body is not as expected."""
        if since != self.generation or not decision.public or decision.max_age_s <= 0:
            return False
        try:
            if list(orjson.loads(body)) != ["data", "extensions"]:  # `extensions.answers` goes in before its "}}"
                return False
        except orjson.JSONDecodeError:
            return False
        pieces: list[bytes] = []
        ages: list[int] = []
        at = 0
        for match in _AGE.finditer(body, 0, len(body) - 2):
            pieces.append(body[at:match.end(1)])
            ages.append(int(match.group(2)))
            at = match.end(2)
        pieces.append(body[at:len(body) - 2])
        now = time.monotonic()
        records = context.scope.log.records
        size = len(body) + sum(len(k) for k in key[1:] if k) + 64 * (len(pieces) + len(decision.keys) + len(records))
        if size > self.entries.maxsize:
            return False
        stored = Stored(tuple(pieces), tuple(ages), _parts(records), context.shown, tuple(records), decision.keys,
                        tuple(sorted(context.shown.offered)), now, now + decision.max_age_s, size)
        self._drop(key)
        self.entries[key] = stored
        self.entries.index(key, stored)
        return True

    def forget(self, invalidation: Invalidation) -> None:
        """Every process hears every invalidation (`InvalidationBus.listen`): drop what it changed here."""
        self.generation += 1
        self.forget_keys(keys_of(invalidation))

    def forget_keys(self, names: Iterable[str]) -> None:
        for name in names:
            for key in tuple(self.entries.by_key.get(name, ())):
                self._drop(key)

    def clear(self) -> None:
        """The process dropped its whole cache tier (`InvalidationBus.on_clear`)."""
        self.generation += 1
        self.entries.clear()
        self.entries.by_key.clear()

    def _drop(self, key: Key) -> None:
        stored = self.entries.pop(key, None)
        if stored is not None:
            self.entries.unindex(key, stored)


def _parts(records: Sequence[CallRecord]) -> tuple[tuple[str, int], ...]:
    """Each vendor's oldest part, as built (every part came from cache: `Rules.cached_only`)."""
    oldest: dict[str, int] = {}
    for record in records:
        if record.source is Source.CACHE:
            oldest[record.vendor] = max(oldest.get(record.vendor, 0), record.age_ms)
    return tuple(oldest.items())
