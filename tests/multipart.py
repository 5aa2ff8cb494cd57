"""Reading an incremental (@defer/@stream) answer as a client does: its parts, and the merged result."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

ACCEPT_PARTS = "multipart/mixed; deferSpec=20220824, application/json"


def boundary_of(content_type: str) -> str:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    assert match, content_type
    return match[1]


def parts(body: bytes | str, content_type: str) -> list[dict[str, Any]]:
    """The JSON parts of a multipart/mixed body, in order."""
    text = body.decode() if isinstance(body, bytes) else body
    out = []
    for chunk in text.split(f"--{boundary_of(content_type)}"):
        head, _, payload = chunk.partition("\r\n\r\n")
        if payload.strip():
            assert "application/json" in head.lower(), head
            out.append(json.loads(payload))
    return out


def merged(answer: list[dict[str, Any]]) -> dict[str, Any]:
    """The result the parts add up to: each deferred `data` and streamed `items` put at its place, read by
    `id` and `subPath` (the newer format) and checked against `path` (the one clients of 2022 read)."""
    result = copy.deepcopy(answer[0])
    data = result.get("data")
    errors = list(result.get("errors") or [])
    pending = {p["id"]: p for p in result.get("pending") or []}
    for part in answer[1:]:
        pending |= {p["id"]: p for p in part.get("pending") or []}
        for item in part.get("incremental") or []:
            path = [*pending[item["id"]]["path"], *item.get("subPath", [])]
            target = data
            for key in path:
                target = target[key]
            # A deferSpec=20220824 client (Apollo Client, urql) reads `path` alone: it must say the same place.
            # (Parts straight from graphql-core, as tests/schema compares them, carry no `path`.)
            if "path" in item:
                assert item["path"] == path + ([len(target)] if "items" in item else []), (item["path"], path)
            if "items" in item:
                target.extend(item["items"])
            else:
                _deep_update(target, item["data"])
            errors += item.get("errors") or []
        for done in part.get("completed") or []:
            errors += done.get("errors") or []
    return {"data": data, "errors": errors}


def _deep_update(target: dict[str, Any], data: dict[str, Any]) -> None:
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_update(target[key], value)
        else:
            target[key] = value
