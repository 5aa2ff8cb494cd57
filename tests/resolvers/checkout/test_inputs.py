"""placeOrder's own input checks (every problem at once, each on its field), the email as kept, and the
fingerprint that tells a replay from a reused idempotency key."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from resolvers.checkout.inputs import MAX_KEY, email_of, field_path, fingerprint, insured, validate
from resolvers.validation import MAX_ENGRAVING_TEXT
from tests.resolvers.checkout.order_input import Address, Line


@dataclass
class Request:
    lines: list[Line] = field(default_factory=lambda: [Line("gid://bezel/ProductVariant/11")])
    idempotency_key: str = "key-1"
    ship_to: Address = field(default_factory=Address)
    email: str = "ada@example.com"
    payment_token: str = "tok_visa"
    insure: bool | None = None
    financing_provider: str | None = None


def fields(request: Request) -> list[tuple[str, ...] | None]:
    problems = validate(request)
    assert all(p.code == "INVALID_INPUT" for p in problems)
    return [p.field for p in problems]


def test_a_good_request_has_no_problems_and_a_bad_one_all_of_them_at_once() -> None:
    assert validate(Request()) == []
    bad = Request(idempotency_key="", email="ada", payment_token=" ",
                  lines=[Line("11"), Line("gid://bezel/ProductVariant/11"), Line("12", engraving_text="x" * 65)])
    assert fields(bad) == [("idempotencyKey",), ("email",), ("paymentToken",), ("lines", "1", "variantId"),
                           ("lines", "2", "engravingText")]
    assert "line 0" in validate(bad)[3].message  # says which line listed it first


@pytest.mark.parametrize(("key", "ok"), [("k", True), ("k" * MAX_KEY, True), ("k" * (MAX_KEY + 1), False),
                                         ("", False), ("key\n", False), ("key\x00", False)])
def test_the_idempotency_key_is_1_to_255_printable_characters(key: str, ok: bool) -> None:
    assert (fields(Request(idempotency_key=key)) == []) is ok


@pytest.mark.parametrize(("email", "ok"), [
    ("ada@example.com", True), ("  Ada.Lovelace+ring@mail.example.co.uk ", True), ("josé@exämple.com", True),
    ("ada@localhost", False), ("ada@@example.com", False), ("a da@example.com", False),
    ("<ada>@example.com", False), ("ada@example.com\u202e", False), ("ada\u200b@example.com", False),
    ("a" * 65 + "@example.com", False), ("ada@" + "e" * 250 + ".com", False), ("", False),
])
def test_an_email_must_be_one_a_mail_server_and_a_receipt_take(email: str, ok: bool) -> None:
    assert (fields(Request(email=email)) == []) is ok


@pytest.mark.parametrize(("token", "ok"), [("tok_visa", True), ("", False), ("   ", False), ("t" * 256, False)])
def test_a_payment_token_is_required_and_bounded(token: str, ok: bool) -> None:
    assert (fields(Request(payment_token=token)) == []) is ok


def test_engraving_is_limited_but_its_limit_is_allowed() -> None:
    assert fields(Request(lines=[Line("11", engraving_text="x" * MAX_ENGRAVING_TEXT)])) == []


def test_the_email_is_kept_trimmed_and_in_one_unicode_spelling() -> None:
    assert email_of(Request(email="  jose\u0301@example.com ")) == "jos\u00e9@example.com"


def test_a_field_path_is_split_into_its_parts() -> None:
    assert field_path("lines[1].variantId") == ("lines", "1", "variantId")
    assert field_path("shipTo.zip") == ("shipTo", "zip")
    assert (field_path(None), field_path("")) == (None, None)


def test_the_fingerprint_ignores_how_the_email_was_written_and_an_unsaid_insure() -> None:
    same = fingerprint(Request())
    assert fingerprint(Request(email=" ADA@Example.com")) == same
    assert fingerprint(Request(email="ada@exam\u0070le.com")) == same
    assert fingerprint(Request(insure=True)) == same  # insurance is on unless refused
    assert (insured(Request()), insured(Request(insure=False))) == (True, False)


@pytest.mark.parametrize("change", [
    {"lines": [Line("gid://bezel/ProductVariant/11", quantity=2)]},
    {"lines": [Line("gid://bezel/ProductVariant/11", engraving_text="A")]},
    {"ship_to": Address(zip="10002")},
    {"payment_token": "tok_mastercard"},
    {"insure": False},
    {"financing_provider": "affirm"},
])
def test_the_fingerprint_changes_with_anything_that_changes_the_order(change: dict) -> None:
    assert fingerprint(dataclasses.replace(Request(), **change)) != fingerprint(Request())
