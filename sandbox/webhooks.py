"""The sandbox's webhook sender: each system's signing, and one outbox that delivers like the real ones do.

Real webhooks arrive late, twice, out of order or never, and Bezel must cope (its backstop re-reads
what an event would have said). So every event the sandbox's systems emit goes through an `Outbox`
whose dice, seeded by the sandbox's `--seed`, lose, duplicate and reorder deliveries as configured
(`PUT /_admin/webhooks`), and which retries a failed delivery with backoff as Shopify does.

    Shopify        X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(secret, raw body))
    commercetools  Authorization: Bearer <token>   (an EventBridge API destination's connection)
    ERP            X-Bezel-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>  (Stripe's scheme)

Emitting never blocks the request that caused the change: it puts the event on a queue that one
background task drains, in order, each delivery waiting `delay_ms +/- jitter_ms` after its event.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import enum
import hashlib
import hmac
import logging
import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger("sandbox.webhooks")

# Development defaults when the environment sets none: `make sandbox` and the tests need no credentials.
DEFAULT_SECRETS = {"shopify": "sandbox-shopify-webhook-secret",
                   "commercetools": "sandbox-commercetools-webhook-token",
                   "erp": "sandbox-erp-webhook-secret"}
SECRET_ENV = {"shopify": "SHOPIFY_WEBHOOK_SECRET", "shopify_previous": "SHOPIFY_WEBHOOK_SECRET_PREVIOUS",
              "commercetools": "COMMERCETOOLS_WEBHOOK_TOKEN", "erp": "ERP_WEBHOOK_SECRET"}
DEFAULT_ERP_SYNC_DELAY_MS = 60_000  # a real ERP-to-inventory integration runs about once a minute
SEND_TIMEOUT_S = 5.0  # Shopify gives a receiver 5 s before it counts the delivery as failed
LOG_SIZE = 1_000  # recent deliveries kept for GET /_admin/webhooks/deliveries


class Source(enum.StrEnum):
    """The system that sends a webhook; also the last segment of the path it is POSTed to."""

    SHOPIFY = "shopify"
    COMMERCETOOLS = "commercetools"
    ERP = "erp"


class Secrets(BaseModel):
    """What each system signs with; write-only through the admin API (GET says only which are set)."""

    model_config = ConfigDict(extra="forbid")

    shopify: str = Field(default=DEFAULT_SECRETS["shopify"], min_length=1)
    shopify_previous: str | None = None  # never signs: reported, so a rotation can be checked
    commercetools: str = Field(default=DEFAULT_SECRETS["commercetools"], min_length=1)
    erp: str = Field(default=DEFAULT_SECRETS["erp"], min_length=1)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Secrets:
        """The secrets the environment names (SHOPIFY_WEBHOOK_SECRET, ...), development defaults otherwise."""
        env = os.environ if environ is None else environ
        return cls.model_validate({name: env[var] for name, var in SECRET_ENV.items() if env.get(var)})

    def which(self) -> dict[str, bool]:
        return {name: bool(getattr(self, name)) for name in SECRET_ENV}


class WebhookSettings(BaseModel):
    """Where and how webhooks are delivered (`PUT /_admin/webhooks` updates any of these)."""

    model_config = ConfigDict(extra="forbid")

    to: str | None = Field(default=None, pattern=r"^https?://")  # the gateway's base URL; None: emit, deliver nowhere
    delay_ms: int = Field(default=50, ge=0, le=600_000)  # from the change to the first attempt, as a queue adds
    jitter_ms: int = Field(default=50, ge=0, le=600_000)  # +/- around delay_ms
    loss_rate: float = Field(default=0.0, ge=0, le=1)  # share of events never delivered
    duplicate_rate: float = Field(default=0.0, ge=0, le=1)  # share of events delivered twice (same ids)
    reorder_window_ms: int = Field(default=0, ge=0, le=600_000)  # events this close are delivered shuffled
    retries: int = Field(default=2, ge=0, le=20)  # after a non-2xx answer or a connection error
    retry_backoff_ms: int = Field(default=500, ge=0, le=600_000)  # doubled at each retry
    erp_sync_delay_ms: int = Field(default=DEFAULT_ERP_SYNC_DELAY_MS, ge=0, le=86_400_000)  # 0: at once
    secrets: Secrets = Field(default_factory=Secrets)

    def merged(self, update: Mapping[str, Any]) -> WebhookSettings:
        """These settings with `update` applied (a partial one; `secrets` partial too), validated."""
        doc = self.model_dump()
        doc.update({k: v for k, v in update.items() if k != "secrets"})
        if isinstance(update.get("secrets"), Mapping):
            doc["secrets"] = {**doc["secrets"], **update["secrets"]}
        elif "secrets" in update:
            doc["secrets"] = update["secrets"]  # let validation say what is wrong with it
        return WebhookSettings.model_validate(doc)

    def public(self) -> dict[str, Any]:
        return {**self.model_dump(exclude={"secrets"}), "secrets": self.secrets.which()}


def shopify_hmac(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: the base64 HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def erp_signature(secret: str, body: bytes, at: int) -> str:
    """X-Bezel-Signature, Stripe's scheme: the timestamp is signed with the body, so a replay goes stale."""
    mac = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


@dataclass(frozen=True)
class Event:
    """One change, as its system will POST it: the body is final, the signature is made at each attempt."""

    source: Source
    topic: str
    id: str  # identifies the delivery: the same on every retry and on a duplicate
    body: bytes
    headers: Mapping[str, str]  # everything but the signature
    emitted_at: float = field(default_factory=time.time)


