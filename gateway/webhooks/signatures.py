"""How each sender proves a delivery is its own, checked in constant time against every current secret.

- Shopify: `X-Shopify-Hmac-Sha256` is base64(HMAC-SHA256(app secret, raw body)). During a rotation the
  previous secret is accepted too (Shopify may take an hour to sign with the new one).
- commercetools, through an EventBridge or Event Grid HTTP destination: `Authorization: Bearer <token>`.
- The ERP (our format, Stripe's scheme): `X-Bezel-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret,
  "<t>." + raw body)>`, refused past `tolerance_s` either way, so a captured delivery cannot be replayed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence


def shopify(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    if not header:
        return False
    given = header.strip().encode()
    return any(hmac.compare_digest(base64.b64encode(hmac.new(s.encode(), body, hashlib.sha256).digest()), given)
               for s in secrets)


def bearer(header: str | None, tokens: Sequence[str]) -> bool:
    scheme, _, token = (header or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        return False
    return any(hmac.compare_digest(token.strip().encode(), t.encode()) for t in tokens)


def bezel(body: bytes, header: str | None, secrets: Sequence[str], *, tolerance_s: float,
          now: float | None = None) -> bool:
    fields = dict(part.strip().partition("=")[::2] for part in (header or "").split(",") if "=" in part)
    stamp, given = fields.get("t", ""), fields.get("v1", "")
    if not stamp.isdigit() or not given or abs((now or time.time()) - int(stamp)) > tolerance_s:
        return False
    signed = stamp.encode() + b"." + body
    return any(hmac.compare_digest(hmac.new(s.encode(), signed, hashlib.sha256).hexdigest().encode(),
                                   given.encode()) for s in secrets)
