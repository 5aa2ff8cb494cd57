"""Every GraphQL request the test suite sends to a gateway, collected while it runs.

`recording()` (the session fixture `sent_to_gateways`, tests/conftest.py) wraps httpx's `Client.send`
and `AsyncClient.send`: any request to a `/graphql` path, in-process (`Gateway.gql`/`post`, any client
on an app's ASGI transport) or to a spawned `bezel serve`, is kept once per distinct (query,
variables, operation name, multipart or not). A request by `documentId` or persisted hash counts with
its text when the storefront's manifest has it. Not seen: requests written to raw sockets (the
slow-client tests) and the browser tests' (Chromium, not httpx).

tests/schema/test_execution.py executes each query both ways. What a session collected is written to
`SENT` when it ends (a JSON line each), to read; the session itself reads its own recorder, never the
file, so two sessions running in one checkout cannot truncate each other's list.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
SENT = ROOT / "tests" / ".artifacts" / "graphql-requests.jsonl"  # gitignored; written when a session ends
MANIFEST = ROOT / "storefront" / "persisted-query-manifest.json"


@dataclass(frozen=True)
class Sent:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None
    multipart: bool  # the client asked for parts (Accept: multipart/mixed)

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def sent(request: httpx.Request, known: dict[str, str]) -> Sent | None:
    """The GraphQL request in `request`, or None (not to /graphql, not readable, no text to be had)."""
    if request.url.path != "/graphql":
        return None
    try:
        if request.method == "GET":
            params = request.url.params
            data: Any = {"query": params.get("query"), "documentId": params.get("documentId"),
                         "operationName": params.get("operationName"),
                         **{key: json.loads(params[key]) for key in ("variables", "extensions") if params.get(key)}}
        else:
            data = json.loads(request.content)
    except (httpx.RequestNotRead, ValueError):  # a streamed body, or not JSON: a hostile test's
        return None
    if not isinstance(data, dict):
        return None
    query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
    if query is None:
        persisted = data.get("extensions", {}).get("persistedQuery") if isinstance(data.get("extensions"), dict) \
            else None
        document_id = data.get("documentId") or (persisted.get("sha256Hash") if isinstance(persisted, dict) else None)
        query = known.get(str(document_id).removeprefix("sha256:"))
    if not isinstance(query, str) or not isinstance(variables, dict | None) or not isinstance(name, str | None):
        return None
    return Sent(query, variables, name, "multipart/mixed" in request.headers.get("accept", ""))


class Recorder:
    def __init__(self) -> None:
        self.sent: dict[str, Sent] = {}  # by key, in the order first sent
        self.known = {op["id"]: op["body"] for op in json.loads(MANIFEST.read_text())["operations"]}

    def see(self, request: httpx.Request) -> None:
        found = sent(request, self.known)
        if found is not None:
            self.sent.setdefault(found.key(), found)

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text("".join(f"{key}\n" for key in self.sent))
        partial.replace(path)


@contextlib.contextmanager
def recording(path: Path = SENT) -> Iterator[Recorder]:
    """httpx's clients record what they send to `/graphql` until exit; then it is written to `path`."""
    recorder = Recorder()
    sync_send, async_send = httpx.Client.send, httpx.AsyncClient.send

    def send(client: httpx.Client, request: httpx.Request, *args: Any, **kwargs: Any) -> httpx.Response:
        recorder.see(request)
        return sync_send(client, request, *args, **kwargs)

    async def asend(client: httpx.AsyncClient, request: httpx.Request, *args: Any, **kwargs: Any) -> httpx.Response:
        recorder.see(request)
        return await async_send(client, request, *args, **kwargs)

    httpx.Client.send, httpx.AsyncClient.send = send, asend  # type: ignore[method-assign,assignment]
    try:
        yield recorder
    finally:
        httpx.Client.send, httpx.AsyncClient.send = sync_send, async_send  # type: ignore[method-assign]
        recorder.write(path)
