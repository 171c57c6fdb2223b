"""Avro keys written by the services runtime (issue 14) on the real registry: the runtime
writes a key with fastavro under confluent-kafka's framing (``codec._avro_writer``), not
through ``AvroSerializer``; the bytes must be the serializer's, for every key type a model
can declare. Each model is migrated (so the key schema is the one kctx registers), then
generated keys — edge values first, then seeded random ones — are written; each key's
bytes must (1) carry the registered key schema's id, (2) decode with confluent-kafka's
``AvroDeserializer`` to a datum that ``AvroSerializer`` writes back to the same bytes, and
(3) decode, with the value, to an entity equal to the one written. Keys ksqlDB writes
(INSERT … VALUES into a stream of its own) are read as the same entities and, for one
column, have the body the runtime writes; ``ctx.table(...)`` gives every key type back."""
from __future__ import annotations

import datetime as dt
import json
import random
import re
import time
import uuid
from decimal import Decimal

import pytest

from tests.helpers import make_project, run_kctx

HEADER = """
from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Optional
from uuid import UUID

from kctx_cli.model import Float32, Int32, Key, Precision, Stream, Struct, Table


class Spot(Struct):
    x: Int32
    label: Optional[str] = None
"""

# model name -> (kind, its key field lines); each model also has a value field v
KEYS = {
    "KString": ("Table", ["k: Annotated[str, Key]"]),
    "KInt": ("Table", ["k: Annotated[Int32, Key]"]),
    "KBigint": ("Table", ["k: Annotated[int, Key]"]),
    "KDouble": ("Table", ["k: Annotated[float, Key]"]),
    "KFloat": ("Table", ["k: Annotated[Float32, Key]"]),
    "KBool": ("Table", ["k: Annotated[bool, Key]"]),
    "KDecimal": ("Table", ["k: Annotated[Decimal, Key, Precision(12, 3)]"]),
    "KUuid": ("Table", ["k: Annotated[UUID, Key]"]),
    "KTimestamp": ("Table", ["k: Annotated[datetime, Key]"]),
    "KDate": ("Table", ["k: Annotated[date, Key]"]),
    "KTime": ("Table", ["k: Annotated[time, Key]"]),
    "KBytes": ("Table", ["k: Annotated[bytes, Key]"]),
    "KStruct": ("Table", ["k: Annotated[Spot, Key]"]),
    "KTwo": ("Table", ["region: Annotated[str, Key]", "n: Annotated[int, Key]"]),
    "KNullable": ("Stream", ["k: Annotated[Optional[str], Key]"]),
}


def models_source(p: str) -> str:
    out = [HEADER]
    for name, (kind, keys) in KEYS.items():
        out.append(f"\n\nclass {name}({kind}):\n" + "".join(f"    {k}\n" for k in keys) + "    v: Int32\n\n"
                   f"    class Meta:\n        topic = '{p}_{name.lower()}'\n        name = '{p.upper()}_{name.upper()}'\n"
                   f"        key_format = 'AVRO'\n        partitions = 1\n")
    return "".join(out)


UTC = dt.timezone.utc


def _text(r: random.Random) -> str:
    alphabet = "aZ09 -_é€😀\x00\n"
    return "".join(r.choice(alphabet) for _ in range(r.randrange(0, 12)))


