"""The error tree: what a client may see of each error, and how vendor failures are reported."""

from __future__ import annotations

import pytest

from connectors.errors import (
    BackingOff,
    BulkheadFull,
    CheckoutUnavailable,
    CircuitOpen,
    InputError,
    NotCalled,
    OverQuota,
    PublicError,
    VendorBadResponse,
    VendorConnectionError,
    VendorError,
    VendorHTTPError,
    VendorRateLimited,
    VendorRejectedInput,
    VendorTimeout,
    VendorUnavailable,
)
from connectors.models import Outcome


def test_an_input_error_names_its_field_in_the_extensions() -> None:
    error = InputError("Invalid address.", field="shipTo.zip", problems=[1])
    assert error.extensions == {"code": "BAD_USER_INPUT", "field": "shipTo.zip", "problems": [1]}
    assert (str(error), error.field) == ("Invalid address.", "shipTo.zip")
    assert InputError("Bad.").extensions == {"code": "BAD_USER_INPUT"}
    assert PublicError("x").extensions == {"code": "INTERNAL_SERVER_ERROR"}


def test_vendor_unavailable_says_which_vendor_and_how_it_failed() -> None:
    error = VendorUnavailable("tax", Outcome.TIMEOUT)
    assert error.extensions == {"code": "VENDOR_UNAVAILABLE", "vendor": "tax", "outcome": Outcome.TIMEOUT}
    assert "tax" in error.message


def test_checkout_unavailable_keeps_its_detail_out_of_what_a_client_sees() -> None:
    error = CheckoutUnavailable(detail="checkout store: ConnectionError: 10.0.0.5:6379")
    assert "10.0.0.5" not in error.message
    assert "10.0.0.5" not in repr(error.extensions)
    assert "10.0.0.5" in str(error)  # for logs
    assert str(CheckoutUnavailable()) == CheckoutUnavailable().message
    assert error.extensions == {"code": "CHECKOUT_UNAVAILABLE"}


def test_a_rejected_input_becomes_an_input_error_on_the_clients_argument() -> None:
    rejected = VendorRejectedInput("tax", "to_zip 9021 invalid", field="zip", public_message="Check the ZIP code.",
                                   code="bad_zip")
    error = rejected.to_input_error("shipTo")
    assert (error.message, error.field) == ("Check the ZIP code.", "shipTo.zip")
    assert error.extensions["vendor"] == "tax"
    whole = VendorRejectedInput("payments", "declined", field=None, public_message="Declined.").to_input_error("card")
    assert whole.field == "card"


@pytest.mark.parametrize(("error", "outcome"), [
    (VendorTimeout("tax", "read"), Outcome.TIMEOUT),
    (VendorConnectionError("tax", "reset"), Outcome.ERROR),
    (VendorBadResponse("tax", "not JSON"), Outcome.ERROR),
    (VendorHTTPError("tax", 503, None, "down"), Outcome.ERROR),
    (VendorRejectedInput("tax", "no", field=None, public_message="No."), Outcome.BAD_INPUT),
    (CircuitOpen("tax", "open"), Outcome.CIRCUIT_OPEN),
    (BulkheadFull("tax", "full"), Outcome.REJECTED),
    (BackingOff("tax", "429"), Outcome.REJECTED),
    (OverQuota("tax", "spent"), Outcome.REJECTED),
])
def test_each_vendor_failure_reports_its_outcome(error: VendorError, outcome: Outcome) -> None:
    assert error.outcome is outcome
    assert error.vendor == "tax"
    assert str(error).startswith("tax: ")
    assert isinstance(error, NotCalled) is (not outcome.sent)  # only calls never sent are NotCalled


def test_a_rate_limit_is_an_http_429_with_its_retry_after() -> None:
    error = VendorRateLimited("tax", "rate_limited", "slow down", 2.5)
    assert isinstance(error, VendorHTTPError)
    assert (error.status, error.code, error.retry_after_s) == (429, "rate_limited", 2.5)
    assert str(error) == "tax: HTTP 429 rate_limited slow down"
    assert str(VendorHTTPError("tax", 500, None, "boom")) == "tax: HTTP 500 boom"  # no code, no gap
