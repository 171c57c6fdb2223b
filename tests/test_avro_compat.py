"""Offline Avro compatibility: Apache Avro's own reader/writer cases (100 % agreement
expected), Schema Registry levels incl. transitive ones, and decimal precision/scale."""
from __future__ import annotations

import json

import pytest

from kctx_cli.avro.compat import SchemaInvalid, can_read, check_compatibility
from tests.helpers import SHARED

CASES_FILE = SHARED / "avro-compat" / "apache_avro_cases.json"


def test_apache_avro_cases_agree_100_percent():
    cases = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]
    disagreements = []
    for c in cases:
        problems = can_read(c["reader"], c["writer"])
        if (not problems) != c["compatible"]:
            disagreements.append(f"{c['name']}: expected compatible={c['compatible']}, got {problems}")
    agreed = len(cases) - len(disagreements)
    print(f"apache avro cases: {agreed}/{len(cases)} agree ({100 * agreed / len(cases):.1f}%)")
    assert len(cases) == 276
    assert disagreements == []


def test_incompatible_apache_cases_always_give_reasons():
    cases = json.loads(CASES_FILE.read_text(encoding="utf-8"))["cases"]
    for c in cases:
        if not c["compatible"]:
            for msg in can_read(c["reader"], c["writer"]):
                assert msg.startswith("/"), msg  # a path inside the schema first


# ---------------------------------------------------------------------------
# schemas used below
# ---------------------------------------------------------------------------


def rec(*fields, name="Order"):
    return {"type": "record", "name": name, "namespace": "shop", "fields": list(fields)}


A = {"name": "a", "type": "int"}
B_DEFAULT = {"name": "b", "type": "string", "default": "x"}
B_REQUIRED = {"name": "b", "type": "string"}


def dec(p, s):
    return {"type": "bytes", "logicalType": "decimal", "precision": p, "scale": s}


# ---------------------------------------------------------------------------
# reader/writer rules
# ---------------------------------------------------------------------------


def test_added_field_without_default_message():
    assert can_read(rec(A, B_REQUIRED), rec(A)) == [
        "/fields/b: reader field 'b' has no default value and the writer has no such field"
    ]


def test_added_field_with_default_is_readable():
    assert can_read(rec(A, B_DEFAULT), rec(A)) == []


@pytest.mark.parametrize("writer,reader", [
    ("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"), ("long", "double"),
    ("float", "double"), ("string", "bytes"), ("bytes", "string"),
])
def test_promotions(writer, reader):
    assert can_read(reader, writer) == []


@pytest.mark.parametrize("writer,reader", [("long", "int"), ("double", "float"), ("float", "long"), ("string", "int")])
def test_no_demotion(writer, reader):
    assert can_read(reader, writer) == [f"/: type mismatch: reader expects {reader}, writer has {writer}"]


def test_nested_path_in_message():
    reader = rec({"name": "lines", "type": {"type": "array", "items": rec({"name": "qty", "type": "int"}, name="Line")}})
    writer = rec({"name": "lines", "type": {"type": "array", "items": rec({"name": "qty", "type": "long"}, name="Line")}})
    assert can_read(reader, writer) == [
        "/fields/lines/type/items/fields/qty/type: type mismatch: reader expects int, writer has long"
    ]


def test_nullable_field_made_required_breaks_reading_nulls():
    reader = rec({"name": "note", "type": "string"})
    writer = rec({"name": "note", "type": ["null", "string"], "default": None})
    assert can_read(reader, writer) == [
        "/fields/note/type: type mismatch: reader expects string, writer has null"
    ]
    assert can_read(writer, reader) == []  # the other way round is fine


def test_union_branch_missing():
    assert can_read(["null", "string"], ["null", "string", "int"]) == [
        "/: reader union [null, string] has no branch that can read the writer's union branch 2 (int)"
    ]


