"""The product catalogue (a ksqlDB TABLE keyed by product id)."""
from decimal import Decimal
from typing import Annotated, Optional

from kctx_cli.model import Key, Precision, Table


class Product(Table):
    """A product that can be ordered."""

    product_id: Annotated[str, Key]
    name: str
    category: str
    price: Annotated[Decimal, Precision(10, 2)]
    tags: list[str]
    attributes: dict[str, str]
    discontinued: bool = False
    description: Optional[str] = None

    class Meta:
        name = "PRODUCTS"
        topic = "products"
        partitions = 6
