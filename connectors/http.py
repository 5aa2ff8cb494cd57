"""The one way a connector talks HTTP: build a `VendorCall`, hand it to a `VendorClient`.

A vendor module builds calls (what to send, how to read the answer, how to read the provider's
error body); `VendorClient.execute` sends them over one pooled aiohttp session per vendor and turns
every transport failure, error status and unreadable body into a `connectors.errors` exception.
Timeouts, caching, retries and fallbacks are the call policy's business, not this module's.

aiohttp directly, not httpx: httpx's own transport (httpcore over anyio) cost ~1.0-1.2 ms of CPU per
vendor call on our 2-core machines, aiohttp's ~0.45-0.55 ms; and httpx's layers over aiohttp
(httpx-aiohttp: cookies, header merging, its request and response models) still cost more than
aiohttp's own work on a call (measured: `bench/README.md`). A new shopper's page makes three or four
live calls. httpx remains for tests that hand in an `httpx.ASGITransport` or a `respx` mock.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit

import aiohttp
import httpx
import orjson
from opentelemetry import propagate
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.trace import SpanKind, StatusCode

from connectors.errors import (
    VendorBadResponse,
    VendorConnectionError,
    VendorError,
    VendorHTTPError,
    VendorRateLimited,
    VendorRejectedInput,
    VendorTimeout,
)
from connectors.telemetry import tracer, tracing_on

T = TypeVar("T")

# What a provider's error body says: its error code, a message for logs, and, when the provider
# blames our input, the domain field it blames plus a message we wrote for the client.
ErrorReader = Callable[[int, Any], "ProviderError"]
# Statuses that say the request itself was refused (malformed, declined, out of range, too large):
# the buyer's or our input, not the provider's health. Such an answer is never retried and never
# moves a circuit breaker, or anyone could switch a vendor off by sending what it refuses (five
# orders over Stripe's amount limit opened the payments breaker for every shopper). 401/403 (our
# credentials), 404 (a wrong base URL looks the same), 408, 409 and 429 stay the provider's trouble.
REFUSED_REQUEST = frozenset({400, 402, 413, 414, 415, 422})


@dataclass(frozen=True, slots=True)
class ProviderError:
    code: str | None
    message: str
    rejected_field: str | None = None  # set when the provider blames our input (4xx with a reason)
    public_message: str | None = None


@dataclass(frozen=True, slots=True)
class VendorRequest:
    method: str
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    form: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def fingerprint(self) -> str:
        """A stable digest of what is sent (not of auth or tracing headers): the cache key's core."""
        body = orjson.dumps(
            [self.method, self.path, sorted(self.params.items()), self.json, sorted((self.form or {}).items())],
            option=orjson.OPT_SORT_KEYS,
        )
        return hashlib.blake2b(body, digest_size=16).hexdigest()


# The most requests one call may make (its first and the follow-ups `Continue` asks for): a product of
# Shopify's 2,048 variants takes five; more means a parser that never stops asking.
MAX_FOLLOW_UPS = 16


@dataclass(frozen=True, slots=True)
class Continue(Generic[T]):
    """What a `parse` answers when the answer is not whole yet (the next page of a long list): the next
    request, and how to read its answer (which may ask again). Every request of one call is sent under the
    call's one timeout and one attempt, so the call policy sees one call: one cache entry, one freshness."""

    request: VendorRequest
    parse: Callable[[Any], T | Continue[T]]


@dataclass(frozen=True, slots=True)
class VendorCall(Generic[T]):
    """One request to one vendor, and how to turn its JSON answer into a domain value."""

    vendor: str
    operation: str  # e.g. "tax.quote": names the call in logs, metrics and traces
    request: VendorRequest
    parse: Callable[[Any], T | Continue[T]]  # a `Continue`: the answer takes another request
    # The type `parse` returns, so an answer can be cached as JSON and read back; None: never cached.
    result_type: Any = None
    idempotent: bool = True  # only idempotent calls may ever be cached, retried or hedged
    missing_ok: bool = False  # a 404 means "no such thing" and answers None instead of failing
    # What a cached answer holds, by name ("product:123"): an event about one of them drops the answer
    # from both tiers in every process (`connectors.invalidation`), whatever request it was cached under.
    tags: Callable[[T], Iterable[str]] | None = None

    @property
    def cache_key(self) -> str:
        return f"{self.vendor}:{self.operation}:{self.request.fingerprint()}"


