"""Buy-now-pay-later connector: Affirm promos (cents) and Afterpay configuration (decimal strings).

Affirm answers "as low as" terms for an amount: `GET /affirm/api/promos/v2/{public_key}?amount=<cents>`.
Afterpay publishes only its min/max order amounts (`GET /afterpay/v2/configuration`); the offer,
4 interest-free payments every two weeks, is computed here from them, so the configuration can be
cached for every price.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_UP, Decimal
from typing import Any

from connectors import payload as p
from connectors.http import ProviderError, VendorCall, VendorRequest
from connectors.models import FinancingOffer, InstallmentInterval, Money, Vendor

VENDOR = Vendor.BNPL
PROVIDERS = ("affirm", "afterpay")
AFTERPAY_INSTALLMENTS = 4


@dataclass(frozen=True, slots=True)
class AfterpayConfig:
    minimum: Money
    maximum: Money


def auth_headers(api_key: str | None) -> dict[str, str]:
    # Affirm's promos endpoint is public (the key is in the path); Afterpay uses basic auth.
    return {"authorization": f"Basic {api_key}"} if api_key else {}


def read_error(status: int, body: Any) -> ProviderError:
    data = p.obj(body)
    if "errorCode" in data:  # Afterpay
        return ProviderError(code=str(data["errorCode"]), message=str(data.get("message", "")))
    return ProviderError(code=str(data.get("code")), message=str(data.get("message", "")))


class BnplAPI:
    def __init__(self, *, affirm_public_key: str) -> None:
        self.affirm_public_key = affirm_public_key

    def affirm_offers(self, amount: Money) -> VendorCall[tuple[FinancingOffer, ...]]:
        request = VendorRequest(
            "GET",
            f"/affirm/api/promos/v2/{self.affirm_public_key}",
            params={"amount": str(amount.minor), "show_apr": "true", "page_type": "product"},
        )

        def parse(data: Any) -> tuple[FinancingOffer, ...]:
            promo = p.opt_obj(data, "promo")
            if promo is None:  # amount outside Affirm's range
                return ()
            message = p.text(promo, "ala_message")
            offers = []
            for term in p.seq(data, "terms"):
                months = p.integer(term, "term_length")
                installment = Money.from_minor(p.integer(term, "installment_cents"), p.text(term, "currency"))
                offers.append(
                    FinancingOffer(
                        provider="affirm",
                        installments=months,
                        interval=InstallmentInterval.MONTH,
                        apr=p.decimal(term, "apr"),
                        installment_amount=installment,
                        total_cost=Money.from_minor(p.integer(term, "total_cents"), p.text(term, "currency")),
                        message=message if months == p.integer(promo, "term_length")
                        else f"{months} payments of ${installment.amount:,} with Affirm",
                    )
                )
            return tuple(offers)

        return VendorCall(VENDOR, "bnpl.affirm_promos", request, parse, result_type=tuple[FinancingOffer, ...])

    def afterpay_configuration(self) -> VendorCall[AfterpayConfig]:
        def parse(data: Any) -> AfterpayConfig:
            low, high = p.obj(data, "minimumAmount"), p.obj(data, "maximumAmount")
            return AfterpayConfig(
                minimum=Money.of(p.decimal(low, "amount"), p.text(low, "currency")),
                maximum=Money.of(p.decimal(high, "amount"), p.text(high, "currency")),
            )

        request = VendorRequest("GET", "/afterpay/v2/configuration")
        return VendorCall(VENDOR, "bnpl.afterpay_configuration", request, parse, result_type=AfterpayConfig)


def afterpay_offer(config: AfterpayConfig, amount: Money) -> FinancingOffer | None:
    """Afterpay's offer for `amount`, or None outside its limits or currency."""
    if amount.currency != config.minimum.currency:
        return None
    if not config.minimum.amount <= amount.amount <= config.maximum.amount:
        return None
    installment = (amount.amount / AFTERPAY_INSTALLMENTS).quantize(Decimal("0.01"), rounding=ROUND_UP)
    payment = Money.of(installment, amount.currency)
    return FinancingOffer(
        provider="afterpay",
        installments=AFTERPAY_INSTALLMENTS,
        interval=InstallmentInterval.TWO_WEEKS,
        apr=Decimal(0),
        installment_amount=payment,
        total_cost=amount,
        message=f"or 4 interest-free payments of ${payment.amount:,} with Afterpay",
    )
