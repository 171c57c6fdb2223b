"""Avro schemas derived from models: every field type, nullability, defaults, structs,
keys, determinism, ksqlDB-style schemas of derived entities, the problems `validate`
gets from `kctx_cli.avro.schema.check`, and the `schema compat` / `show avro` CLI."""
from __future__ import annotations

import json

import fastavro
import pytest

from kctx_cli.avro.schema import SchemaError, check, key_schema, schema_json, value_schema
from kctx_cli.config import load_config
from kctx_cli.model.discovery import load_project
from tests.helpers import make_project, run_kctx

HEAD = """\
from datetime import date, datetime, time, timezone, timedelta
from decimal import Decimal
from typing import Annotated, Optional
from uuid import UUID
from kctx_cli.model import Doc, Float32, Ignore, Int32, Key, Precision, Stream, Struct, Table
"""

TOML = """\
[project]
models = "models"
avro_namespace = "com.example.shop"
"""


def project(tmp_path, src: str, modules: dict | None = None):
    mods = {"shop.py": HEAD + src}
    mods.update(modules or {})
    make_project(tmp_path, mods, toml=TOML)
    return load_project(load_config(tmp_path))


def marked_line(src: str, marker: str = "# <-") -> int:
    for i, line in enumerate((HEAD + src).splitlines(), start=1):
        if marker in line:
            return i
    raise AssertionError("marker not found")


def fields_of(schema: dict) -> dict:
    return {f["name"]: f for f in schema["fields"]}


# ---------------------------------------------------------------------------
# source entities
# ---------------------------------------------------------------------------

ALL_TYPES = """
class Everything(Stream):
    \"\"\"One field of every type.\"\"\"
    id: Annotated[str, Key]
    flag: bool
    small: Int32
    big: int
    ratio: float
    ratio32: Float32
    text: str
    ident: UUID
    raw: bytes
    amount: Annotated[Decimal, Precision(18, 4)]
    at: datetime
    day: date
    clock: time
    tags: list[str]
    maybe_tags: list[Optional[int]]
    attrs: dict[str, float]
    hidden: Annotated[str, Ignore]
    class Meta:
        topic = "everything"
"""


def test_every_field_type(tmp_path):
    info = project(tmp_path, ALL_TYPES).get("Everything")
    schema = value_schema(info)
    assert schema["type"] == "record" and schema["name"] == "Everything"
    assert schema["namespace"] == "com.example.shop"
    assert schema["doc"] == "One field of every type."
    assert [(f["name"], f["type"]) for f in schema["fields"]] == [
        ("flag", "boolean"),
        ("small", "int"),
        ("big", "long"),
        ("ratio", "double"),
        ("ratio32", "float"),
        ("text", "string"),
        ("ident", {"type": "string", "logicalType": "uuid"}),
        ("raw", "bytes"),
        ("amount", {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 4}),
        ("at", {"type": "long", "logicalType": "timestamp-millis"}),
        ("day", {"type": "int", "logicalType": "date"}),
        ("clock", {"type": "int", "logicalType": "time-millis"}),
        ("tags", {"type": "array", "items": "string"}),
        ("maybe_tags", {"type": "array", "items": ["null", "long"]}),
        ("attrs", {"type": "map", "values": "double"}),
    ]  # the key is in the key schema, the ignored attribute nowhere
    fastavro.parse_schema(schema)
    assert key_schema(info) == "string"


def test_header_columns_are_not_in_the_value(tmp_path):
    info = project(tmp_path, """
from kctx_cli.model import Header

class Traced(Stream):
    id: Annotated[str, Key]
    trace: Annotated[bytes, Header("trace-id")]
    x: int
    class Meta:
        topic = "traced"
""").get("Traced")
    assert [f["name"] for f in value_schema(info)["fields"]] == ["x"]


def test_nullable_fields_and_docs(tmp_path):
    info = project(tmp_path, """
class Note(Stream):
    id: Annotated[str, Key]
    text: Optional[str] = None
    count: Optional[int]
    level: Optional[int] = 3
    memo: Annotated[Optional[str], Doc("free text")] = None
    class Meta:
        topic = "notes"
""").get("Note")
    f = fields_of(value_schema(info))
    assert f["text"] == {"name": "text", "type": ["null", "string"], "default": None}
    assert f["count"] == {"name": "count", "type": ["null", "long"], "default": None}
    # a non-null default must match the first union branch (Avro spec)
    assert f["level"] == {"name": "level", "type": ["long", "null"], "default": 3}
    assert f["memo"] == {"name": "memo", "type": ["null", "string"], "default": None, "doc": "free text"}