@dataclass(frozen=True, slots=True)
class BatchCall(Generic[T]):
    """Many keys of one kind, answered (and cached) one by one; the keys not in cache are asked for in
    one call that `build` makes, which answers a dict by key."""

    vendor: str
    operation: str  # with the key, names each answer in the cache: "{vendor}:{operation}:{key}"
    keys: Sequence[str]
    build: Callable[[list[str]], VendorCall[dict[str, T]]]
    item_type: Any  # the type of one answer, to cache it as JSON and read it back
    # Marks cached answers that may not be served from cache however fresh (stock below safety level).
    must_refresh: Callable[[T], bool] | None = None


class VendorClient:
    """A pooled HTTP client for one vendor, with that provider's auth and error-body reader.

    Calls go straight to one aiohttp session per vendor. Handing in an httpx transport (an
    `httpx.ASGITransport`, a respx mock) sends them through httpx instead: tests and the in-process
    benchmark talk to ASGI apps that way.
    """

    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        read_error: ErrorReader,
        auth_headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self._host = urlsplit(base_url).hostname or ""  # for client spans
        self._read_error = read_error
        self._headers = {"user-agent": "bezel-gateway", **(auth_headers or {})}
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._http: httpx.AsyncClient | None = None
        if transport is not None:
            self._http = httpx.AsyncClient(base_url=base_url, headers=self._headers, transport=transport,
                                           timeout=httpx.Timeout(30.0, connect=5.0))
            if tracing_on():
                HTTPXClientInstrumentor.instrument_client(self._http)

    async def execute(self, call: VendorCall[T], *, headers: Mapping[str, str] | None = None) -> T:
        """The call's answer: its request sent, and each follow-up its `parse` asks for (`Continue`)."""
        request, parse = call.request, call.parse
        for _ in range(MAX_FOLLOW_UPS):
            status, response_headers, body = await self._exchange(call, request, headers)
            if status == 404 and call.missing_ok:
                return None  # type: ignore[return-value]  # missing_ok calls are typed VendorCall[X | None]
            if status >= 400:
                raise self._error_for(call, status, response_headers, body)
            payload = _decode_json(self.vendor, call.operation, body)
            try:
                answer = parse(payload)
            except VendorError:
                raise
            except (KeyError, TypeError, ValueError, IndexError, AttributeError, InvalidOperation) as exc:
                raise VendorBadResponse(
                    self.vendor, f"{call.operation}: body does not match the API ({type(exc).__name__}: {exc})"
                ) from exc
            if not isinstance(answer, Continue):
                return answer
            request, parse = answer.request, answer.parse
        raise VendorBadResponse(self.vendor, f"{call.operation}: still not whole after {MAX_FOLLOW_UPS} requests")

    async def _exchange(self, call: VendorCall[Any], req: VendorRequest, headers: Mapping[str, str] | None
                        ) -> tuple[int, Mapping[str, str], bytes]:
        """One request on the wire; a transport failure becomes the `VendorError` it means."""
        try:
            if self._http is not None:
                return await self._send_httpx(req, headers)
            if tracing_on():
                return await self._send_traced(req, headers)
            return await self._send(req, headers)
        except (TimeoutError, httpx.HTTPError, aiohttp.ClientError) as exc:
            raise _transport_failure(self.vendor, call.operation, exc) from exc

    async def _send(self, req: VendorRequest, headers: Mapping[str, str] | None
                    ) -> tuple[int, Mapping[str, str], bytes]:
        """aiohttp directly: httpx's layers over it (cookies, header merging, redirects, auth, its own
        request and response models) cost more CPU than aiohttp's own work on a vendor call (measured:
        `bench/README.md`)."""
        session = self._session or self._open()
        sent = {**req.headers, **headers} if headers else dict(req.headers)
        data: Any = req.form
        if req.json is not None:
            data = orjson.dumps(req.json)
            sent["content-type"] = "application/json"
        async with session.request(req.method, self.base_url + req.path, params=req.params or None, data=data,
                                   headers=sent, allow_redirects=False) as response:
            return response.status, response.headers, await response.read()

    async def _send_traced(self, req: VendorRequest, headers: Mapping[str, str] | None
                           ) -> tuple[int, Mapping[str, str], bytes]:
        """`_send` inside a client span, with the W3C traceparent sent to the vendor."""
        attributes = {"http.request.method": req.method, "url.full": self.base_url + req.path,
                      "server.address": self._host}
        with tracer.start_as_current_span(req.method, kind=SpanKind.CLIENT, attributes=attributes) as span:
            carrier = dict(headers or {})
            propagate.inject(carrier)
            status, response_headers, body = await self._send(req, carrier)
            span.set_attribute("http.response.status_code", status)
            if status >= 500:
                span.set_status(StatusCode.ERROR)
            return status, response_headers, body

    async def _send_httpx(self, req: VendorRequest, headers: Mapping[str, str] | None
                          ) -> tuple[int, Mapping[str, str], bytes]:
        assert self._http is not None
        response = await self._http.request(req.method, req.path, params=req.params or None, json=req.json,
                                            data=req.form, headers={**req.headers, **(headers or {})})
        return response.status_code, response.headers, await response.aread()

    def _open(self) -> aiohttp.ClientSession:
        """The session, made on first use: inside the running event loop, as aiohttp requires."""
        connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=5.0, ttl_dns_cache=300)
        # The call policy bounds every call with the request's deadline; this timeout is a backstop.
        self._session = aiohttp.ClientSession(
            connector=connector, headers=self._headers, cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=30.0, connect=5.0))
        return self._session

    def _error_for(self, call: VendorCall[Any], status: int, headers: Mapping[str, str], body: bytes) -> VendorError:
        try:
            detail = self._read_error(status, orjson.loads(body))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            detail = ProviderError(code=None, message=f"unreadable error body ({len(body)} bytes)")
        message = f"{call.operation}: {detail.message}"
        if status == 429:
            return VendorRateLimited(self.vendor, detail.code, message, _retry_after(headers.get("retry-after")))
        if detail.rejected_field is not None or status in REFUSED_REQUEST or (
                400 <= status < 500 and detail.public_message):
            return VendorRejectedInput(
                self.vendor,
                message,
                field=detail.rejected_field or None,
                public_message=detail.public_message or f"The {self.vendor} service rejected the request.",
                code=detail.code,
            )
        return VendorHTTPError(self.vendor, status, detail.code, message)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._http is not None:
            await self._http.aclose()


