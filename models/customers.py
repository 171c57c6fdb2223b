"""Customers: one row per customer, latest state wins (a ksqlDB TABLE)."""
from datetime import datetime
from typing import Annotated, Optional

from kctx_cli.model import Doc, Int32, Key, Struct, Table


class Address(Struct):
    """A postal address."""

    street: str
    city: str
    postcode: str
    country: Annotated[str, Doc("ISO 3166-1 alpha-2 code")]


class Customer(Table):
    """A registered customer of the shop."""

    customer_id: Annotated[str, Key]
    name: str
    email: str
    tier: Annotated[Int32, Doc("loyalty tier, 0 = none")] = 0
    address: Optional[Address] = None
    registered_at: datetime

    class Meta:
        name = "CUSTOMERS"
        topic = "customers"
        partitions = 6
        configs = {"min.compaction.lag.ms": 3600000}