def key_values(name: str, cls_of, r: random.Random, n: int) -> list[dict]:
    """The key fields of ``n`` entities of model ``name``: edge values, then random ones."""
    edges = {
        "KString": ["", "x", "é€😀", "a" * 300],
        "KInt": [0, -1, 2 ** 31 - 1, -2 ** 31],
        "KBigint": [0, -1, 2 ** 63 - 1, -2 ** 63],
        "KDouble": [0.0, -0.0, 1e308, -2.5e-308, 0.1],
        "KFloat": [0.0, 1.5, -3.25],
        "KBool": [True, False],
        "KDecimal": [Decimal("0.000"), Decimal("-999999999.999"), Decimal("999999999.999"), Decimal("0.001")],
        "KUuid": [uuid.UUID(int=0), uuid.UUID(int=2 ** 128 - 1)],
        "KTimestamp": [dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
                       dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)],
        "KDate": [dt.date(1970, 1, 1), dt.date(1, 1, 1), dt.date(9999, 12, 31)],
        "KTime": [dt.time(0, 0), dt.time(23, 59, 59, 999000)],
        "KBytes": [b"", b"\x00", bytes(range(256))],
        "KNullable": [None, ""],
    }
    Spot = cls_of("Spot")

    def random_one():
        return {
            "KString": lambda: _text(r),
            "KInt": lambda: r.randrange(-2 ** 31, 2 ** 31),
            "KBigint": lambda: r.randrange(-2 ** 63, 2 ** 63),
            "KDouble": lambda: r.uniform(-1e12, 1e12),
            "KFloat": lambda: float(r.randrange(-2 ** 20, 2 ** 20)) / 8,
            "KBool": lambda: r.random() < 0.5,
            "KDecimal": lambda: Decimal(r.randrange(-10 ** 12 + 1, 10 ** 12)).scaleb(-3),
            "KUuid": lambda: uuid.UUID(int=r.getrandbits(128)),
            "KTimestamp": lambda: dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(
                milliseconds=r.randrange(-2 ** 40, 2 ** 40)),
            "KDate": lambda: dt.date(1, 1, 1) + dt.timedelta(days=r.randrange(0, 3_652_000)),
            "KTime": lambda: (dt.datetime(2000, 1, 1) + dt.timedelta(milliseconds=r.randrange(0, 86_400_000))).time(),
            "KBytes": lambda: r.randbytes(r.randrange(0, 40)),
            "KStruct": lambda: Spot(x=r.randrange(-2 ** 31, 2 ** 31), label=None if r.random() < 0.3 else _text(r)),
            "KNullable": lambda: None if r.random() < 0.2 else _text(r),
        }[name]()

    if name == "KTwo":
        return [{"region": _text(r), "n": r.randrange(-2 ** 63, 2 ** 63)} for _ in range(n)]
    values = edges.get(name, []) + [random_one() for _ in range(n)]
    return [{"k": v} for v in values]


@pytest.fixture
def project(stack, tmp_path, unique_name, monkeypatch):
    p = unique_name
    root = tmp_path / "proj"
    make_project(root, {"keys.py": models_source(p)})
    monkeypatch.setenv("KCTX_MIGRATIONS_TOPIC", f"_kctx_{p}")
    for cmd in (("makemigrations",), ("migrate",)):
        r = run_kctx(*cmd, cwd=root, env={"KCTX_MIGRATIONS_TOPIC": f"_kctx_{p}"}, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    return root


def test_avro_key_bytes_are_the_serializers_for_every_key_type(project):
    import sys

    from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    from kctx_cli import KafkaContext

    for mod in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[mod]
    r = random.Random(20261129)
    with KafkaContext(project=project) as ctx:
        ctx.ensure_ready()
        classes = {e.name: e.cls for e in ctx.project.entities}
        classes["Spot"] = sys.modules["models.keys"].Spot
        reg = ctx.registry
        checked = 0
        for name in KEYS:
            cls = classes[name]
            info = cls.__kctx__
            codec = ctx._codec(cls)
            registered = reg.get_latest_version(info.key_subject)
            sctx = SerializationContext(info.topic, MessageField.KEY)
            ser = AvroSerializer(ctx._write_registry(), registered.schema.schema_str,
                                 conf={"auto.register.schemas": False, "use.latest.version": False})
            de = AvroDeserializer(reg)
            decode = codec.decoder()
            for i, keys in enumerate(key_values(name, classes.get, r, 60)):
                entity = cls(v=i, **keys)
                kb, vb = codec.encode(entity)
                if all(v is None for v in keys.values()):
                    assert kb is None, (name, keys)  # a null key is a record without key
                    continue
                assert kb[0] == 0 and int.from_bytes(kb[1:5], "big") == registered.schema_id, (name, kb[:5])
                if len(kb) == 5:  # the header alone: an empty BYTES key, as ksqlDB writes it (below)
                    assert keys == {"k": b""}, (name, keys)
                else:  # confluent-kafka's deserializer refuses a payload of 5 bytes
                    datum = de(kb, sctx)
                    assert ser(datum, sctx) == kb, (name, keys, datum)
                assert decode(kb, vb) == entity, (name, keys)
                checked += 1
        assert checked > 14 * 60


# model -> (key columns of a ksqlDB stream, [(the INSERT's key values, the entity's key fields)])
KSQLDB_ROWS = {
    "KString": ("K STRING KEY", [("'é x'", {"k": "é x"})]),
    "KInt": ("K INT KEY", [("-7", {"k": -7})]),
    "KBigint": ("K BIGINT KEY", [("9007199254740993", {"k": 9007199254740993})]),
    "KDouble": ("K DOUBLE KEY", [("1.5", {"k": 1.5})]),
    "KBool": ("K BOOLEAN KEY", [("true", {"k": True})]),
    "KDecimal": ("K DECIMAL(12, 3) KEY", [("12.5", {"k": Decimal("12.500")}), ("-0.001", {"k": Decimal("-0.001")})]),
    "KBytes": ("K BYTES KEY", [("TO_BYTES('AQID', 'base64')", {"k": b"\x01\x02\x03"}),
                               ("TO_BYTES('', 'hex')", {"k": b""})]),
    "KTimestamp": ("K TIMESTAMP KEY", [("FROM_UNIXTIME(1700000000123)",
                                        {"k": dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC)})]),
    "KDate": ("K DATE KEY", [("FROM_DAYS(19000)", {"k": dt.date(2022, 1, 8)})]),
    "KTime": ("K TIME KEY", [("PARSE_TIME('10:20:30.456', 'HH:mm:ss.SSS')", {"k": dt.time(10, 20, 30, 456000)})]),
    "KTwo": ("REGION STRING KEY, N BIGINT KEY", [("'eu', 7", {"region": "eu", "n": 7})]),
}