def test_defaults_are_converted_to_avro_json(tmp_path):
    info = project(tmp_path, """
class Address(Struct):
    street: str
    city: str = "Paris"

class Defaults(Stream):
    id: Annotated[str, Key]
    flag: bool = True
    small: Int32 = -5
    ratio: float = 1
    text: str = "hé"
    ident: UUID = UUID("12345678-1234-5678-1234-567812345678")
    raw: bytes = b"\\x00\\xff"
    amount: Annotated[Decimal, Precision(10, 2)] = Decimal("-1.5")
    big_amount: Annotated[Decimal, Precision(10, 2)] = Decimal("1234.56")
    at: datetime = datetime(2024, 1, 1, 1, 0, tzinfo=timezone(timedelta(hours=1)))
    naive_at: datetime = datetime(1970, 1, 1, 0, 0, 1)
    day: date = date(1970, 1, 11)
    clock: time = time(1, 2, 3, 4000)
    tags: list[str] = ["a", "b"]
    attrs: dict[str, Optional[int]] = {"x": 1, "y": None}
    home: Address = {"street": "Main"}
    class Meta:
        topic = "defaults"
""").get("Defaults")
    schema = value_schema(info)
    d = {f["name"]: f["default"] for f in schema["fields"]}
    assert d == {
        "flag": True,
        "small": -5,
        "ratio": 1.0,
        "text": "hé",
        "ident": "12345678-1234-5678-1234-567812345678",
        "raw": "\x00\xff",  # Avro JSON: bytes as code points 0-255
        "amount": "\xff\x6a",  # unscaled -150, two's complement big-endian
        "big_amount": "\x01\xe2\x40",  # unscaled 123456
        "at": 1704067200000,  # 2024-01-01T00:00Z
        "naive_at": 1000,  # naive datetimes are UTC
        "day": 10,
        "clock": 3723004,
        "tags": ["a", "b"],
        "attrs": {"x": 1, "y": None},
        "home": {"street": "Main", "city": "Paris"},
    }
    fastavro.parse_schema(schema)
    # decoding the JSON default as Avro does gives the unscaled value back
    assert int.from_bytes(d["amount"].encode("latin-1"), "big", signed=True) == -150


BAD_DEFAULTS = {
    "int-type": ('count: int = "3"  # <-', "Bad.count: default '3' is not an int (BIGINT field)"),
    "int32-range": ("count: Int32 = 2**31  # <-", "Bad.count: default 2147483648 is out of range for INT (-2147483648..2147483647)"),
    "bool": ("flag: bool = 1  # <-", "Bad.flag: default 1 is not a bool (BOOLEAN field)"),
    "none-not-optional": ("note: str = None  # <-", "Bad.note: default None on a non-nullable field: declare it Optional[...]"),
    "decimal-places": ('amount: Annotated[Decimal, Precision(10, 2)] = Decimal("1.234")  # <-',
                       "Bad.amount: default Decimal('1.234') has more than 2 decimal places (DECIMAL(10, 2))"),
    "decimal-digits": ('amount: Annotated[Decimal, Precision(4, 2)] = Decimal("123.45")  # <-',
                       "Bad.amount: default Decimal('123.45') has more than 4 digits (DECIMAL(4, 2))"),
    "decimal-float": ("amount: Annotated[Decimal, Precision(10, 2)] = 1.5  # <-",
                      "Bad.amount: default 1.5 is a float: use Decimal('...') so the value is exact"),
    "nan": ('ratio: float = float("nan")  # <-',
            "Bad.ratio: default nan cannot be written as an Avro JSON default (NaN and infinity are not JSON)"),
    "uuid": ('ident: UUID = "not-a-uuid"  # <-', "Bad.ident: default 'not-a-uuid' is not a valid UUID"),
    "date-vs-datetime": ("day: date = datetime(2024, 1, 1)  # <-",
                         "Bad.day: default datetime.datetime(2024, 1, 1, 0, 0) is not a date (DATE field)"),
    "list-item": ('tags: list[str] = ["a", None]  # <-', "Bad.tags[1]: None is not allowed: the element type is not Optional"),
    "map-keys": ("attrs: dict[str, int] = {1: 2}  # <-", "Bad.attrs: default {1: 2} is not a dict with str keys (MAP field)"),
    "struct-missing": ("home: Address = {}  # <-", "Bad.home: default lacks struct field 'street' (it has no default)"),
    "struct-unknown": ('home: Address = {"street": "x", "zip": 1}  # <-', "Bad.home: default {'street': 'x', 'zip': 1} has unknown struct field(s) zip"),
    "struct-field-type": ('home: Address = {"street": 5}  # <-', "Bad.home.street: default 5 is not a str (STRING field)"),
    "bad-field-name": ("größe: int  # <-",
                       "Bad.größe: 'größe' is not a valid Avro field name (ASCII letters, digits and _, not starting with a digit)"),
}


