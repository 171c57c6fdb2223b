"""Entities the query tests build queries over (imported, not discovered)."""
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional

from kctx_cli.model import Int32, Key, Precision, Stream, Struct, Table


class Address(Struct):
    street: str
    city: str


class Order(Stream):
    order_id: Annotated[str, Key]
    customer_id: str
    product_id: str
    quantity: Int32
    amount: Annotated[Decimal, Precision(18, 4)]
    price: float
    currency: str
    ordered_at: datetime
    note: Optional[str] = None

    class Meta:
        name = "ORDERS"
        topic = "orders"


class Payment(Stream):
    payment_id: Annotated[str, Key]
    order_id: str
    paid: Annotated[Decimal, Precision(10, 2)]

    class Meta:
        name = "PAYMENTS"


class Shipment(Stream):
    shipment_id: Annotated[str, Key]
    order_id: str
    carrier: str

    class Meta:
        name = "SHIPMENTS"


class Customer(Table):
    customer_id: Annotated[str, Key]
    name: str
    tier: Int32
    region_id: str
    address: Optional[Address] = None

    class Meta:
        name = "CUSTOMERS"


class Region(Table):
    region_id: Annotated[str, Key]
    label: str

    class Meta:
        name = "REGIONS"
