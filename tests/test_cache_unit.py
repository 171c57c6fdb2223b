"""The cache's RocksDB layout and the read API, without Kafka: a writer as `warm` writes
(data + offsets in one batch), a secondary reader that catches up."""
from __future__ import annotations

import io
import json
import pickle

import pytest
from fastavro import parse_schema, schemaless_writer
from rocksdict import WriteBatch

from kctx_cli.cache import open_table, store
from kctx_cli.errors import KctxError

SCHEMA = {"type": "record", "name": "C", "fields": [{"name": "id", "type": "string"}, {"name": "tier", "type": "int"}]}


def avro(sid, rec):
    b = io.BytesIO()
    schemaless_writer(b, parse_schema(SCHEMA), rec)
    return b"\x00" + sid.to_bytes(4, "big") + b.getvalue()


def batch(db, puts, offsets, deletes=()):
    mh = db.get_column_family_handle(store.META)
    wb = WriteBatch(raw_mode=True)
    for k, v in puts.items():
        wb.put(k, v)
    for k in deletes:
        wb.delete(k)
    for p, o in offsets.items():
        wb.put(store.offset_key(p), b"%d" % o, mh)
    db.write(wb)


def test_reader_decodes_and_catches_up(tmp_path):
    path = store.db_path(tmp_path, "customers")
    db = store.open_writer(path)
    db.get_column_family(store.META).put(b"schema:7", json.dumps(SCHEMA).encode())
    batch(db, {b"c1": avro(7, {"id": "c1", "tier": 1}), b"j": b'{"a": 1}', b"s": b"text", b"x": b"\xff"}, {0: 4})
    with open_table("customers", cache_dir=tmp_path) as t:
        assert t.get("c1") == {"id": "c1", "tier": 1}
        assert (t.get("j"), t.get("s"), t.get("x"), t.get("nope")) == ({"a": 1}, "text", b"\xff", None)
        assert t.offsets() == {0: 4} and t.schema_ids() == [7]
        # the writer goes on (a warm running); the reader sees nothing until refresh()
        batch(db, {b"c2": avro(7, {"id": "c2", "tier": 2})}, {0: 6}, deletes=[b"s"])
        assert "c2" not in t and t.offsets() == {0: 4}
        t.refresh()
        assert t["c2"] == {"id": "c2", "tier": 2} and "s" not in t and t.offsets() == {0: 6}
        assert sorted(k for k, _ in t.raw_items()) == [b"c1", b"c2", b"j", b"x"]
    db.close()


def test_a_second_writer_is_refused(tmp_path):
    path = store.db_path(tmp_path, "t")
    db = store.open_writer(path)
    try:
        with pytest.raises(KctxError) as e:
            store.open_writer(path)
        assert str(e.value) == f"the cache at {path} is in use by another warm (RocksDB lock held)"
    finally:
        db.close()


def test_missing_cache_and_bad_names(tmp_path):
    with pytest.raises(KctxError) as e:
        open_table("nothing", cache_dir=tmp_path)
    assert str(e.value) == f"no cache for 'nothing' in {tmp_path}: run kctx cache warm nothing"
    with pytest.raises(KctxError) as e:
        store.db_path(tmp_path, "../etc")
    assert str(e.value) == "'../etc' is not a valid topic name for a cache"


# -- decoded storage (--store decoded): every Avro type kctx generates round-trips
from datetime import date, datetime, time, timezone  # noqa: E402
from decimal import Decimal  # noqa: E402
from typing import Annotated, Optional  # noqa: E402
from uuid import UUID  # noqa: E402

from kctx_cli.cache import codec  # noqa: E402
from kctx_cli.model import Float32, Int32, Key, Precision, Struct, Table  # noqa: E402


class Address(Struct):
    street: str
    since: Optional[date] = None
    geo: list[float]