@pytest.mark.parametrize("case", sorted(BAD_DEFAULTS))
def test_bad_defaults_and_names_are_validate_problems(tmp_path, case):
    line_src, message = BAD_DEFAULTS[case]
    src = f"""
class Address(Struct):
    street: str

class Bad(Stream):
    id: Annotated[str, Key]
    {line_src}
    class Meta:
        topic = "bad"
"""
    proj = project(tmp_path, src)
    problems = check(proj)
    assert [(p.file, p.line, p.message) for p in problems] == [
        ("models/shop.py", marked_line(src), message)
    ]
    assert problems[0].code in ("avro-bad-default", "avro-bad-name")
    with pytest.raises(SchemaError):
        value_schema(proj.get("Bad"))


def test_struct_defined_once_then_referenced(tmp_path):
    info = project(tmp_path, """
class Geo(Struct):
    lat: float
    lon: float

class Address(Struct):
    \"\"\"A postal address.\"\"\"
    street: Annotated[str, Doc("street and number")]
    geo: Optional[Geo] = None

class Customer(Table):
    id: Annotated[str, Key]
    home: Address
    work: Optional[Address] = None
    history: list[Address]
    spot: Geo
    class Meta:
        topic = "customers"
""").get("Customer")
    schema = value_schema(info)
    f = fields_of(schema)
    assert f["home"]["type"] == {
        "type": "record", "name": "Address", "doc": "A postal address.",
        "fields": [
            {"name": "street", "type": "string", "doc": "street and number"},
            {"name": "geo", "type": ["null", {"type": "record", "name": "Geo", "fields": [
                {"name": "lat", "type": "double"}, {"name": "lon", "type": "double"}]}], "default": None},
        ],
    }
    assert f["work"]["type"] == ["null", "Address"]
    assert f["history"]["type"] == {"type": "array", "items": "Address"}
    assert f["spot"]["type"] == "Geo"
    parsed = fastavro.parse_schema(schema)
    # the schema really works: a record round-trips through fastavro
    import io
    rec = {"home": {"street": "1 Main", "geo": {"lat": 1.0, "lon": 2.0}}, "work": None,
           "history": [{"street": "2 Side", "geo": None}], "spot": {"lat": 0.5, "lon": 0.25}}
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, parsed, rec)
    buf.seek(0)
    assert fastavro.schemaless_reader(buf, parsed) == rec


def test_two_structs_with_the_same_name_in_one_schema(tmp_path):
    src = """
from models import other

class Address(Struct):
    street: str

class Customer(Table):  # <-
    id: Annotated[str, Key]
    home: Address
    work: other.Address
    class Meta:
        topic = "customers"
"""
    proj = project(tmp_path, src, {"other.py": HEAD + "class Address(Struct):\n    zip: str\n"})
    assert [(p.line, p.code, p.message) for p in check(proj)] == [(
        marked_line(src), "avro-name-clash",
        "Customer: two different classes are named 'Address' in its Avro schema "
        "(models.shop.Address and models.other.Address); Avro record names must be unique: rename one",
    )]


def test_same_record_name_with_different_content_across_entities(tmp_path):
    src = """
from models import other

class Address(Struct):
    street: str

class Customer(Table):
    id: Annotated[str, Key]
    home: Address
    class Meta:
        topic = "customers"

class Supplier(Table):  # <-
    id: Annotated[str, Key]
    site: other.Address
    class Meta:
        topic = "suppliers"

class Shop(Table):
    id: Annotated[str, Key]
    home: Address  # same class again: no clash
    class Meta:
        topic = "shops"
"""
    proj = project(tmp_path, src, {"other.py": HEAD + "class Address(Struct):\n    zip: str\n"})
    assert [(p.line, p.code, p.message) for p in check(proj)] == [(
        marked_line(src), "avro-name-clash",
        "Avro record name 'com.example.shop.Address' in the Supplier value schema differs from the record "
        "of the same name in the Customer value schema: rename one of the classes or set Meta.namespace",
    )]


