"""Orders as they are placed (an append-only ksqlDB STREAM)."""
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional
from uuid import UUID

from kctx_cli.model import Doc, Ignore, Int32, Key, Precision, Stream


class Order(Stream):
    """An order placed in the shop."""

    order_id: Annotated[UUID, Key]
    customer_id: str
    product_id: str
    quantity: Int32
    amount: Annotated[Decimal, Precision(18, 4), Doc("total in the order currency")]
    currency: str = "EUR"
    ordered_at: datetime
    coupon: Optional[str] = None
    checkout_session: Annotated[str, Ignore] = ""  # kept by the web app only

    class Meta:
        name = "ORDERS"
        topic = "orders"
        partitions = 6
        timestamp = "ordered_at"
        configs = {"retention.ms": 604800000, "compression.type": "zstd"}
