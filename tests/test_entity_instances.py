"""Entity instances (issue 14 step 1): constructible and comparable like keyword
dataclasses, validated on construction; on the class, attributes stay DSL columns."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Optional

import pytest

from kctx_cli.errors import KctxError
from kctx_cli.model import Doc, Float32, Ignore, Int32, Key, Precision, Stream, Struct, Table
from kctx_cli.model.instance import EntityValueError
from kctx_cli.query.expr import Column

UTC = dt.timezone.utc


class Geo(Struct):
    lat: float
    lon: float


class Address(Struct):
    street: str
    city: str
    geo: Optional[Geo] = None


class Order(Stream):
    """An order."""

    order_id: Annotated[uuid.UUID, Key]
    customer_id: str
    quantity: Int32
    amount: Annotated[Decimal, Precision(18, 4), Doc("total")]
    currency: str = "EUR"
    ordered_at: dt.datetime
    coupon: Optional[str] = None
    tags: list[str] = []
    attrs: dict[str, Optional[int]] = {}
    ship_to: Optional[Address] = None
    day: Optional[dt.date] = None
    at: Optional[dt.time] = None
    weight: Optional[Float32] = None
    blob: Optional[bytes] = None
    urgent: bool = False
    session: Annotated[str, Ignore] = ""

    class Meta:
        topic = "orders"


class Customer(Table):
    customer_id: Annotated[str, Key]
    name: str


NOW = dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
OID = uuid.UUID("12345678-1234-5678-1234-567812345678")


def order(**kw) -> Order:
    base = dict(order_id=OID, customer_id="c-1", quantity=2, amount=Decimal("12.5"), ordered_at=NOW)
    base.update(kw)
    return Order(**base)


def test_class_attributes_stay_dsl_columns():
    o = order()
    assert isinstance(Order.amount, Column)
    assert isinstance(Order.ship_to.city.__class__, type)  # Deref, still an expression
    assert o.amount == Decimal("12.5")
    assert isinstance(Order.amount, Column)  # an instance never changes the class
    assert repr(Order.amount > 1000).startswith("BinaryOp") or (Order.amount > 1000) is not None


def test_defaults_optional_and_mutable_defaults_are_per_instance():
    a, b = order(), order()
    assert a.currency == "EUR" and a.coupon is None and a.tags == [] and a.attrs == {} and a.urgent is False
    a.tags.append("x")
    assert b.tags == []  # the default list is copied per instance
    assert Order._kctx_defaults["tags"] == []


def test_equality_and_repr():
    assert order() == order()
    assert order() != order(quantity=3)
    assert order() != "not an order"
    assert order(session="web-1") == order(session="web-2")  # ignored fields take no part
    assert order(session="web-1").session == "web-1"
    r = repr(order())
    assert r.startswith("Order(order_id=UUID('12345678-1234-5678-1234-567812345678'), customer_id='c-1'")
    with pytest.raises(TypeError):
        hash(order())


def test_positional_arguments_in_declaration_order():
    c = Customer("c-1", "Ada")
    assert (c.customer_id, c.name) == ("c-1", "Ada")
    assert Customer("c-1", name="Ada") == c
    with pytest.raises(EntityValueError, match=r"^Customer\(\) takes 2 positional arguments"):
        Customer("a", "b", "c")
    with pytest.raises(EntityValueError, match="given both positionally and by keyword"):
        Customer("a", customer_id="b")


def test_nested_structs_from_instances_or_dicts():
    a = order(ship_to=Address(street="Main 1", city="Paris", geo=Geo(lat=1, lon=2.5)))
    b = order(ship_to={"street": "Main 1", "city": "Paris", "geo": {"lat": 1.0, "lon": 2.5}})
    assert a == b
    assert isinstance(b.ship_to, Address) and isinstance(b.ship_to.geo, Geo)
    assert a.ship_to.geo.lat == 1.0 and isinstance(a.ship_to.geo.lat, float)
    assert a._asdict()["ship_to"] == {"street": "Main 1", "city": "Paris", "geo": {"lat": 1.0, "lon": 2.5}}
    with pytest.raises(EntityValueError, match=r"^Order.ship_to: Address: missing required field\(s\) city$"):
        order(ship_to={"street": "x"})
    with pytest.raises(EntityValueError, match=r"^Order.ship_to: expected Address \(or a dict of its fields\)"):
        order(ship_to=Geo(lat=1, lon=2))


def test_normalisation_for_round_trips():
    o = order(order_id=str(OID), tags=("a", "b"), at=dt.time(1, 2, 3, 456789), blob=bytearray(b"\x00"))
    assert o.order_id == OID and isinstance(o.order_id, uuid.UUID)
    assert o.ordered_at == NOW.replace(microsecond=123000)  # timestamp-millis
    assert o.at == dt.time(1, 2, 3, 456000)  # time-millis
    assert o.tags == ["a", "b"] and o.blob == b"\x00" and type(o.blob) is bytes
    assert order(amount=12).amount == Decimal(12)
    d = order(amount=Decimal("1.230000")).amount  # trailing zeros beyond the scale are dropped exactly
    assert d == Decimal("1.23") and d.as_tuple().exponent == -4
    # another zone is kept, and equal to the same instant in UTC
    cet = dt.timezone(dt.timedelta(hours=1))
    assert order(ordered_at=NOW.astimezone(cet)) == order()


@pytest.mark.parametrize("kw, message", [
    ({"amount": Decimal("1.23456")}, "Order.amount: 1.23456 has more than 4 decimal places (DECIMAL(18, 4))"),
    ({"amount": Decimal("123456789012345.5")}, "Order.amount: 123456789012345.5 has more than 18 digits at scale 4"),
    ({"amount": 1.5}, "Order.amount: 1.5 is a float: use Decimal('...') so the value is exact (DECIMAL(18, 4))"),
    ({"amount": Decimal("NaN")}, "Order.amount: NaN is not a finite number"),
    ({"amount": "12.5"}, "Order.amount: expected Decimal (DECIMAL(18, 4)), got str '12.5'"),
    ({"quantity": 2**31}, "Order.quantity: 2147483648 is out of range for INT (-2147483648..2147483647)"),
    ({"quantity": True}, "Order.quantity: expected int (INT), got bool True"),
    ({"quantity": 2.0}, "Order.quantity: expected int (INT), got float 2.0"),
    ({"urgent": 1}, "Order.urgent: expected bool (BOOLEAN), got int 1"),
    ({"customer_id": 7}, "Order.customer_id: expected str (STRING), got int 7"),
    ({"customer_id": None}, "Order.customer_id: None is not allowed: the field is not Optional"),
    ({"order_id": "nope"}, "Order.order_id: 'nope' is not a UUID"),
    ({"ordered_at": dt.datetime(2026, 1, 1)}, "Order.ordered_at: datetime 2026-01-01T00:00:00 is naive"),
    ({"ordered_at": dt.date(2026, 1, 1)}, "Order.ordered_at: expected a timezone-aware datetime"),
    ({"day": NOW}, "Order.day: expected a date (DATE), got datetime"),
    ({"at": dt.time(1, tzinfo=UTC)}, "Order.at: time 01:00:00+00:00 has a timezone"),
    ({"tags": "abc"}, "Order.tags: expected a list (ARRAY), got str 'abc'"),
    ({"tags": ["a", None]}, "Order.tags: [1]: None is not allowed"),
    ({"attrs": {"a": "x"}}, "Order.attrs: ['a']: expected int (BIGINT), got str 'x'"),
    ({"attrs": {1: 2}}, "Order.attrs: map key 1 is not a str"),
    ({"blob": "text"}, "Order.blob: expected bytes (BYTES), got str 'text'"),
    ({"weight": "1"}, "Order.weight: expected float (DOUBLE), got str '1'"),
    ({"nope": 1}, "Order: unknown field(s) nope (fields: order_id, customer_id"),
])
def test_bad_values_are_one_clear_error(kw, message):
    with pytest.raises(EntityValueError) as ei:
        order(**kw)
    assert str(ei.value).startswith(message), str(ei.value)
    assert "\n" not in str(ei.value)
    assert isinstance(ei.value, KctxError) and isinstance(ei.value, ValueError)


def test_nullable_accepts_none_and_map_values_may_be_null():
    o = order(coupon=None, attrs={"a": None, "b": 2})
    assert o.attrs == {"a": None, "b": 2}


def test_missing_required_fields_are_listed():
    with pytest.raises(EntityValueError, match=r"^Order: missing required field\(s\) order_id, customer_id, "
                                               r"quantity, amount, ordered_at$"):
        Order()


def test_unsupported_and_abstract_models_refuse_instances():
    class Bad(Stream):
        x: complex

    with pytest.raises(EntityValueError, match=r"^Bad.x: the field type is not supported"):
        Bad(x=1j)

    class Base(Stream):
        id: Annotated[str, Key]

        class Meta:
            abstract = True

    with pytest.raises(EntityValueError, match="Base is abstract"):
        Base(id="x")


def test_derived_entities_are_constructible_too():
    from kctx_cli.query import select

    class BigOrder(Stream):
        order_id: Annotated[uuid.UUID, Key]
        amount: Annotated[Decimal, Precision(18, 4)]

        class Meta:
            def query():
                return select(Order.order_id, Order.amount).from_(Order).where(Order.amount > 1000)

    h = BigOrder(order_id=OID, amount=Decimal("1500"))
    assert BigOrder.__kctx__.derived and h.amount == Decimal(1500)
    assert isinstance(BigOrder.amount, Column)


def _sample_values(rnd):
    """Values for Order's checked fields, valid and not, near every inline test's edges."""
    zones = [UTC, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone.utc, None]
    exps = [0, -1, -2, -4, -5, 3]
    return {
        "quantity": rnd.choice([0, 1, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, True, 2.0, None]),
        "amount": rnd.choice([
            Decimal((rnd.randint(0, 1), tuple(rnd.randint(0, 9) for _ in range(rnd.randint(1, 20))),
                     rnd.choice(exps))),
            Decimal("99999999999999.9999"), Decimal("-100000000000000.0000"), Decimal("0E-4"), Decimal("-0.0001"),
            Decimal("NaN"), Decimal("-Infinity"), rnd.randint(-10**15, 10**15), 1.5, "1", None]),
        "ordered_at": rnd.choice([
            dt.datetime(2026, 1, 2, 3, 4, 5, rnd.choice([0, 1000, 999, 123456, 999999]), tzinfo=rnd.choice(zones)),
            dt.date(2026, 1, 2), "2026-01-02", None]),
        "customer_id": rnd.choice(["c", "", 7, None]),
        "order_id": rnd.choice([OID, str(OID), "x", None]),
    }


def _outcome(build):
    try:
        o = build()
    except EntityValueError as exc:
        return "error", str(exc)
    return "ok", {k: (v, v.as_tuple() if isinstance(v, Decimal) else type(v)) for k, v in o.__dict__.items()}


def test_the_generated_init_and_the_general_one_agree():
    """Keyword construction runs the generated __init__ (inline tests for the common valid
    values); positional construction runs the general ``init``: on generated values both
    raise the same message or store the same values (Decimal exponents included)."""
    import random

    rnd = random.Random(14)
    first = [f.name for f in Order.__kctx__.fields][:4]  # order_id ... amount, all required
    outcomes = []
    for _ in range(3000):
        kw = dict(order_id=OID, customer_id="c-1", quantity=2, amount=Decimal("12.5"), ordered_at=NOW)
        kw.update({k: v for k, v in _sample_values(rnd).items() if rnd.random() < 0.3})
        by_keyword = _outcome(lambda: Order(**kw))
        by_position = _outcome(lambda: Order(*[kw[n] for n in first], **{k: v for k, v in kw.items()
                                                                         if k not in first}))
        assert by_keyword == by_position, kw
        outcomes.append(by_keyword[0])
    assert 600 < outcomes.count("ok") < 2400, outcomes.count("ok")  # both outcomes well represented