def test_namespace_from_meta_and_invalid_namespace(tmp_path):
    src = """
class A(Stream):
    id: Annotated[str, Key]
    x: int
    class Meta:
        topic = "a"
        namespace = "com.acme"

class B(Stream):
    id: Annotated[str, Key]
    x: int
    class Meta:
        topic = "b"
        namespace = "com.acme-shop"  # <-
"""
    proj = project(tmp_path, src)
    assert value_schema(proj.get("A"))["namespace"] == "com.acme"
    assert [(p.line, p.message) for p in check(proj)] == [(
        marked_line(src),
        "B: namespace 'com.acme-shop' is not a valid Avro namespace (dot-separated names of ASCII letters, digits and _)",
    )]


# ---------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------


def test_keys_single_composite_ordered_and_non_avro(tmp_path):
    proj = project(tmp_path, """
class One(Table):
    id: Annotated[UUID, Key]
    x: int
    class Meta:
        topic = "one"

class Two(Stream):
    region: Annotated[str, Key(order=2)]
    shop_id: Annotated[Int32, Key(order=1)]
    x: int
    class Meta:
        topic = "two"

class Plain(Stream):
    id: Annotated[str, Key]
    x: int
    class Meta:
        topic = "plain"
        key_format = "KAFKA"

class Keyless(Stream):
    x: int
    class Meta:
        topic = "keyless"
""")
    assert key_schema(proj.get("One")) == {"type": "string", "logicalType": "uuid"}
    assert key_schema(proj.get("Two")) == {
        "type": "record", "name": "TwoKey", "namespace": "com.example.shop", "doc": "Key of Two",
        "fields": [{"name": "shop_id", "type": "int"}, {"name": "region", "type": "string"}],
    }
    assert key_schema(proj.get("Plain")) is None
    assert key_schema(proj.get("Keyless")) is None


# ---------------------------------------------------------------------------
# derived entities: what ksqlDB registers
# ---------------------------------------------------------------------------

DERIVED = """
class Address(Struct):
    city: str

class Enriched(Stream):
    order_id: Annotated[str, Key]
    amount: Annotated[Decimal, Precision(18, 4)]
    placed_at: datetime
    ship_to: Optional[Address] = None
    lines: list[Address]
    attrs: dict[str, int]
    class Meta:
        topic = "enriched"
        def query():
            return None

class PerCustomer(Table):
    customer_id: Annotated[str, Key]
    day: Annotated[date, Key]
    total: float
    class Meta:
        topic = "per_customer"
        def query():
            return None
"""


def test_derived_value_schema_is_ksqldb_default(tmp_path):
    schema = value_schema(project(tmp_path, DERIVED).get("Enriched"))
    ns = "io.confluent.ksql.avro_schemas"
    addr = lambda name: {"type": "record", "name": name, "connect.name": f"{ns}.{name}",  # noqa: E731
                         "fields": [{"name": "CITY", "type": ["null", "string"], "default": None}]}
    assert schema == {
        "type": "record", "name": "KsqlDataSourceSchema", "namespace": ns,
        "connect.name": f"{ns}.KsqlDataSourceSchema",
        "fields": [
            {"name": "AMOUNT", "default": None, "type": ["null", {
                "type": "bytes", "scale": 4, "precision": 18, "connect.version": 1,
                "connect.parameters": {"scale": "4", "connect.decimal.precision": "18"},
                "connect.name": "org.apache.kafka.connect.data.Decimal", "logicalType": "decimal"}]},
            {"name": "PLACED_AT", "default": None, "type": ["null", {
                "type": "long", "connect.version": 1, "connect.name": "org.apache.kafka.connect.data.Timestamp",
                "logicalType": "timestamp-millis"}]},
            {"name": "SHIP_TO", "default": None, "type": ["null", addr("KsqlDataSourceSchema_SHIP_TO")]},
            {"name": "LINES", "default": None, "type": ["null", {
                "type": "array", "items": ["null", addr("KsqlDataSourceSchema_LINES")]}]},
            # ksqlDB's map keys are optional strings: Connect writes an array of MapEntry records
            {"name": "ATTRS", "default": None, "type": ["null", {
                "type": "array", "connect.name": f"{ns}.KsqlDataSourceSchema_ATTRS",
                "items": {"type": "record", "name": "KsqlDataSourceSchema_ATTRS",
                          "connect.internal.type": "MapEntry", "fields": [
                              {"name": "key", "type": ["null", "string"], "default": None},
                              {"name": "value", "type": ["null", "long"], "default": None}]}}]},
        ],
    }
    fastavro.parse_schema(schema)