def test_record_name_and_aliases():
    writer = rec(A, name="Order")
    assert can_read(rec(A, name="Purchase"), writer) == [
        "/name: name mismatch: reader record 'shop.Purchase' cannot read writer record 'shop.Order'"
    ]
    renamed = dict(rec(A, name="Purchase"), aliases=["Order"])
    assert can_read(renamed, writer) == []
    # namespaces are not part of Avro's name match (Java and Python compare unqualified names)
    assert can_read(dict(rec(A), namespace="other"), writer) == []


def test_field_alias():
    writer = rec({"name": "amount_cents", "type": "long"})
    reader = rec({"name": "amount", "type": "long", "aliases": ["amount_cents"]})
    assert can_read(reader, writer) == []


def test_enum_symbols_and_default():
    w = {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID", "SHIPPED"]}
    r = {"type": "enum", "name": "Status", "symbols": ["NEW", "PAID"]}
    assert can_read(r, w) == ["/symbols: reader enum 'Status' lacks the writer's symbols SHIPPED and has no default symbol"]
    assert can_read(dict(r, default="NEW"), w) == []


def test_fixed_size():
    assert can_read({"type": "fixed", "name": "H", "size": 16}, {"type": "fixed", "name": "H", "size": 8}) == [
        "/size: fixed 'H' has size 16, the writer's has size 8"
    ]


def test_recursive_records_terminate():
    node = {"type": "record", "name": "Node", "fields": [
        {"name": "value", "type": "int"},
        {"name": "next", "type": ["null", "Node"], "default": None}]}
    node_long = json.loads(json.dumps(node).replace('"int"', '"long"'))
    assert can_read(node_long, node) == []
    assert can_read(node, node_long) == ["/fields/value/type: type mismatch: reader expects int, writer has long"]


def test_map_values():
    assert can_read({"type": "map", "values": "long"}, {"type": "map", "values": "int"}) == []
    assert can_read({"type": "map", "values": "int"}, {"type": "map", "values": "long"}) == [
        "/values: type mismatch: reader expects int, writer has long"
    ]


# ---------------------------------------------------------------------------
# decimals: Avro's checker treats them as bytes; kctx does not
# ---------------------------------------------------------------------------


def test_decimal_scale_change_is_incompatible_both_ways():
    assert can_read(dec(18, 2), dec(18, 4)) == [
        "/: decimal scale changed: reader decimal(18, 2) cannot read writer decimal(18, 4) "
        "(scale 4 values would be read with scale 2)"
    ]
    assert can_read(dec(18, 4), dec(18, 2)) != []


def test_decimal_precision_lowered_is_incompatible_raised_is_fine():
    assert can_read(dec(10, 2), dec(18, 2)) == [
        "/: decimal precision lowered: reader decimal(10, 2) cannot hold every value of writer decimal(18, 2)"
    ]
    assert can_read(dec(18, 2), dec(10, 2)) == []


def test_decimal_inside_nullable_field():
    reader = rec({"name": "amount", "type": ["null", dec(18, 2)], "default": None})
    writer = rec({"name": "amount", "type": ["null", dec(18, 4)], "default": None})
    [msg] = can_read(reader, writer)
    assert msg.startswith("/fields/amount/type: decimal scale changed")


def test_fixed_decimal_scale():
    r = {"type": "fixed", "name": "D", "size": 8, "logicalType": "decimal", "precision": 10, "scale": 2}
    w = dict(r, scale=3)
    assert can_read(r, w) != []


def test_same_decimal_and_plain_bytes_are_compatible():
    assert can_read(dec(18, 4), dec(18, 4)) == []
    # a decimal read as plain bytes (or the reverse) is Avro-compatible: same encoding
    assert can_read("bytes", dec(18, 4)) == []


# ---------------------------------------------------------------------------
# levels
# ---------------------------------------------------------------------------

V1 = rec(A)
V2 = rec(A, B_DEFAULT)
V3 = rec(A, B_REQUIRED)


@pytest.mark.parametrize("level,compatible", [
    ("NONE", True), ("BACKWARD", True), ("FORWARD", True), ("FULL", True),
    ("BACKWARD_TRANSITIVE", True), ("FORWARD_TRANSITIVE", True), ("FULL_TRANSITIVE", True),
])
def test_add_field_with_default_is_fully_compatible(level, compatible):
    assert check_compatibility(V2, [V1], level).compatible is compatible


@pytest.mark.parametrize("level,compatible", [
    ("NONE", True), ("BACKWARD", False), ("FORWARD", True), ("FULL", False),
])
def test_add_required_field(level, compatible):
    assert check_compatibility(V3, [V1], level).compatible is compatible


@pytest.mark.parametrize("level,compatible", [
    ("BACKWARD", True), ("FORWARD", False), ("FULL", False),
])
def test_remove_required_field(level, compatible):
    assert check_compatibility(V1, [V3], level).compatible is compatible


def test_backward_checks_only_latest_transitive_checks_all():
    # v3 reads v2 data (b is there) but not v1 data (b missing, no default)
    assert check_compatibility(V3, [V1, V2], "BACKWARD").compatible
    res = check_compatibility(V3, [V1, V2], "BACKWARD_TRANSITIVE")
    assert not res.compatible
    assert res.messages == [
        "BACKWARD: new schema cannot read data written with previous schema 1: "
        "/fields/b: reader field 'b' has no default value and the writer has no such field"
    ]


def test_forward_transitive():
    new = rec(A)
    oldest = rec(A, B_REQUIRED)  # cannot read new data: b missing, no default
    latest = rec(A, B_DEFAULT)
    assert check_compatibility(new, [oldest, latest], "FORWARD").compatible
    res = check_compatibility(new, [oldest, latest], "FORWARD_TRANSITIVE", names=["v1.avsc", "v2.avsc"])
    assert res.messages == [
        "FORWARD: v1.avsc cannot read data written with the new schema: "
        "/fields/b: reader field 'b' has no default value and the writer has no such field"
    ]


def test_full_transitive_reports_both_directions():
    old = rec({"name": "a", "type": "int"}, B_REQUIRED)
    new = rec({"name": "a", "type": "long"})
    res = check_compatibility(new, [old, old], "FULL_TRANSITIVE")
    # backward is fine (int -> long); each previous schema fails forward twice
    assert [m[:len("FORWARD: previous schema 1")] for m in res.messages] == [
        "FORWARD: previous schema 1", "FORWARD: previous schema 1",
        "FORWARD: previous schema 2", "FORWARD: previous schema 2",
    ]
    assert res.messages[0].endswith("/fields/a/type: type mismatch: reader expects int, writer has long")
    assert len(check_compatibility(new, [old, old], "FULL").messages) == 2  # the latest only
    assert check_compatibility(new, [old], "BACKWARD").compatible


def test_promotion_levels():
    old, new = rec({"name": "n", "type": "int"}), rec({"name": "n", "type": "long"})
    assert check_compatibility(new, [old], "BACKWARD").compatible
    assert not check_compatibility(new, [old], "FORWARD").compatible


def test_decimal_levels():
    old = rec({"name": "amount", "type": dec(10, 2)})
    wider = rec({"name": "amount", "type": dec(18, 2)})
    rescaled = rec({"name": "amount", "type": dec(18, 4)})
    assert check_compatibility(wider, [old], "BACKWARD").compatible
    assert not check_compatibility(wider, [old], "FORWARD").compatible
    assert not check_compatibility(rescaled, [old], "BACKWARD").compatible
    assert not check_compatibility(rescaled, [old], "NONE").messages


def test_no_previous_schema_is_compatible_and_level_is_case_insensitive():
    assert check_compatibility(V3, [], "FULL_TRANSITIVE").compatible
    assert check_compatibility(V3, [V1], "none").compatible


def test_unknown_level():
    with pytest.raises(ValueError, match="unknown compatibility level 'SIDEWAYS'"):
        check_compatibility(V1, [V1], "SIDEWAYS")


def test_schema_text_and_invalid_schema():
    assert can_read(json.dumps(V2), json.dumps(V1)) == []
    assert can_read("long", '"int"') == []
    with pytest.raises(SchemaInvalid, match="unknown type 'integer'"):
        can_read({"type": "record", "name": "R", "fields": [{"name": "a", "type": "integer"}]}, V1)
