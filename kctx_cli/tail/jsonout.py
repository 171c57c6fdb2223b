"""Decoded record values as JSON: what ``tail -o json``, ``dlq show`` and ``cache get`` print.

fastavro returns logical types as Python objects; JSON gets them as ISO-8601 text (UTC
times with milliseconds and ``Z``), decimals as strings (no float rounding), UUIDs as
text and bytes as base64.
"""
from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
import uuid
from typing import Any


def json_default(o: Any):
    """json.dumps fallback for what fastavro returns (logical types, bytes)."""
    if isinstance(o, decimal.Decimal):
        return str(o)
    if isinstance(o, _dt.datetime):
        if o.tzinfo is _dt.timezone.utc:  # what fastavro returns for timestamp-millis
            return o.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"
        if o.tzinfo is not None:
            o = o.astimezone(_dt.timezone.utc).replace(tzinfo=None)
            return o.isoformat(timespec="milliseconds") + "Z"
        return o.isoformat()
    if isinstance(o, (_dt.date, _dt.time)):
        return o.isoformat()
    if isinstance(o, uuid.UUID):
        return str(o)
    if isinstance(o, (bytes, bytearray)):
        return base64.b64encode(bytes(o)).decode("ascii")
    raise TypeError(f"cannot encode {type(o).__name__}")


# one encoder for all records: json.dumps(default=...) builds a new one per call
dumps = json.JSONEncoder(default=json_default, ensure_ascii=False).encode


def iso_ms(ms: int) -> str:
    """Kafka timestamp (ms since epoch) as ISO-8601 UTC with milliseconds."""
    return _dt.datetime.fromtimestamp(ms / 1000, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
