"""Errors below the gateway: those safe to show a client, and those of talking to vendors and Redis.

    Exception
    ├── PublicError              safe to show a client: a `code`, a message we wrote, `extensions`
    │   ├── InputError               BAD_USER_INPUT: the request itself is wrong (`field` says where)
    │   ├── VendorUnavailable        VENDOR_UNAVAILABLE: a vendor failed and nothing could stand in
    │   └── CheckoutUnavailable      CHECKOUT_UNAVAILABLE: the order store cannot be used right now
    ├── VendorError              a vendor call that did not give an answer (never shown as is)
    │   ├── VendorTimeout            no answer within the time we allowed
    │   ├── VendorConnectionError    refused, reset, or the connection broke mid-answer
    │   ├── VendorHTTPError          an error status we cannot blame on the request
    │   │   └── VendorRateLimited    429, with the vendor's Retry-After when it sent one
    │   ├── VendorBadResponse        the body was not JSON, or not the shape the API documents
    │   ├── VendorRejectedInput      the vendor refused our input (4xx with a reason): becomes an InputError
    │   └── NotCalled                the call was never sent, to spare a vendor that is struggling
    │       ├── CircuitOpen              the vendor's circuit breaker is open
    │       ├── BulkheadFull             the vendor already has `max_concurrency` calls in flight
    │       ├── BackingOff               the vendor answered 429 and its Retry-After has not passed
    │       └── OverQuota                this request has sent its share of calls to the vendor
    └── OrderNotSyncable         a stream entry that cannot be synced as it is (retrying will not help)

Connectors turn httpx, aiohttp and redis exceptions into these `from exc`; the call policy turns a
`VendorError` into `VendorUnavailable` (or a stale answer); `schema/` shows `PublicError`s and masks
everything else. Messages of `VendorError`s, and a `CheckoutUnavailable`'s `detail`, may carry vendor
or Redis detail for logs; they never reach a client.
"""

from __future__ import annotations

from typing import Any

from connectors.models.values import Outcome


class PublicError(Exception):
    """An error whose message and extensions a client may see."""

    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **extensions: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = extensions

    @property
    def extensions(self) -> dict[str, Any]:
        # graphql-core copies `original_error.extensions` onto the GraphQLError it builds.
        return {"code": self.code, **self.details}


class InputError(PublicError):
    code = "BAD_USER_INPUT"

    def __init__(self, message: str, *, field: str | None = None, **extensions: Any) -> None:
        if field is not None:
            extensions["field"] = field
        super().__init__(message, **extensions)
        self.field = field


class VendorUnavailable(PublicError):
    code = "VENDOR_UNAVAILABLE"

    def __init__(self, vendor: str, outcome: Outcome) -> None:
        super().__init__(
            f"The {vendor} service did not answer in time and no earlier answer could stand in.",
            vendor=vendor,
            outcome=outcome,
        )
        self.vendor = vendor
        self.outcome = outcome


class CheckoutUnavailable(PublicError):
    """The order store (Redis) is down, slow or not configured. `detail` is for logs only."""

    code = "CHECKOUT_UNAVAILABLE"

    def __init__(self, message: str = "Checkout is unavailable right now; please try again shortly.", *,
                 detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.message} ({self.detail})" if self.detail else self.message


class VendorError(Exception):
    """A failed vendor call. `outcome` is how it is reported in `extensions.vendors`."""

    outcome = Outcome.ERROR

    def __init__(self, vendor: str, message: str) -> None:
        super().__init__(f"{vendor}: {message}")
        self.vendor = vendor


class VendorTimeout(VendorError):
    outcome = Outcome.TIMEOUT


class VendorConnectionError(VendorError):
    pass


class VendorHTTPError(VendorError):
    def __init__(self, vendor: str, status: int, code: str | None, message: str) -> None:
        super().__init__(vendor, " ".join(part for part in (f"HTTP {status}", code, message) if part))
        self.status = status
        self.code = code


class VendorRateLimited(VendorHTTPError):
    def __init__(self, vendor: str, code: str | None, message: str, retry_after_s: float | None) -> None:
        super().__init__(vendor, 429, code, message)
        self.retry_after_s = retry_after_s


class VendorBadResponse(VendorError):
    pass


class VendorRejectedInput(VendorError):
    """The vendor said our request was invalid.

    `field` names the domain field it blames (e.g. "zip"); `public_message` is ours, safe to show.
    """

    outcome = Outcome.BAD_INPUT

    def __init__(self, vendor: str, message: str, *, field: str | None, public_message: str,
                 code: str | None = None) -> None:
        super().__init__(vendor, message)
        self.field = field
        self.public_message = public_message
        self.code = code  # the provider's reason, e.g. Stripe's decline code

    def to_input_error(self, argument: str) -> InputError:
        """The client-facing error, blaming `argument` (e.g. "shipTo") or one of its fields."""
        field = f"{argument}.{self.field}" if self.field else argument
        return InputError(self.public_message, field=field, vendor=self.vendor)


class NotCalled(VendorError):
    """The call was not sent: the policy is sparing a vendor that cannot take it now."""

    outcome = Outcome.REJECTED


class CircuitOpen(NotCalled):
    outcome = Outcome.CIRCUIT_OPEN


class BulkheadFull(NotCalled):
    pass


class BackingOff(NotCalled):
    pass


class OverQuota(NotCalled):
    pass


class OrderNotSyncable(Exception):
    """The entry cannot be synced as it is (no such order, missing data): retrying will not help."""