@dataclass
class _Delivery:
    event: Event
    due: float  # loop time of the first attempt
    attempts: int = 0


class Outbox:
    """Every system's outgoing webhooks: the dice, one queue, one sender, counts and a recent log."""

    def __init__(self, settings: WebhookSettings, *, seed: int | None = None) -> None:
        self.started = settings
        self.settings = settings
        self.seed = seed
        self.rng = random.Random(seed)  # its own dice: the fault board's sequence stays as it was
        self.counts: collections.Counter[str] = collections.Counter()
        self.log: collections.deque[dict[str, Any]] = collections.deque(maxlen=LOG_SIZE)
        self._queue: asyncio.Queue[_Delivery] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._retries: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None

    def status(self) -> dict[str, Any]:
        counts = {k: self.counts.get(k, 0) for k in ("emitted", "delivered", "lost", "duplicated", "failed")}
        return {**self.settings.public(), "counts": {**counts, "pending": self.pending}}

    @property
    def pending(self) -> int:
        return self.counts.get("queued", 0) - self.counts.get("delivered", 0) - self.counts.get("failed", 0)

    def emit(self, event: Event) -> None:
        """Count the event and hand it to the sender (never waits); dropped when there is nowhere to send."""
        self.counts["emitted"] += 1
        settings = self.settings
        if settings.to is None:
            return
        if self.rng.random() < settings.loss_rate:
            self.counts["lost"] += 1
            self._record(event, "lost", 0, None)
            return
        copies = 1
        if self.rng.random() < settings.duplicate_rate:
            copies = 2
            self.counts["duplicated"] += 1
        queue = self._ensure_sender()
        now = asyncio.get_running_loop().time()
        for _ in range(copies):
            spread = self.rng.uniform(-settings.jitter_ms, settings.jitter_ms) if settings.jitter_ms else 0.0
            queue.put_nowait(_Delivery(event, due=now + max(0.0, settings.delay_ms + spread) / 1000))
            self.counts["queued"] += 1

    async def reset(self) -> None:
        """As started: the startup settings, the dice from their seed, nothing queued, pending or counted."""
        await self.close()
        self.settings = self.started
        self.rng = random.Random(self.seed)
        self.counts.clear()
        self.log.clear()

    async def close(self) -> None:
        tasks = [t for t in (self._sender, *self._retries) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._sender, self._queue = None, None
        self._retries.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _ensure_sender(self) -> asyncio.Queue[_Delivery]:
        if self._queue is None or self._sender is None or self._sender.done():
            self._queue = asyncio.Queue()
            self._sender = asyncio.create_task(self._send_all(self._queue), name="sandbox-webhooks")
        return self._queue

    async def _send_all(self, queue: asyncio.Queue[_Delivery]) -> None:
        """The one sender: in emission order, or shuffled within `reorder_window_ms` of a batch's first event."""
        loop = asyncio.get_running_loop()
        while True:
            batch = [await queue.get()]
            window = self.settings.reorder_window_ms / 1000
            if window:
                deadline = loop.time() + window
                while (left := deadline - loop.time()) > 0:
                    try:
                        batch.append(await asyncio.wait_for(queue.get(), left))
                    except TimeoutError:
                        break
                self.rng.shuffle(batch)
            for delivery in batch:
                if (wait := delivery.due - loop.time()) > 0:
                    await asyncio.sleep(wait)
                await self._attempt(delivery)

    async def _attempt(self, delivery: _Delivery) -> None:
        """One POST; on failure a retry is scheduled on its own, so later events are not held back."""
        event, settings = delivery.event, self.settings
        delivery.attempts += 1
        status: int | None = None
        if settings.to is not None:
            if self._client is None:
                self._client = httpx.AsyncClient(timeout=SEND_TIMEOUT_S)
            url = f"{settings.to.rstrip('/')}/webhooks/{event.source}"
            try:
                response = await self._client.post(url, content=event.body, headers=self._signed(event))
                status = response.status_code
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                log.info("webhook %s %s to %s: %s", event.source, event.topic, url, exc.__class__.__name__)
        if status is not None and 200 <= status < 300:
            self.counts["delivered"] += 1
            self._record(event, status, delivery.attempts, time.time())
        elif delivery.attempts <= settings.retries and settings.to is not None:
            backoff = settings.retry_backoff_ms * 2 ** (delivery.attempts - 1) / 1000
            task = asyncio.create_task(self._retry(delivery, backoff))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
        else:
            self.counts["failed"] += 1
            self._record(event, status if status is not None else "error", delivery.attempts, None)

    async def _retry(self, delivery: _Delivery, after_s: float) -> None:
        await asyncio.sleep(after_s)
        await self._attempt(delivery)

    def _signed(self, event: Event) -> dict[str, str]:
        secrets = self.settings.secrets
        headers = dict(event.headers)
        if event.source is Source.SHOPIFY:
            headers["X-Shopify-Hmac-Sha256"] = shopify_hmac(secrets.shopify, event.body)
        elif event.source is Source.COMMERCETOOLS:
            headers["Authorization"] = f"Bearer {secrets.commercetools}"
        else:
            headers["X-Bezel-Signature"] = erp_signature(secrets.erp, event.body, int(time.time()))
        return headers

    def _record(self, event: Event, status: int | str, attempts: int, delivered_at: float | None) -> None:
        self.log.append({"id": event.id, "source": str(event.source), "topic": event.topic, "status": status,
                         "attempts": attempts, "emitted_at": event.emitted_at, "delivered_at": delivered_at})
