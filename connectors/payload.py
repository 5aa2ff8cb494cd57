"""Typed reads from a decoded JSON body: a wrong shape raises ValueError naming the field.

Vendor mappings use these instead of bare indexing so that a body which is valid JSON but not the
documented shape (a string where a number belongs, a missing object) fails loudly at the edge, where
`VendorClient` turns it into `VendorBadResponse`, instead of deep inside a resolver.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any


def obj(data: Any, key: str | None = None) -> dict[str, Any]:
    value = data if key is None else _get(data, key)
    if not isinstance(value, dict):
        raise ValueError(f"{key or 'body'}: expected an object, got {type(value).__name__}")
    return value


def opt_obj(data: Any, key: str) -> dict[str, Any] | None:
    """An object that may be null, but whose key must be there (its absence means a wrong shape)."""
    value = _get(data, key)
    if value is not None and not isinstance(value, dict):
        raise ValueError(f"{key}: expected an object or null, got {type(value).__name__}")
    return value


def seq(data: Any, key: str) -> list[Any]:
    value = _get(data, key)
    if not isinstance(value, list):
        raise ValueError(f"{key}: expected an array, got {type(value).__name__}")
    return value


def text(data: Any, key: str, *, default: str | None = None) -> str:
    value = _get(data, key, default)
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string, got {type(value).__name__}")
    return value


def opt_text(data: Any, key: str) -> str | None:
    value = obj(data).get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key}: expected a string or null, got {type(value).__name__}")
    return value


def integer(data: Any, key: str) -> int:
    value = _get(data, key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{key}: expected an integer, got {type(value).__name__}")
    return value


def decimal(data: Any, key: str) -> Decimal:
    """A decimal from a JSON number or a decimal string (providers use both)."""
    value = _get(data, key)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key}: expected a number, got {type(value).__name__}")
    try:
        result = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{key}: {value!r} is not a number") from exc
    if not result.is_finite():
        raise ValueError(f"{key}: {value!r} is not a finite number")
    return result


def boolean(data: Any, key: str) -> bool:
    value = _get(data, key)
    if not isinstance(value, bool):
        raise ValueError(f"{key}: expected a boolean, got {type(value).__name__}")
    return value


_MISSING = object()


def _get(data: Any, key: str, default: Any = _MISSING) -> Any:
    if not isinstance(data, dict):
        raise ValueError(f"{key}: parent is not an object")
    if key in data:
        return data[key]
    if default is not _MISSING:
        return default
    raise ValueError(f"{key}: missing")