class Everything(Table):
    id: Annotated[str, Key]
    flag: bool
    small: Int32
    big: int
    ratio: float
    f32: Float32
    text: str
    blob: bytes
    amount: Annotated[Decimal, Precision(18, 4)]
    day: date
    at: time
    ts: datetime
    uid: UUID
    address: Optional[Address] = None
    homes: list[Address]
    tags: list[str]
    prices: dict[str, Annotated[Decimal, Precision(9, 4)]]
    stamps: Optional[list[Optional[datetime]]] = None
    note: Optional[str] = None

    class Meta:
        topic = "everything"


def everything_schema():
    from kctx_cli.avro.schema import registered_schemas

    return registered_schemas(Everything.__kctx__)["everything-value"]


def everything(i):
    return {
        "flag": bool(i % 2), "small": -i, "big": 2**40 + i, "ratio": 0.1 * i, "f32": 1.5, "text": f"é-{i}",
        "blob": b"\x00\xff" * i, "amount": Decimal(i) / 10000 - Decimal("12345.6789"), "day": date(1969, 12, 31),
        "at": time(23, 59, 58, 999000), "ts": datetime(1960 + i, 2, 29 if i % 4 == 0 else 28, 1, 2, 3, 4000, tzinfo=timezone.utc),
        "uid": UUID(int=i + 1),
        "address": None if i % 2 else {"street": "Main", "since": date(2020, 1, i + 1), "geo": [1.25, -2.5]},
        "homes": [{"street": f"h{j}", "since": None, "geo": []} for j in range(i)], "tags": ["a"] * i,
        "prices": {"x": Decimal("1.0000"), "y": Decimal("-0.0001")} if i else {},
        "stamps": None if i == 1 else [None, datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=timezone.utc)],
        "note": None if i % 3 else "n",
    }


def wire(sid, schema, rec):
    b = io.BytesIO()
    schemaless_writer(b, parse_schema(schema), rec)
    return b"\x00" + sid.to_bytes(4, "big") + b.getvalue()


def fill(tmp_path, topic, mode, values, schema):
    """A cache as `warm` writes it, in either mode (decoded: encoded with codec as warm does)."""
    from fastavro import schemaless_reader

    from kctx_cli.tail.decode import plain

    db = store.open_writer(store.db_path(tmp_path, topic))
    meta = db.get_column_family(store.META)
    meta.put(b"store", mode.encode())
    meta.put(b"schema:9", json.dumps(schema).encode())
    fix = codec.fixer_for(schema)
    puts = {}
    for k, v in values.items():
        if mode == store.RAW:
            puts[k] = v
        elif v[:1] == b"\x00":
            bio = io.BytesIO(v)
            bio.seek(5)
            puts[k] = codec.encode_avro(v[1:5], schemaless_reader(bio, parse_schema(schema), None), fix)
        else:
            d = plain(v)
            puts[k] = codec.encode_plain(v if d.format == "hex" else d.value)
    batch(db, puts, {0: len(values)})
    db.close()


def test_decoded_mode_round_trips_every_avro_type_kctx_generates(tmp_path):
    schema = everything_schema()
    assert codec.fixer_for(schema) not in (None, False)  # the fast marshal form applies
    values = {f"e{i}".encode(): wire(9, schema, everything(i)) for i in range(6)}
    values.update({b"j": b'{"a": [1, 2.5, null, true]}', b"s": b"text", b"x": b"\xff\x00"})
    fill(tmp_path, "raw", store.RAW, values, schema)
    fill(tmp_path, "dec", store.DECODED, values, schema)
    with open_table("raw", cache_dir=tmp_path) as r, open_table("dec", cache_dir=tmp_path) as d:
        assert (r.store, d.store) == ("raw", "decoded")
        for i in range(6):
            got = d.get(f"e{i}")
            assert got == r.get(f"e{i}") == {k: v for k, v in everything(i).items()}
            # same types too (== would accept e.g. a naive datetime or a str for a UUID)
            assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in r.get(f"e{i}").items()}
            assert got["ts"].tzinfo is timezone.utc and str(got["amount"]) == str(everything(i)["amount"])
        assert (d.get("j"), d.get("s"), d.get("x"), d.get("nope", 5)) == ({"a": [1, 2.5, None, True]}, "text", b"\xff\x00", 5)
        assert dict(d.items()) == dict(r.items()) and d["e1"] == r["e1"] and "e2" in d and "zz" not in d
        assert d.offsets() == r.offsets() == {0: 9}
        with pytest.raises(KctxError) as e:
            d.get_raw("e1")
        assert str(e.value) == (f"get_raw: the cache at {tmp_path / 'dec'} stores decoded values (warmed with "
                                "--store decoded); use get/items, or re-warm with --store raw to keep the Kafka bytes")


