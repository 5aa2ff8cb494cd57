"""Authorizing a payment once against the sandbox's payment provider: approvals, declines, a refused amount,
a lost answer learnt by asking again with the same key (and voided), and voids."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from connectors.models import Money
from connectors.policy import CallScope, Deadline
from resolvers.checkout.outcome import Stop
from resolvers.checkout.payment import authorize, void
from tests.support import Shop, shop_in_process


@pytest.fixture
async def shop(redis_url: str) -> AsyncIterator[Shop]:
    async with shop_in_process(redis_url) as shop:
        yield shop


async def pay(shop: Shop, token: str, amount: str = "185.00", key: str | None = None):  # type: ignore[no-untyped-def]
    return await authorize(shop.services.vendors, CallScope(Deadline.after_ms(5000)), total=Money.of(amount, "USD"),
                           token=token, email="ada@example.com", order_id="ord_1",
                           payment_key=key or str(uuid.uuid4()))


async def stopped(shop: Shop, token: str, amount: str = "185.00") -> Stop:
    with pytest.raises(Stop) as caught:
        await pay(shop, token, amount)
    return caught.value


def statuses(shop: Shop) -> list[str]:
    return [i["status"] for i in shop.sandbox.sandbox.payment_intents.values()]


async def test_an_approved_card_is_authorized_for_manual_capture(shop: Shop) -> None:
    payment = await pay(shop, "tok_visa", "18500")
    assert (payment.status, payment.amount) == ("requires_capture", Money.of("18500", "USD"))
    assert statuses(shop) == ["requires_capture"]


async def test_a_decline_is_a_result_to_keep_blaming_the_card(shop: Shop) -> None:
    stop = await stopped(shop, "tok_chargeDeclinedInsufficientFunds")
    assert stop.keep is True
    assert [(e.code, e.field) for e in stop.result.user_errors] == [("PAYMENT_DECLINED", ("paymentToken",))]


async def test_an_unknown_payment_token_is_invalid_input_not_a_decline(shop: Shop) -> None:
    stop = await stopped(shop, "tok_made_up")
    assert stop.keep is True
    assert [(e.code, e.field) for e in stop.result.user_errors] == [("INVALID_INPUT", ("paymentToken",))]


async def test_an_amount_the_provider_refuses_is_not_blamed_on_the_card(shop: Shop) -> None:
    stop = await stopped(shop, "tok_visa", amount="0.10")  # below the provider's minimum
    assert stop.keep is False
    assert [(e.code, e.field) for e in stop.result.user_errors] == [("INVALID_INPUT", None)]
    assert statuses(shop) == []


async def test_a_lost_answer_is_learnt_with_the_same_key_and_voided(shop: Shop) -> None:
    shop.fault("payments", status=503, times=1)
    key = str(uuid.uuid4())
    with pytest.raises(Stop) as caught:
        await pay(shop, "tok_visa", key=key)
    assert [e.code for e in caught.value.result.user_errors] == ["CHECKOUT_UNAVAILABLE"]
    assert (caught.value.keep, caught.value.hold_key) == (False, False)
    assert statuses(shop) == ["canceled"]
    asked = [r.idempotency_key for r in shop.sandbox.board.requests if r.path.endswith("payment_intents")]
    assert set(asked) == {key}
    assert len(asked) == 2


async def test_a_provider_that_never_answers_leaves_the_key_held(shop: Shop) -> None:
    shop.fault("payments", status=503)
    with pytest.raises(Stop) as caught:
        await pay(shop, "tok_visa")
    assert (caught.value.keep, caught.value.hold_key) == (False, True)
    assert statuses(shop) == []


async def test_void_cancels_an_authorization_and_repeating_it_is_harmless(shop: Shop) -> None:
    payment = await pay(shop, "tok_visa")
    scope = CallScope(Deadline.after_ms(5000))
    await void(shop.services.vendors, scope, payment, why="lost_answer")
    await void(shop.services.vendors, scope, payment, why="lost_answer")
    assert statuses(shop) == ["canceled"]


async def test_a_void_that_fails_is_logged_not_raised(shop: Shop) -> None:
    payment = await pay(shop, "tok_visa")
    shop.fault("payments", status=400)
    await void(shop.services.vendors, CallScope(Deadline.after_ms(5000)), payment, why="hold_lost")
    assert statuses(shop) == ["requires_capture"]  # it lapses uncaptured