def test_derived_keys(tmp_path):
    proj = project(tmp_path, DERIVED)
    assert key_schema(proj.get("Enriched")) == "string"  # one key column: unwrapped
    assert key_schema(proj.get("PerCustomer")) == {  # ksqlDB names key records <SourceCamel>Key
        "type": "record", "name": "PerCustomerKey", "namespace": "io.confluent.ksql.avro_schemas",
        "connect.name": "io.confluent.ksql.avro_schemas.PerCustomerKey",
        "fields": [
            {"name": "CUSTOMER_ID", "type": ["null", "string"], "default": None},
            {"name": "DAY", "type": ["null", {"type": "int", "connect.version": 1,
                                              "connect.name": "org.apache.kafka.connect.data.Date",
                                              "logicalType": "date"}], "default": None},
        ],
    }


def test_derived_fields_follow_the_query_column_order(tmp_path):
    info = project(tmp_path, """
from kctx_cli.query import select

class Order(Stream):
    order_id: Annotated[str, Key]
    amount: float
    note: str
    class Meta:
        topic = "orders"

class Copy(Stream):
    note: str
    order_id: Annotated[str, Key]
    amount: float
    class Meta:
        topic = "copy"
        def query():
            return select(Order.order_id, Order.amount, Order.note).from_(Order)
""").get("Copy")
    assert [f["name"] for f in value_schema(info)["fields"]] == ["AMOUNT", "NOTE"]  # as ksqlDB registers them


def test_derived_entities_share_the_ksql_name_without_a_clash(tmp_path):
    assert check(project(tmp_path, DERIVED)) == []


# ---------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------


def test_schema_json_is_sorted_and_keeps_field_order(tmp_path):
    info = project(tmp_path, ALL_TYPES).get("Everything")
    text = schema_json(value_schema(info))
    assert text.startswith('{"doc":"One field of every type.","fields":[{"name":"flag","type":"boolean"},')
    assert text == schema_json(value_schema(info))
    assert json.loads(text) == value_schema(info)


def test_show_avro_output_is_byte_identical_across_processes(tmp_path):
    make_project(tmp_path, {"shop.py": HEAD + ALL_TYPES + DERIVED}, toml=TOML)
    runs = [run_kctx("show", "avro", cwd=tmp_path, env={"PYTHONHASHSEED": seed}) for seed in ("1", "2")]
    assert [r.returncode for r in runs] == [0, 0]
    assert runs[0].stdout == runs[1].stdout
    assert runs[0].stdout.startswith("// everything-value\n{\n")
    assert "// enriched-value\n" in runs[0].stdout


def test_show_avro_one_entity_and_key(tmp_path):
    make_project(tmp_path, {"shop.py": HEAD + DERIVED}, toml=TOML)
    r = run_kctx("show", "avro", "PerCustomer", "--key", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    head, body = r.stdout.split("\n", 1)
    assert head == "// per_customer-key"
    assert json.loads(body)["fields"][0]["name"] == "CUSTOMER_ID"


def test_show_avro_unknown_entity(tmp_path):
    make_project(tmp_path, {"shop.py": HEAD + DERIVED}, toml=TOML)
    r = run_kctx("show", "avro", "Nope", cwd=tmp_path)
    assert (r.returncode, r.stderr.strip()) == (1, "error: no entity named 'Nope' (known: Enriched, PerCustomer)")


def test_show_avro_key_of_keyless_entity(tmp_path):
    make_project(tmp_path, {"shop.py": HEAD + "class Log(Stream):\n    x: int\n    class Meta:\n        topic = 'log'\n"},
                 toml=TOML)
    r = run_kctx("show", "avro", "Log", "--key", cwd=tmp_path)
    assert (r.returncode, r.stderr.strip()) == (1, "error: Log has no Avro key schema: it has no key")


# ---------------------------------------------------------------------------
# kctx schema compat
# ---------------------------------------------------------------------------

V1 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "int"}]}
V2 = {"type": "record", "name": "R", "fields": [{"name": "a", "type": "long"}, {"name": "b", "type": "string"}]}


