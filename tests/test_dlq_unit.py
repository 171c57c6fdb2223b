"""Offline parts of dlq replay: group naming, filters."""
from __future__ import annotations

import pytest

from kctx_cli.dlq.core import ReplayOptions, _code_matches, _time_ms, group_for
from kctx_cli.errors import KctxError


def test_group_per_dlq_and_filter_set():
    assert group_for(ReplayOptions("orders-dlq")) == "kctx-dlq-replay-orders-dlq"
    a = group_for(ReplayOptions("orders-dlq", error_codes=["E1"]))
    b = group_for(ReplayOptions("orders-dlq", error_codes=["E2"]))
    assert a.startswith("kctx-dlq-replay-orders-dlq-") and a != b
    assert a == group_for(ReplayOptions("orders-dlq", error_codes=["E1"]))  # a re-run resumes
    assert group_for(ReplayOptions("orders-dlq", group="mine")) == "mine"


def test_error_code_matching():
    assert _code_matches("E1", [])
    assert _code_matches("java.lang.IllegalStateException", ["IllegalStateException"])
    assert _code_matches("E1", ["E0", "E1"])
    assert not _code_matches("E10", ["E1"])
    assert not _code_matches(None, ["E1"])


def test_time_filters():
    assert _time_ms("2023-11-14T22:13:20Z", "--since") == 1700000000000
    assert _time_ms("1700000000000", "--until") == 1700000000000
    for bad in ("-5", "12", "soon"):
        with pytest.raises(KctxError) as e:
            _time_ms(bad, "--since")
        assert str(e.value) == f"--since: expected epoch milliseconds or an ISO-8601 time, got '{bad}'"