def test_decoded_mode_falls_back_to_pickle_when_marshal_cannot_tell_union_branches():
    ambiguous = {"type": "record", "name": "A", "fields": [
        {"name": "v", "type": ["null", "string", {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}]}]}
    recursive = {"type": "record", "name": "Node", "fields": [{"name": "next", "type": ["null", "Node"]},
                                                              {"name": "at", "type": {"type": "int", "logicalType": "date"}}]}
    plain_only = {"type": "record", "name": "P", "fields": [{"name": "v", "type": ["null", "string", "long"]}]}
    assert codec.fixer_for(ambiguous) is False and codec.fixer_for(recursive) is False
    assert codec.fixer_for(plain_only) is None  # nothing to restore: marshal as is
    for value in ({"v": Decimal("1.50")}, {"v": "1.50"}):
        blob = codec.encode_avro(b"\0\0\0\1", value, False)
        assert blob[:1] == b"\x03" and pickle.loads(blob[1:]) == value and type(pickle.loads(blob[1:])["v"]) is type(value["v"])


def test_undecodable_values_say_why(tmp_path):
    """A framed value whose schema the warm could not store, or whose bytes do not match
    it: get raises UndecodableValue with the reason, items() yields the bytes (issue 11 §5)."""
    from kctx_cli.cache import UndecodableValue

    path = store.db_path(tmp_path, "bad")
    db = store.open_writer(path)
    db.get_column_family(store.META).put(b"schema:7", json.dumps(SCHEMA).encode())
    corrupt = b"\x00\x00\x00\x00\x07" + b"\xff" * 11
    batch(db, {b"ok": avro(7, {"id": "ok", "tier": 1}), b"noschema": b"\x00\x00\x00\x00\x63\x02x",
               b"corrupt": corrupt, b"trail": avro(7, {"id": "t", "tier": 1}) + b"zz"}, {0: 4})
    db.close()
    with open_table("bad", cache_dir=tmp_path) as t:
        with pytest.raises(UndecodableValue) as e:
            t.get("noschema")
        assert str(e.value).startswith("its writer schema (id 99) is not in the cache")
        with pytest.raises(UndecodableValue) as e:
            t.get("corrupt")
        assert str(e.value).startswith("it does not decode as Avro with schema id 7")
        with pytest.raises(UndecodableValue) as e:
            t.get("trail")
        assert str(e.value) == "its Avro body has 2 trailing bytes for schema id 7"
        assert dict(t.items())[b"corrupt"] == corrupt
        assert t.lookup([b"nope", b"ok"]) == (b"ok", {"id": "ok", "tier": 1})
        assert t.lookup([b"nope"]) is None


def test_offsets_beside_the_data_win_and_stay_hidden(tmp_path):
    """Readers take the offsets stored in the data column family (flushed with the data),
    and never show that entry as a key (kctx_cli/cache/store.py)."""
    path = store.db_path(tmp_path, "o")
    db = store.open_writer(path)
    batch(db, {b"a": b"1", store.OFFSETS_KEY: store.encode_offsets({0: 5, 1: 7})}, {0: 3, 1: 3})
    db.close()
    with open_table("o", cache_dir=tmp_path) as t:
        assert t.offsets() == {0: 5, 1: 7}
        assert dict(t.items()) == {b"a": "1"} and dict(t.raw_items()) == {b"a": b"1"}
        assert store.OFFSETS_KEY not in t and t.get(store.OFFSETS_KEY) is None
