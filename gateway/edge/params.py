"""A GraphQL request's parameters, checked for shape before anything reads them: a JSON object whose
`query` and `operationName` are strings and whose `variables` and `extensions` are objects (each may
be absent or null). Anything else is a 400 `BAD_REQUEST` saying which."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException


def checked(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise HTTPException(400, 'The request body must be a JSON object, e.g. {"query": "..."}.')
    if not isinstance(data.get("variables"), dict | None) or not isinstance(data.get("extensions"), dict | None):
        raise HTTPException(400, "`variables` and `extensions` must be objects (or null), if given.")
    if not isinstance(data.get("query"), str | None) or not isinstance(data.get("operationName"), str | None):
        raise HTTPException(400, "`query` and `operationName` must be strings (or null), if given.")
    return data
