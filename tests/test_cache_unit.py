"""The cache's RocksDB layout and the read API, without Kafka: a writer as `warm` writes
(data + offsets in one batch), a secondary reader that catches up."""
from __future__ import annotations

import io
import json

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
