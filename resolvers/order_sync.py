"""What each downstream system does with a placed order (run by `bezel worker` from the order stream).

Every call is keyed by our order id, so a redelivered entry never makes a second sales order,
shipment, event or policy. The ERP's acknowledgement turns the order's stock hold into the ERP's own
deduction: the reservation is committed and the ERP's numbers carry the stock from then on.
"""

from __future__ import annotations

from connectors.checkout import CheckoutStore
from connectors.errors import OrderNotSyncable
from connectors.models import DownstreamSystem, Order
from connectors.policy import CallScope, Deadline
from connectors.vendors import Vendors


async def sync(vendors: Vendors, store: CheckoutStore, system: DownstreamSystem, order: Order,
               scope: CallScope | None = None) -> None:
    """Send `order` to `system`; raises `VendorError`/`VendorUnavailable` if it must be retried."""
    scope = scope or CallScope(deadline=Deadline.after_ms(vendors.policies[system.vendor].config.timeout_ms))
    if system is DownstreamSystem.ERP:
        await vendors.call(vendors.erp.sales_order(order), scope)
        await store.stock.commit(order.reservation_id)
    elif system is DownstreamSystem.WMS:
        await vendors.call(vendors.wms.fulfillment_order(order), scope)
    elif system is DownstreamSystem.CRM:
        await vendors.call(vendors.crm.order_placed(order), scope)
    elif system is DownstreamSystem.INSURANCE:
        if not order.insurance_quote_token:
            raise OrderNotSyncable(f"order {order.id} has no insurance quote to bind")
        await vendors.call(vendors.insurance.bind_policy(order_id=order.id, quote_token=order.insurance_quote_token,
                                                         email=order.email), scope)
    else:  # pragma: no cover - every member is handled above
        raise OrderNotSyncable(f"no downstream system {system!r}")
