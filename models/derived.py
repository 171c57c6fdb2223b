"""What ksqlDB derives from the shop's streams and tables.

Each class declares the columns it produces and, in ``Meta.query``, the query that
produces them; `kctx validate` checks that the two agree and `kctx show ddl` prints
the CREATE … AS SELECT statements.
"""
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Optional

from kctx_cli.model import Int32, Key, Precision, Stream, Table
from kctx_cli.query import Tumbling, count, hours, latest_by_offset, minutes, select, sum_

from models.customers import Customer
from models.orders import Order
from models.payments import Payment
from models.products import Product


class HighValueOrder(Stream):
    """Orders above 1,000 in any currency, for the fraud team."""

    order_id: Annotated[str, Key]
    customer_id: str
    amount: Annotated[Decimal, Precision(18, 4)]
    currency: str
    ordered_at: datetime

    class Meta:
        name = "HIGH_VALUE_ORDERS"
        topic = "high_value_orders"

        def query():
            return (
                select(Order.order_id, Order.customer_id, Order.amount, Order.currency, Order.ordered_at)
                .from_(Order)
                .where(Order.amount > 1000)
            )


class OrdersPerCustomerHourly(Table):
    """Orders and revenue per customer in one-hour windows."""

    customer_id: Annotated[str, Key]
    order_count: int
    total_amount: Annotated[Decimal, Precision(18, 4)]

    class Meta:
        name = "ORDERS_PER_CUSTOMER_HOURLY"
        topic = "orders_per_customer_hourly"

        def query():
            return (
                select(Order.customer_id, count().label("order_count"), sum_(Order.amount).label("total_amount"))
                .from_(Order)
                .window(Tumbling(hours(1), grace=minutes(10)))
                .group_by(Order.customer_id)
                .emit_changes()
            )


class LatestOrderPerCustomer(Table):
    """Each customer's most recent order."""

    customer_id: Annotated[str, Key]
    last_order_id: str
    last_amount: Annotated[Decimal, Precision(18, 4)]
    last_ordered_at: datetime

    class Meta:
        name = "LATEST_ORDER_PER_CUSTOMER"
        topic = "latest_order_per_customer"

        def query():
            return (
                select(
                    Order.customer_id,
                    latest_by_offset(Order.order_id).label("last_order_id"),
                    latest_by_offset(Order.amount).label("last_amount"),
                    latest_by_offset(Order.ordered_at).label("last_ordered_at"),
                )
                .from_(Order)
                .group_by(Order.customer_id)
            )


class EnrichedOrder(Stream):
    """Orders with the customer's and the product's details (a three-way join)."""

    # ksqlDB keys a multi-way join by its last join (ORDERS.PRODUCT_ID = PRODUCTS.PRODUCT_ID);
    # PRODUCT_ID and CUSTOMER_ID are columns of two sources each, so ksqlDB would name them
    # ORDERS_PRODUCT_ID and ORDERS_CUSTOMER_ID: the labels keep the plain names
    product_id: Annotated[str, Key]
    order_id: str
    customer_id: str
    customer_name: str
    tier: Int32
    product_name: str
    category: str
    quantity: Int32
    amount: Annotated[Decimal, Precision(18, 4)]

    class Meta:
        name = "ENRICHED_ORDERS"
        topic = "enriched_orders"

        def query():
            return (
                select(
                    Order.product_id.label("product_id"),
                    Order.order_id,
                    Order.customer_id.label("customer_id"),
                    Customer.name.label("customer_name"),
                    Customer.tier,
                    Product.name.label("product_name"),
                    Product.category,
                    Order.quantity,
                    Order.amount,
                )
                .from_(Order)
                .join(Customer, on=Order.customer_id == Customer.customer_id)
                .join(Product, on=Order.product_id == Product.product_id)
            )


class PaidOrder(Stream):
    """Orders paid within an hour of being placed (a stream-stream join)."""

    # ORDERS and PAYMENTS both have ORDER_ID and AMOUNT: labelled, else ksqlDB names them
    # ORDERS_ORDER_ID and ORDERS_AMOUNT
    order_id: Annotated[str, Key]
    customer_id: str
    amount: Annotated[Decimal, Precision(18, 4)]
    paid: Annotated[Decimal, Precision(18, 4)]
    method: str

    class Meta:
        name = "PAID_ORDERS"
        topic = "paid_orders"

        def query():
            return (
                select(Order.order_id.label("order_id"), Order.customer_id, Order.amount.label("amount"),
                       Payment.amount.label("paid"), Payment.method)
                .from_(Order)
                .join(Payment, on=Order.order_id == Payment.order_id, within=hours(1))
            )


class OrderByProduct(Stream):
    """Orders re-keyed by product, for per-product consumers."""

    product_id: Annotated[str, Key]
    order_id: str
    quantity: Int32
    coupon: Optional[str] = None

    class Meta:
        name = "ORDERS_BY_PRODUCT"
        topic = "orders_by_product"

        def query():
            return (
                select(Order.product_id, Order.order_id, Order.quantity, Order.coupon)
                .from_(Order)
                .partition_by(Order.product_id)
            )
