"""Payments; records the payment service cannot process go to a dead-letter queue."""
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from kctx_cli.model import Key, Precision, Stream


class Payment(Stream):
    """A payment for an order."""

    payment_id: Annotated[str, Key]
    order_id: str
    amount: Annotated[Decimal, Precision(18, 4)]
    method: str
    paid_at: datetime

    class Meta:
        name = "PAYMENTS"
        topic = "payments"
        partitions = 6
        dlq = True  # payments-dlq, see `kctx dlq`
