"""placeOrder's answers: what is kept to replay one (the order token sealed with the idempotency key) and how
it reads back, and the user errors of a checkout that cannot go on."""

from __future__ import annotations

from resolvers.checkout.outcome import (
    PlaceOrderResult,
    Stop,
    UserError,
    failed,
    seal,
    unavailable,
    unclear,
    unseal,
)

TOKEN = "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4"  # secrets.token_urlsafe(24)-sized


def test_a_sealed_token_opens_only_with_its_idempotency_key() -> None:
    sealed = seal(TOKEN, "key-1")
    assert TOKEN not in sealed
    assert unseal(sealed, "key-1") == TOKEN
    assert seal(TOKEN, "key-2") != sealed
    try:
        opened: str | None = unseal(sealed, "key-2")
    except UnicodeDecodeError:  # another key's pad: bytes, not the token
        opened = None
    assert opened != TOKEN


def test_a_result_is_kept_without_its_token_and_replayed_with_it() -> None:
    result = PlaceOrderResult(order=None, order_token=TOKEN,
                              user_errors=[UserError("OUT_OF_STOCK", "Sold out.", ("lines", "0", "variantId")),
                                           UserError("PAYMENT_DECLINED", "Declined.")])
    record = result.to_record("key-1")
    assert TOKEN not in repr(record)
    assert record["user_errors"][1] == {"code": "PAYMENT_DECLINED", "message": "Declined.", "field": []}
    replay = PlaceOrderResult.from_record(record, "key-1", None)
    assert (replay.order_token, replay.user_errors, replay.replayed) == (TOKEN, result.user_errors, True)
    assert not result.replayed


def test_a_result_without_a_token_replays_without_one() -> None:
    record = failed("OUT_OF_STOCK", "Sold out.").to_record("key-1")
    assert (record["order_id"], record["order_token"]) == (None, None)
    assert PlaceOrderResult.from_record(record, "key-1", None).order_token is None


def test_a_checkout_that_cannot_go_on_says_whether_anything_was_charged() -> None:
    [down] = unavailable("the order store is down").user_errors
    assert (down.code, down.field) == ("CHECKOUT_UNAVAILABLE", None)
    assert "the order store is down" in down.message
    assert "No payment has been taken" in down.message
    [unknown] = unclear("no answer from the store").user_errors
    assert unknown.code == "CHECKOUT_UNAVAILABLE"
    assert "same request again" in unknown.message  # the way to learn the result


def test_a_stop_carries_its_result_and_whether_the_key_stays_claimed() -> None:
    result = failed("RATE_LIMITED", "Too many.")
    stop = Stop(result, keep=False, hold_key=True)
    assert (stop.result, stop.keep, stop.hold_key) == (result, False, True)
    assert Stop(result, keep=True).hold_key is False