@pytest.fixture
def avsc(tmp_path):
    def write(name, content):
        p = tmp_path / name
        p.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
        return name
    write("v1.avsc", V1)
    write("v2.avsc", V2)
    write("v2b.avsc", dict(V2, fields=[V2["fields"][0], dict(V2["fields"][1], default="")]))
    return write


def test_compat_compatible(tmp_path, avsc):
    r = run_kctx("schema", "compat", "v2b.avsc", "v1.avsc", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "compatible: v2b.avsc (BACKWARD, checked against 1 previous schema(s))\n")


def test_compat_level_none_checks_nothing(tmp_path, avsc):
    r = run_kctx("schema", "compat", "--level", "NONE", "v2.avsc", "v1.avsc", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, "compatible: v2.avsc (NONE, checked against 0 previous schema(s))\n")


def test_compat_incompatible_lists_reasons(tmp_path, avsc):
    r = run_kctx("schema", "compat", "--level", "FULL", "v2.avsc", "v1.avsc", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stdout.splitlines() == [
        "incompatible: v2.avsc (FULL):",
        "  - BACKWARD: new schema cannot read data written with v1.avsc: /fields/b: reader field 'b' "
        "has no default value and the writer has no such field",
        "  - FORWARD: v1.avsc cannot read data written with the new schema: /fields/a/type: type mismatch: "
        "reader expects int, writer has long",
    ]


def test_compat_json_output_and_transitive(tmp_path, avsc):
    avsc("v0.avsc", dict(V1, fields=[{"name": "a", "type": "int"}, {"name": "c", "type": "int"}]))
    r = run_kctx("schema", "compat", "-l", "forward_transitive", "-o", "json", "v2b.avsc", "v0.avsc", "v1.avsc",
                 cwd=tmp_path)
    assert r.returncode == 2
    out = json.loads(r.stdout)
    assert out["compatible"] is False and out["level"] == "FORWARD_TRANSITIVE"
    assert out["previous"] == ["v0.avsc", "v1.avsc"]
    assert [m.split(":")[1].strip() for m in out["messages"]] == ["v0.avsc cannot read data written with the new schema",
                                                                 "v0.avsc cannot read data written with the new schema",
                                                                 "v1.avsc cannot read data written with the new schema"]


BAD_INPUT = {
    "missing file": (["nope.avsc", "v1.avsc"], "error: nope.avsc: no such file"),
    "missing previous": (["v1.avsc", "gone.avsc"], "error: gone.avsc: no such file"),
    "invalid json": (["broken.avsc", "v1.avsc"], "error: broken.avsc: invalid JSON at line 2, column 9: Expecting ':' delimiter"),
    "unknown type": (["unknown.avsc", "v1.avsc"], "error: unknown.avsc: invalid Avro schema: unknown type 'integer'"),
    "no name": (["noname.avsc", "v1.avsc"],
                "error: noname.avsc: invalid Avro schema: \"name\" is a required field missing from the schema: "
                "{'type': 'record', 'fields': []}"),
    "not a schema": (["number.avsc", "v1.avsc"], "error: number.avsc: invalid Avro schema: expected a JSON object, array or type name, got 42"),
    "duplicate union branch": (["dup.avsc", "v1.avsc"], "error: dup.avsc: invalid Avro schema: union contains int twice"),
    "empty file": (["empty.avsc", "v1.avsc"], "error: empty.avsc: empty file, expected an Avro schema"),
    "directory": (["adir", "v1.avsc"], "error: adir: is a directory, not a .avsc file"),
    "unknown level": (["--level", "SIDEWAYS", "v2.avsc", "v1.avsc"],
                      "error: unknown compatibility level 'SIDEWAYS' (known: NONE, BACKWARD, BACKWARD_TRANSITIVE, "
                      "FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE)"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_compat_bad_input(tmp_path, avsc, case):
    avsc("broken.avsc", '{"type": "record",\n "name" "R", "fields": []}')
    avsc("unknown.avsc", {"type": "record", "name": "R", "fields": [{"name": "a", "type": "integer"}]})
    avsc("noname.avsc", {"type": "record", "fields": []})
    avsc("number.avsc", "42")
    avsc("dup.avsc", '["int", "int"]')
    avsc("empty.avsc", "  \n")
    (tmp_path / "adir").mkdir()
    args, message = BAD_INPUT[case]
    r = run_kctx("schema", "compat", *args, cwd=tmp_path)
    assert (r.returncode, r.stderr.strip(), r.stdout) == (1, message, "")