def _transport_failure(vendor: str, operation: str, exc: Exception) -> VendorError:
    """What went wrong on the wire, whichever client saw it (aiohttp; httpx for injected transports).
    An httpx error that chains an aiohttp one is decided by the aiohttp one, which is the more precise."""
    cause = exc.__cause__ if isinstance(exc.__cause__, aiohttp.ClientError | asyncio.TimeoutError) else exc
    what = f"{operation}: {type(cause).__name__}: {cause}"
    if isinstance(cause, httpx.TimeoutException | aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return VendorTimeout(vendor, f"{operation}: {type(cause).__name__}")
    if isinstance(cause, httpx.TransportError | aiohttp.ClientConnectionError | aiohttp.ClientPayloadError
                  | aiohttp.ClientResponseError):  # refused, reset, dropped, a broken response
        return VendorConnectionError(vendor, what)
    return VendorBadResponse(vendor, what)  # a body that does not decode, too many redirects, ...


def bearer(api_key: str | None) -> dict[str, str]:
    """`Authorization: Bearer <key>`, the convention most providers share (none without a key)."""
    return {"authorization": f"Bearer {api_key}"} if api_key else {}


def _decode_json(vendor: str, operation: str, body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise VendorBadResponse(vendor, f"{operation}: body is not JSON ({len(body)} bytes)") from exc


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