def test_keys_ksqldb_writes_are_read_and_written_alike(project, unique_name):
    """Keys ksqlDB writes (its own serializers, KafkaAvroSerializer) into a stream of its
    own with the same key columns: the context decodes them (by their writer schema) to the
    entity's keys, and for one key column writes the same Avro body — DECIMAL and BYTES
    keys included, which Confluent's serializers write without Avro's length prefix (an
    empty BYTES key is the 5-byte header alone)."""
    import sys

    from confluent_kafka import Consumer

    from kctx_cli import KafkaContext
    from ksqldb_helpers import KsqlSources

    for mod in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[mod]
    with KafkaContext(project=project) as ctx:
        classes = {e.name: e.cls for e in ctx.project.entities}
        src = KsqlSources(ctx.config.ksqldb_url)
        topics = {}
        for name, (key_cols, rows) in KSQLDB_ROWS.items():
            stream, topics[name] = f"{unique_name}_KQ_{name}".upper(), f"{unique_name}_kq_{name.lower()}"
            src.execute(f"CREATE STREAM {stream} ({key_cols}, V INT) WITH (KAFKA_TOPIC='{topics[name]}', "
                        f"PARTITIONS=1, KEY_FORMAT='AVRO', VALUE_FORMAT='JSON');")
            key_names = ", ".join(re.findall(r"(\w+) \w+(?:\([^)]*\))? KEY", key_cols))
            for i, (vals, _) in enumerate(rows):
                src.execute(f"INSERT INTO {stream} ({key_names}, V) VALUES ({vals}, {i});")
        for name, (_, rows) in KSQLDB_ROWS.items():
            cls = classes[name]
            c = Consumer(ctx._kafka_conf(**{"group.id": f"{topics[name]}-raw", "auto.offset.reset": "earliest"}))
            c.subscribe([topics[name]])
            got = []
            deadline = time.monotonic() + 60
            while len(got) < len(rows) and time.monotonic() < deadline:
                m = c.poll(1.0)
                if m is not None and not m.error():
                    got.append(m)
            c.close()
            assert len(got) == len(rows), (name, len(got))
            codec = ctx._codec(cls)
            decode = codec.decoder()
            for m in got:
                i = json.loads(m.value())["V"]
                want = cls(v=i, **rows[i][1])
                kb, vb = codec.encode(want)
                assert decode(m.key(), vb) == want, (name, m.key().hex())  # ksqlDB's key, our value
                if len(cls.__kctx__.keys) == 1:  # the same schema: the same body
                    assert kb[5:] == m.key()[5:], (name, kb.hex(), m.key().hex())


