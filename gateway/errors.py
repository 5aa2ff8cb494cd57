"""Errors of the process itself (configuration) and of the HTTP edge, before any GraphQL runs.

    Exception
    ├── ConfigError          the configuration does not validate; the message names the keys
    ├── BodyTooLarge         a request body turned out larger than allowed while it was being read
    └── DocumentRefused      refused before running: not a document this gateway runs (trusted
                             documents), over a rate limit, or not allowed as sent

Errors a client may see below the edge are `connectors.errors.PublicError`s; the edge answers its own
refusals in GraphQL's error shape (`gateway.view.error_response`).
"""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration does not validate; the message names the offending keys."""


class BodyTooLarge(Exception):
    """Raised from inside the body reader to stop reading; answered 413."""


class DocumentRefused(Exception):
    """Refused before parsing: an HTTP status, an `extensions.code`, and a message for the client."""

    def __init__(self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
