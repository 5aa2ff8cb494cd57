"""The one way a connector talks HTTP: build a `VendorCall`, hand it to a `VendorClient`.

A vendor module builds calls (what to send, how to read the answer, how to read the provider's
error body); `VendorClient.execute` sends them over one pooled httpx client per vendor and turns
every transport failure, error status and unreadable body into a `connectors.errors` exception.
Timeouts, caching, retries and fallbacks are the call policy's business, not this module's.

Requests go out through aiohttp under httpx's API (httpx-aiohttp): httpx's own transport (httpcore
over anyio) cost ~1.0-1.2 ms of CPU per vendor call on our 2-core machines, aiohttp's ~0.45-0.55 ms,
and a product page for a new shopper makes four live calls (measured in `bench/README.md`). httpx
stays the interface, so tests can still hand in an `httpx.ASGITransport` or a `respx` mock.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar

import aiohttp
import httpx
import orjson
from httpx_aiohttp import AiohttpTransport
from opentelemetry import trace
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from connectors.errors import (
    VendorBadResponse,
    VendorConnectionError,
    VendorError,
    VendorHTTPError,
    VendorRateLimited,
    VendorRejectedInput,
    VendorTimeout,
)

T = TypeVar("T")

# What a provider's error body says: its error code, a message for logs, and, when the provider
# blames our input, the domain field it blames plus a message we wrote for the client.
ErrorReader = Callable[[int, Any], "ProviderError"]


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


@dataclass(frozen=True, slots=True)
class VendorCall(Generic[T]):
    """One request to one vendor, and how to turn its JSON answer into a domain value."""

    vendor: str
    operation: str  # e.g. "tax.quote": names the call in logs, metrics and traces
    request: VendorRequest
    parse: Callable[[Any], T]
    # The type `parse` returns, so an answer can be cached as JSON and read back; None: never cached.
    result_type: Any = None
    idempotent: bool = True  # only idempotent calls may ever be cached, retried or hedged
    missing_ok: bool = False  # a 404 means "no such thing" and answers None instead of failing

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
    """A pooled HTTP client for one vendor, with that provider's auth and error-body reader."""

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
        self.base_url = base_url
        self._read_error = read_error
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"user-agent": "bezel-gateway", **(auth_headers or {})},
            # The call policy bounds every call with the request's deadline; this is a backstop.
            timeout=httpx.Timeout(30.0, connect=5.0),
            transport=transport or _aiohttp_transport(max_connections),
        )
        if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            # Tracing is on: a client span per request, and the W3C traceparent sent to the vendor.
            HTTPXClientInstrumentor.instrument_client(self._http)

    async def execute(self, call: VendorCall[T], *, headers: Mapping[str, str] | None = None) -> T:
        req = call.request
        try:
            response = await self._http.request(
                req.method,
                req.path,
                params=req.params or None,
                json=req.json,
                data=req.form,
                headers={**req.headers, **(headers or {})},
            )
            body = await response.aread()
        except (httpx.HTTPError, aiohttp.ClientError) as exc:
            raise _transport_failure(self.vendor, call.operation, exc) from exc
        if response.status_code == 404 and call.missing_ok:
            return None  # type: ignore[return-value]  # missing_ok calls are typed VendorCall[X | None]
        if response.status_code >= 400:
            raise self._error_for(call, response, body)
        payload = _decode_json(self.vendor, call.operation, body)
        try:
            return call.parse(payload)
        except VendorError:
            raise
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, InvalidOperation) as exc:
            raise VendorBadResponse(
                self.vendor, f"{call.operation}: body does not match the API ({type(exc).__name__}: {exc})"
            ) from exc

    def _error_for(self, call: VendorCall[Any], response: httpx.Response, body: bytes) -> VendorError:
        status = response.status_code
        try:
            detail = self._read_error(status, orjson.loads(body))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            detail = ProviderError(code=None, message=f"unreadable error body ({len(body)} bytes)")
        message = f"{call.operation}: {detail.message}"
        if status == 429:
            return VendorRateLimited(self.vendor, detail.code, message, _retry_after(response))
        if detail.rejected_field is not None or (400 <= status < 500 and detail.public_message):
            return VendorRejectedInput(
                self.vendor,
                message,
                field=detail.rejected_field or None,
                public_message=detail.public_message or f"The {self.vendor} service rejected the request.",
                code=detail.code,
            )
        return VendorHTTPError(self.vendor, status, detail.code, message)

    async def aclose(self) -> None:
        await self._http.aclose()


def _aiohttp_transport(max_connections: int) -> AiohttpTransport:
    def session() -> aiohttp.ClientSession:  # made on first use, inside the running loop
        connector = aiohttp.TCPConnector(limit=max_connections, keepalive_timeout=5.0, ttl_dns_cache=300)
        return aiohttp.ClientSession(connector=connector, auto_decompress=False)

    return AiohttpTransport(client=session)


def _transport_failure(vendor: str, operation: str, exc: Exception) -> VendorError:
    """What went wrong on the wire, whichever transport saw it. httpx-aiohttp re-raises aiohttp's
    errors under httpx names, but coarsely (a refused or dropped connection becomes ConnectTimeout),
    so the aiohttp error it chained, when there is one, decides."""
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


def api_key(env_name: str) -> str | None:
    """The API key from the environment variable the config names, if any."""
    return os.environ.get(env_name) or None if env_name else None


def _decode_json(vendor: str, operation: str, body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise VendorBadResponse(vendor, f"{operation}: body is not JSON ({len(body)} bytes)") from exc


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
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
