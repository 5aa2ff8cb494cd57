"""The edge is told what changed: every invalidation this process publishes (an event taken by a webhook,
a sale through checkout: `connectors.events.bus`) becomes a purge of the surrogate keys the answers
holding it carry (`gateway.edge.caching` names them the same way).

Only the process that publishes an invalidation purges (every process hears it; one purge is enough).
Purges are sent in the background, batched (`[edge] batch_keys` per request) and tried again after a
timeout, a reset, a 429 or a 5xx through `connectors.retry` (never after 401, 403 or 404: a wrong token
or service id is not fixed by waiting); each is counted by provider and outcome, with the time from the
change at its source to the edge having been told. A purge that is lost for good costs at most the
answers' max-age (`[edge] max_age_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Sequence
from typing import Protocol

import httpx

from connectors.catalog import LISTING
from connectors.config import EdgeConfig
from connectors.edge.cloudflare import Cloudflare
from connectors.edge.fastly import Fastly
from connectors.edge.varnish import Varnish
from connectors.events.bus import Invalidation
from connectors.retry import Backoff, retry
from connectors.telemetry import Tally, meter, series_of

log = logging.getLogger("bezel.edge")
LIST_KEY = "product-list"
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")  # a key is one header token: no spaces, commas or quotes
OUTCOMES = ("ok", "retried", "failed", "refused")
PURGES = Tally(
    "bezel.edge.purges",
    description="Purge requests sent to the edge, by provider and outcome: ok, retried (ok after a failure), "
                "failed (every attempt failed), refused (401, 403 or 404: not tried again).")
PURGE_LAG = meter.create_histogram(
    "bezel.edge.purge.lag", unit="s",
    description="From a change at its source (the event's own time) to the edge having accepted its purge, by "
                "provider.",
    explicit_bucket_boundaries_advisory=[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60])
QUEUE = 10_000  # purges waiting; past it the oldest keys are still bounded by max-age


def product_key(product_id: str) -> str:
    return "product-" + _UNSAFE.sub("_", product_id)


def sku_key(sku: str) -> str:
    return "sku-" + _UNSAFE.sub("_", sku)


def keys_of(invalidation: Invalidation) -> list[str]:
    """The surrogate keys of the answers an invalidation changed: its products (a price, a description),
    its SKUs (stock), and the list pages when the catalog's listing changed."""
    keys = [LIST_KEY] if LISTING in invalidation.tags else []
    keys += [product_key(p) for p in invalidation.products]
    keys += [sku_key(s) for s in invalidation.skus]
    return list(dict.fromkeys(keys))


class PurgeFailed(Exception):
    """A purge the edge did not accept; `retryable` unless the edge refused it for good."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status

    @property
    def retryable(self) -> bool:
        return self.status not in (401, 403, 404)


class Provider(Protocol):
    """One edge's purge API (`connectors.edge.fastly`, `.cloudflare`, `.varnish`)."""

    name: str

    def request(self, keys: Sequence[str]) -> httpx.Request: ...


def checked(response: httpx.Response, provider: str) -> None:
    """Raise PurgeFailed for anything but a 2xx."""
    if response.status_code // 100 != 2:
        raise PurgeFailed(f"{provider} answered {response.status_code}", response.status_code)


class EdgePurger:
    """Takes invalidations (`hook`, no I/O in it) and purges their keys in the background."""

    def __init__(self, config: EdgeConfig, provider: Provider, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.provider = provider
        self.http = httpx.AsyncClient(timeout=config.timeout_ms / 1000, transport=transport)
        self.backoff = Backoff(config.retry_backoff_ms / 1000, config.retry_backoff_max_ms / 1000,
                               jitter_s=config.retry_backoff_ms / 4000)
        self.queue: asyncio.Queue[tuple[list[str], float]] = asyncio.Queue(QUEUE)
        self._task: asyncio.Task[None] | None = None
        self.idle = asyncio.Event()
        self.idle.set()
        PURGES.declare(series_of(outcome=OUTCOMES, provider=[provider.name]))

    def hook(self, invalidation: Invalidation) -> None:
        keys = keys_of(invalidation)
        if not keys:
            return
        try:
            self.queue.put_nowait((keys, invalidation.origin_at))
        except asyncio.QueueFull:
            log.warning("edge: purge queue full; %d keys left to their max-age", len(keys))
            return
        self.idle.clear()
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def drained(self) -> None:
        """Every purge taken so far has been sent (or given up on): for tests and shutdown."""
        await self.idle.wait()

    async def _run(self) -> None:
        while not self.queue.empty():
            keys, oldest = self.queue.get_nowait()
            while not self.queue.empty():  # what piled up meanwhile goes in the same requests
                more, at = self.queue.get_nowait()
                keys += more
                oldest = min(oldest, at)
            keys = list(dict.fromkeys(keys))
            step = self.config.batch_keys
            await asyncio.gather(*(self.purge(keys[i:i + step], oldest) for i in range(0, len(keys), step)))
        self.idle.set()

    async def purge(self, keys: Sequence[str], origin_at: float | None = None) -> bool:
        """Send one purge of `keys`, tried again as `[edge]` says; True once the edge accepted it."""
        name = self.provider.name
        failures = 0

        def again(exc: Exception) -> bool:
            nonlocal failures
            failures += 1
            return not isinstance(exc, PurgeFailed) or exc.retryable

        async def attempt() -> None:
            try:
                response = await self.http.send(self.provider.request(keys))
            except httpx.HTTPError as exc:
                raise PurgeFailed(f"{name}: {type(exc).__name__}") from exc
            checked(response, name)

        try:
            await retry(attempt, on=again, backoff=self.backoff, attempts=self.config.retry_attempts)
        except PurgeFailed as exc:
            outcome = "failed" if exc.retryable else "refused"
            PURGES.add(1, (("outcome", outcome), ("provider", name)))
            log.warning("edge: purge of %d keys %s (%s)", len(keys), outcome, exc)
            return False
        PURGES.add(1, (("outcome", "retried" if failures else "ok"), ("provider", name)))
        if origin_at is not None:
            PURGE_LAG.record(max(0.0, time.time() - origin_at), {"provider": name})
        return True

    async def aclose(self) -> None:
        if self._task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._task), 2.0)  # what is in flight, briefly
            self._task.cancel()
        await self.http.aclose()


def build_purger(config: EdgeConfig, token: str, sandbox_url: str, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> EdgePurger | None:
    """The purger `[edge] provider` names (None for "none"); an empty purge_url is the sandbox's emulation."""
    provider: Provider
    if config.provider == "fastly":
        provider = Fastly(config.purge_url or f"{sandbox_url}/fastly", config.service_id, token)
    elif config.provider == "cloudflare":
        provider = Cloudflare(config.purge_url or f"{sandbox_url}/cloudflare", config.service_id, token)
    elif config.provider == "varnish":
        provider = Varnish(config.purge_url or "http://127.0.0.1:6081")
    else:
        return None
    return EdgePurger(config, provider, transport=transport)
