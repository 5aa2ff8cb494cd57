"""What each downstream system does with a placed order (run by `bezel worker` from the order stream).

Every call is keyed by our order id, so a redelivered entry never makes a second sales order,
shipment, event or policy. The ERP's acknowledgement turns the order's stock hold into the ERP's own
deduction: the reservation is committed and the ERP's numbers carry the stock from then on.
"""

from __future__ import annotations

from connectors.checkout import CheckoutStore
from connectors.models import Order
from connectors.policy import CallScope, Deadline
from resolvers.context import Services

SYSTEMS = ("erp", "wms", "crm", "insurance")


class NotSyncable(Exception):
    """The entry cannot be synced as it is (no such order, missing data): retrying will not help."""


async def sync(services: Services, store: CheckoutStore, system: str, order: Order, scope: CallScope | None = None
               ) -> None:
    """Send `order` to `system`; raises `VendorError`/`VendorUnavailable` if it must be retried."""
    vendors = services.vendors
    policy = vendors.policies[system]
    scope = scope or CallScope(deadline=Deadline.after_ms(policy.config.timeout_ms))
    if system == "erp":
        await policy.run(vendors.erp.sales_order(order), scope)
        await store.commit(order.reservation_id)
    elif system == "wms":
        await policy.run(vendors.wms.fulfillment_order(order), scope)
    elif system == "crm":
        await policy.run(vendors.crm.order_placed(order), scope)
    elif system == "insurance":
        if not order.insurance_quote_token:
            raise NotSyncable(f"order {order.id} has no insurance quote to bind")
        await policy.run(vendors.insurance.bind_policy(order_id=order.id, quote_token=order.insurance_quote_token,
                                                       email=order.email), scope)
    else:
        raise NotSyncable(f"no downstream system {system!r}")
