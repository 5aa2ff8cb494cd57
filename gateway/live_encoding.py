"""A live message encoded once per transport, not once per subscriber.

Every subscriber of one product is handed the same executed data for an event (`schema.shared_events`):
the same dict object. Each transport frames it its own way (an SSE event, a multipart part, a
graphql-transport-ws `next` message around the operation's id), so each keeps the last few framings by
the identity of the data they encode. A message is shared with its `extensions` when they are equal
(`{"vendors": {}}` for every subscriber: the hub read the state, not the subscriber); one with errors
may differ per subscriber and is encoded for it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping

RECENT = 16  # data of the last events kept encoded: a few products changing at once, each with a few documents


class EncodedOnce:
    """The framed text of recent messages, by the identity of their data (held, so an id is not reused)."""

    def __init__(self, size: int = RECENT) -> None:
        self.size = size
        self._recent: OrderedDict[int, tuple[object, object, str]] = OrderedDict()
        self.encoded = 0  # how many were encoded (not found): for tests

    def framed(self, message: Mapping[str, object], frame: Callable[[], str]) -> str:
        """`frame()` (the message encoded and framed), once for every message with this same data."""
        data = message.get("data")
        if data is None or "errors" in message:
            self.encoded += 1
            return frame()
        extensions = message.get("extensions")
        found = self._recent.get(id(data))
        if found is not None and found[0] is data and found[1] == extensions:
            return found[2]
        self.encoded += 1
        text = frame()
        self._recent[id(data)] = (data, extensions, text)
        if len(self._recent) > self.size:
            self._recent.popitem(last=False)
        return text
