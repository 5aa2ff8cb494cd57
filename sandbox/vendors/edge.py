"""The edges Bezel purges: Fastly's and Cloudflare's purge APIs, with their auth headers and errors.

    Fastly      POST /fastly/service/{service_id}/purge      Surrogate-Key: k1 k2 (<= 256)
                Fastly-Key: <token>  (Fastly-Soft-Purge: 1 for a soft purge)
                200 {"k1": "<purge id>", ...}; 401 {"msg": "Provided credentials are missing or invalid"}
    Cloudflare  POST /cloudflare/zones/{zone_id}/purge_cache  {"tags": [...]} (<= 30)
                Authorization: Bearer <token>
                200 {"success": true, "errors": [], "messages": [], "result": {"id": zone}};
                403 {"success": false, "errors": [{"code": 10000, "message": "Authentication error"}]}

The token both expect is EDGE_PURGE_TOKEN from the sandbox's environment, else `TOKEN`. Every purge
accepted is kept in `SandboxState.purges` (GET /_admin/purges); faults are injected as for any vendor
(PUT /_admin/faults/fastly).
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.state import SandboxState

TOKEN = "sandbox-purge-token"
FASTLY_MAX_KEYS = 256
CLOUDFLARE_MAX_TAGS = 30


def token() -> str:
    return os.environ.get("EDGE_PURGE_TOKEN") or TOKEN


def fastly_error(status: int, path: str = "") -> dict[str, Any]:
    return {"msg": "Provided credentials are missing or invalid" if status == 401 else "Internal Server Error"
            if status >= 500 else "Bad request", "detail": f"HTTP {status}"}


def cloudflare_error(status: int, path: str = "") -> dict[str, Any]:
    code = {401: 10000, 403: 10000, 429: 971}.get(status, 1000 if status < 500 else 10001)
    return {"success": False, "errors": [{"code": code, "message": "Authentication error" if code == 10000
                                          else "Service unavailable"}], "messages": [], "result": None}


def _record(state: SandboxState, provider: str, target: str, keys: list[str], soft: bool) -> None:
    state.purges.append({"provider": provider, "target": target, "keys": keys, "soft": soft, "at": time.time()})


def fastly_routes(state: SandboxState) -> list[Route]:
    async def purge(request: Request) -> Response:
        if request.headers.get("fastly-key") != token():
            return JSONResponse(fastly_error(401), status_code=401)
        keys = (request.headers.get("surrogate-key") or "").split()
        if not keys or len(keys) > FASTLY_MAX_KEYS:
            return JSONResponse({"msg": "Bad request", "detail": f"1 to {FASTLY_MAX_KEYS} keys in Surrogate-Key"},
                                status_code=400)
        service = request.path_params["service"]
        _record(state, "fastly", service, keys, request.headers.get("fastly-soft-purge") == "1")
        return JSONResponse({key: f"{service}-{uuid.uuid4().hex[:12]}" for key in keys})

    return [Route("/service/{service}/purge", purge, methods=["POST"])]


def cloudflare_routes(state: SandboxState) -> list[Route]:
    async def purge(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {token()}":
            return JSONResponse(cloudflare_error(403), status_code=403)
        try:
            body = await request.json()
        except ValueError:
            body = None
        tags = body.get("tags") if isinstance(body, dict) else None
        if not isinstance(tags, list) or not tags or len(tags) > CLOUDFLARE_MAX_TAGS \
                or not all(isinstance(t, str) for t in tags):
            return JSONResponse({"success": False, "errors": [{"code": 1012, "message": "Request must contain "
                                 f"1 to {CLOUDFLARE_MAX_TAGS} tags"}], "messages": [], "result": None},
                                status_code=400)
        zone = request.path_params["zone"]
        _record(state, "cloudflare", zone, tags, False)
        return JSONResponse({"success": True, "errors": [], "messages": [], "result": {"id": zone}})

    return [Route("/zones/{zone}/purge_cache", purge, methods=["POST"])]
