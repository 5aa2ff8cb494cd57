"""Refusals at the HTTP edge, in GraphQL's error shape, so clients parse one format."""

from __future__ import annotations

import orjson
from starlette.responses import Response


def error_response(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> Response:
    body = orjson.dumps({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]})
    return Response(body, status_code=status, media_type="application/json", headers=headers)