def test_table_views_give_back_each_key_type(project, tmp_path):
    """``ctx.table(...)``: the cache stores an Avro key as the text of its decoded datum;
    ``to_list()`` gives each row back with its key as the model's type (a Decimal at the
    column's scale, bytes, aware datetimes, dates, times, a Struct instance, both columns of
    a composite key), and ``get`` finds a row by such a key — a Decimal typed with fewer
    places too."""
    import sys

    from kctx_cli import KafkaContext

    for mod in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[mod]
    r = random.Random(29)
    with KafkaContext(project=project) as ctx:
        classes = {e.name: e.cls for e in ctx.project.entities}
        classes["Spot"] = sys.modules["models.keys"].Spot
        written = {}
        for name, (kind, _) in KEYS.items():
            if kind != "Table":
                continue
            cls = classes[name]
            rows, seen = [], set()
            for keys in key_values(name, classes.get, r, 6):
                marker = repr(sorted(keys.items()))
                if marker not in seen:
                    seen.add(marker)
                    rows.append(cls(v=len(rows), **keys))
            for e in rows:
                ctx.add(e)
            written[name] = rows
        ctx.flush()
        for name, rows in written.items():
            cls = classes[name]
            with ctx.table(cls, cache_dir=tmp_path / "cache", follow=False) as view:
                view.wait_until_current(60)
                got = sorted(view.to_list(), key=lambda e: e.v)
                assert got == rows, name
                keys = [f.name for f in cls.__kctx__.keys]
                for e in rows:
                    key = getattr(e, keys[0]) if len(keys) == 1 else {k: getattr(e, k) for k in keys}
                    assert view.get(key) == e, (name, key)
        from kctx_cli.model.instance import EntityValueError

        view_dec = written["KDecimal"][0]
        KDecimal, KBytes = classes["KDecimal"], classes["KBytes"]
        with ctx.table(KDecimal, cache_dir=tmp_path / "cache", follow=False) as view:
            short = view_dec.k.normalize() if view_dec.k != 0 else Decimal(0)
            assert view.get(short) == view_dec  # 12.5 finds the row stored as 12.500
            assert view.get(short).k.as_tuple().exponent == -3
            # a key the field does not take is an error, not "no such row" — also once the
            # row is memoized (12.5 == Decimal("12.5") as dict keys)
            for bad, why in ((float(view_dec.k), "is a float"), (str(view_dec.k), "expected Decimal"),
                             (Decimal("1.2345"), "more than 3 decimal places"), (Decimal("NaN"), "not a finite"),
                             (None, "None is not allowed")):
                with pytest.raises(EntityValueError, match=why):
                    view.get(bad)
        with ctx.table(KBytes, cache_dir=tmp_path / "cache", follow=False) as view:
            row = written["KBytes"][-1]
            assert view.get(bytearray(row.k)) == row and type(view.get(bytearray(row.k)).k) is bytes
            with pytest.raises(EntityValueError, match="expected bytes"):
                view.get("hello")
        # remove: the key checked as the entity checks it (was fastavro's raw errors)
        for cls, bad, why in ((KDecimal, Decimal("1.2345"), "more than 3 decimal places"),
                              (KDecimal, Decimal("NaN"), "not a finite"), (KDecimal, "12.5", "expected Decimal"),
                              (KDecimal, None, "None is not allowed"), (KBytes, "hello", "expected bytes")):
            with pytest.raises(EntityValueError, match=why):
                ctx.remove(cls, bad)
        ctx.remove(KDecimal, short)  # fewer places: the row's key at its scale
        ctx.flush()
        with ctx.table(KDecimal, cache_dir=tmp_path / "cache", follow=False) as view:
            view.wait_until_current(60)
            assert view.get(view_dec.k) is None and len(view.to_list()) == len(written["KDecimal"]) - 1
