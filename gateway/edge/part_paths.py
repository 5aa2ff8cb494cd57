"""Every incremental item's `path` whole, as the multipart answer's `deferSpec=20220824` promises.

graphql-core 3.3 numbers parts the newer way: an item names its pending `id` and, for a fragment deferred
below where it was announced, a `subPath`; a streamed item carries no index at all. strawberry copies each
item's pending `path` onto it and stops there. A 2022 client (Apollo Client 3, Apollo Client 4's
`Defer20220824Handler`, urql) reads `path` alone, so the storefront page's stock, deferred inside
`variants`, landed on `product` and every variant lost its stock; streamed items would overwrite the list
from index 0. This completes `path` (the pending's path, then the `subPath`; for streamed items, then the
index of the first item), keeping `id` and `subPath` for clients of the newer format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class PartPaths:
    """One streamed answer's bookkeeping: where each stream's next items start."""

    def __init__(self) -> None:
        self._next_index: dict[str, int] = {}

    def initial(self, response: dict[str, Any]) -> None:
        """The first part: each stream announced starts after the items it already holds."""
        self._streams_from(response.get("pending") or (), [((), response.get("data"))])

    def subsequent(self, response: dict[str, Any]) -> None:
        """A later part: complete its items' paths, then note where the streams it announces start."""
        items = response.get("incremental") or ()
        delivered = []
        for item in items:
            path = [*item.get("path", ()), *(item.get("subPath") or ())]
            if "items" in item:  # a streamed batch: its first item's index ends its path
                start = self._next_index.get(item.get("id", ""), 0)
                self._next_index[item.get("id", "")] = start + len(item["items"])
                path.append(start)
            else:
                delivered.append((tuple(path), item.get("data")))
            item["path"] = path
        self._streams_from(response.get("pending") or (), delivered)

    def _streams_from(self, pending: Sequence[dict[str, Any]], delivered: list[tuple[tuple[Any, ...], Any]]) -> None:
        for announced in pending:
            path = tuple(announced.get("path") or ())
            for at, data in delivered:
                held = _walk(data, path[len(at):]) if path[:len(at)] == at else None
                if isinstance(held, list):
                    self._next_index[announced.get("id", "")] = len(held)
                    break


def _walk(data: Any, path: Sequence[Any]) -> Any:
    for key in path:
        if isinstance(data, dict) and isinstance(key, str):
            data = data.get(key)
        elif isinstance(data, list) and isinstance(key, int) and 0 <= key < len(data):
            data = data[key]
        else:
            return None
    return data
