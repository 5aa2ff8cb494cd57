"""Each sender's signature, checked as the sender makes it: a tampered body, a wrong or old secret, a replay."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from gateway.webhooks import signatures

BODY = b'{"id": 632910392, "updated_at": "2026-12-06T10:00:00Z"}'


def shopify_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_shopify_is_the_base64_hmac_of_the_raw_body_with_either_secret_of_a_rotation() -> None:
    assert signatures.shopify(BODY, shopify_signature(BODY, "new"), ["new", "old"])
    assert signatures.shopify(BODY, shopify_signature(BODY, "old"), ["new", "old"])  # mid-rotation
    assert not signatures.shopify(BODY, shopify_signature(BODY, "old"), ["new"])  # the rotation is over
    assert not signatures.shopify(BODY + b" ", shopify_signature(BODY, "new"), ["new"])  # one byte more
    assert not signatures.shopify(BODY, None, ["new"])
    assert not signatures.shopify(BODY, "", ["new"])
    assert not signatures.shopify(BODY, shopify_signature(BODY, "new"), [])  # no secret configured


def test_a_bearer_token_must_be_one_of_the_tokens() -> None:
    assert signatures.bearer("Bearer t0k", ["t0k"])
    assert signatures.bearer("bearer t0k", ["other", "t0k"])
    assert not signatures.bearer("Bearer t0", ["t0k"])
    assert not signatures.bearer("Basic t0k", ["t0k"])
    assert not signatures.bearer("Bearer ", ["t0k"])
    assert not signatures.bearer(None, ["t0k"])


def bezel_signature(body: bytes, secret: str, at: int) -> str:
    return f"t={at},v1=" + hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()


def test_the_erp_signs_the_time_with_the_body_and_an_old_delivery_is_a_replay() -> None:
    now = int(time.time())
    assert signatures.bezel(BODY, bezel_signature(BODY, "s", now), ["s"], tolerance_s=300)
    assert not signatures.bezel(BODY, bezel_signature(BODY, "s", now - 301), ["s"], tolerance_s=300)
    assert not signatures.bezel(BODY, bezel_signature(BODY, "s", now + 301), ["s"], tolerance_s=300)
    assert not signatures.bezel(BODY, bezel_signature(BODY, "x", now), ["s"], tolerance_s=300)
    forged = bezel_signature(BODY, "s", now).replace(f"t={now}", f"t={now - 1}")  # the time is signed too
    assert not signatures.bezel(BODY, forged, ["s"], tolerance_s=300)
    assert not signatures.bezel(BODY, "v1=abc", ["s"], tolerance_s=300)
    assert not signatures.bezel(BODY, None, ["s"], tolerance_s=300)
