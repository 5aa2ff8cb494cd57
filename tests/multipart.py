"""Reading an incremental (@defer/@stream) answer as a client does: its parts, and the merged result; and
reading any multipart/mixed answer strictly, as RFC 2046 (and meros, and Apollo Client) read it."""

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


def strict_parts(body: bytes | str, content_type: str) -> tuple[list[Any], str]:
    """The JSON parts of a multipart/mixed body read as RFC 2046 reads it, and its preamble: all before the
    first delimiter line ("--boundary" at the start or after a CRLF) is preamble, never a part; each part
    is its headers (a JSON content type), a blank line and its body, up to the next delimiter
    (CRLF "--boundary"); the close delimiter ("--boundary--") ends the body. An unterminated part fails."""
    text = body.decode() if isinstance(body, bytes) else body
    dash = f"--{boundary_of(content_type)}"
    first = 0
    if not text.startswith(dash):
        first = text.find(f"\r\n{dash}") + 2
        assert first >= 2, f"no delimiter at all: {text[:200]!r}"
    preamble, rest = text[:first], text[first + len(dash):]
    found: list[Any] = []
    while not rest.startswith("--"):  # a close delimiter ends it; only an epilogue may follow
        padding, crlf, rest = rest.partition("\r\n")
        assert crlf, f"a delimiter line that does not end: {padding!r}"
        assert not padding.strip(" \t"), f"a delimiter followed by more than padding: {padding!r}"
        end = rest.find(f"\r\n{dash}")
        assert end >= 0, f"a part with no delimiter after it: {rest[:200]!r}"
        part, rest = rest[:end], rest[end + 2 + len(dash):]
        head, blank, payload = ("", "\r\n", part[2:]) if part.startswith("\r\n") else part.partition("\r\n\r\n")
        assert blank, f"a part without a blank line after its headers: {part[:200]!r}"
        assert "content-type: application/json" in head.lower(), f"a part without a JSON content type: {head!r}"
        found.append(json.loads(payload))
    return found, preamble


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
