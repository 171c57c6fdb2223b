"""ksqlDB pull and push queries over ``POST /query-stream`` (ksqlDB REST API docs,
"Run a query: /query-stream"), HTTP/1.1 with the delimited format
(``Accept: application/vnd.ksqlapi.delimited.v1``): a header line ``{"queryId",
"columnNames", "columnTypes"}`` then one JSON array per row; an error is one
``{"@type": "statement_error", ...}`` object.

Values come back as Python values of the column types ksqlDB reports: DECIMAL ->
``Decimal`` (the JSON number read exactly), TIMESTAMP (``2026-01-02T03:04:05.123``, UTC)
-> aware ``datetime``, DATE -> ``date``, TIME -> ``time`` (whole seconds: ksqlDB 8.1.5 writes TIME as HH:mm:ss here), BYTES (base64) -> ``bytes``,
ARRAY/MAP/STRUCT recursively (STRUCT as a dict of its upper-case field names unless an
entity class is given).
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
import re
from decimal import Decimal
from typing import Any, Callable, Iterator

from kctx_cli.errors import KctxError

MEDIA = "application/vnd.ksqlapi.delimited.v1"


class KsqlQueryError(KctxError):
    """ksqlDB refused or failed the query (its message, one line), or cannot be reached."""


# --------------------------------------------------------------------------- column types

_TOKEN = re.compile(r"\s*(`[^`]*`|[A-Za-z_][A-Za-z0-9_]*|\d+|[<>(),])")


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            break
        out.append(m.group(1))
        pos = m.end()
    return out


def type_converter(type_text: str) -> Callable[[Any], Any] | None:
    """A ksqlDB column type as /query-stream reports it (``DECIMAL(18, 4)``,
    ``STRUCT<`A` STRING>``...) -> a function JSON value -> Python value (None: as is)."""
    toks = _tokens(type_text)
    conv, _ = _parse(toks, 0)
    return conv


def _parse(t: list[str], i: int):
    name = t[i].upper()
    i += 1
    if name == "DECIMAL":
        i += 5 if i < len(t) and t[i] == "(" else 0  # ( p , s )
        return (lambda v: v if isinstance(v, Decimal) else Decimal(str(v))), i
    if name == "TIMESTAMP":
        return _timestamp, i
    if name == "DATE":
        return (lambda v: _dt.date.fromisoformat(v)), i
    if name == "TIME":
        return (lambda v: _dt.time.fromisoformat(v)), i
    if name == "BYTES":
        return (lambda v: base64.b64decode(v)), i
    if name == "DOUBLE":
        return (lambda v: float(v)), i
    if name == "ARRAY":
        inner, i = _parse(t, i + 1)  # skip <
        i += 1  # >
        return (None if inner is None else (lambda v: [None if x is None else inner(x) for x in v])), i
    if name == "MAP":
        _, i = _parse(t, i + 1)  # key type (STRING)
        inner, i = _parse(t, i + 1)  # skip ,
        i += 1
        return (None if inner is None else (lambda v: {k: None if x is None else inner(x) for k, x in v.items()})), i
    if name == "STRUCT":
        i += 1  # <
        fields = []
        while t[i] != ">":
            fname = t[i].strip("`")
            conv, i = _parse(t, i + 1)
            fields.append((fname, conv))
            if t[i] == ",":
                i += 1
        i += 1
        convs = [(n, c) for n, c in fields if c is not None]
        if not convs:
            return None, i

        def struct(v):
            v = dict(v)
            names = {k.casefold(): k for k in v}  # ksqlDB's names; a cached Avro key's own
            for n, c in convs:
                k = names.get(n.casefold())
                if k is not None and v[k] is not None:
                    v[k] = c(v[k])
            return v
        return struct, i
    if name == "INTEGER" or name == "INT" or name == "BIGINT" or name == "BOOLEAN" or name == "STRING":
        return None, i
    return None, i


def _timestamp(v):
    d = _dt.datetime.fromisoformat(v[:-1] + "+00:00" if v.endswith("Z") else v)  # "Z": Python < 3.11
    return d if d.tzinfo else d.replace(tzinfo=_dt.timezone.utc)


# --------------------------------------------------------------------------- the request

class QueryResult:
    """Rows of one query as they arrive: iterate it; ``columns`` (ksqlDB names) and
    ``types`` are known from the header; ``query_id`` for push queries; ``close()`` ends
    a push query (also on garbage collection / leaving a ``with``)."""

    def __init__(self, resp, header: dict, as_=None, lines=None):
        self._resp = resp
        self._lines = lines
        self.query_id = header.get("queryId")
        self.columns: list[str] = header.get("columnNames") or []
        self.types: list[str] = header.get("columnTypes") or []
        self._convs = [type_converter(t) for t in self.types]
        self._as = as_
        self._build = None
        if as_ is not None:
            from kctx_cli.runtime.codec import _instance_builder

            self._build = _instance_builder(as_)
        self._names = [c.lower() for c in self.columns]

    def _row(self, values: list) -> Any:
        vals = [v if c is None or v is None else c(v) for c, v in zip(self._convs, values)]
        if self._build is not None:
            return self._build(dict(zip(self.columns, vals)))
        return dict(zip(self._names, vals))

    def __iter__(self) -> Iterator[Any]:
        try:
            for line in self._lines:
                if not line:
                    continue
                row = json.loads(line, parse_float=Decimal)
                if isinstance(row, dict):  # an error after the header (e.g. the server stopped the query)
                    if row.get("@type") in ("statement_error", "generic_error") or "message" in row:
                        raise KsqlQueryError(f"ksqlDB: {_one_line(row.get('message', row))}")
                    continue
                yield self._row(row)
        except (OSError, ValueError) as exc:
            if self._resp is None:
                return
            raise KsqlQueryError(f"the ksqlDB query stream broke: {type(exc).__name__}: {exc}") from None
        finally:
            self.close()

    def close(self) -> None:
        """Close the response stream (ends a push query on the server's side); idempotent."""
        if self._resp is not None:
            try:
                self._resp.close()
            finally:
                self._resp = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _one_line(msg) -> str:
    return " ".join(str(msg).split())


def sql_of(query) -> str:
    """KSQL text of a DSL ``select(...)`` (kctx_cli.query.compiler) or a string."""
    if isinstance(query, str):
        text = query.strip()
    else:
        from kctx_cli.query.compiler import render_select

        text = render_select(query).strip()
    return text if text.endswith(";") else text + ";"


def run_query(config, query, *, properties: dict | None = None, as_=None, timeout: float = 30.0) -> QueryResult:
    """POST the query to ``/query-stream``; a refused statement is a ``KsqlQueryError``
    with ksqlDB's message. ``timeout``: seconds to connect and between two reads."""
    import requests

    from kctx_cli.backends.ksqldb import http_session, transport_reason

    # the one place that builds ksqlDB's auth and TLS (basic, bearer, CA, client certificate)
    session, base, shown, _ = http_session(config.require_ksqldb(), config.ksqldb or {})
    body = {"sql": sql_of(query), "properties": dict(properties or {})}
    try:
        resp = session.post(base + "/query-stream", json=body,
                            headers={"Accept": MEDIA, "Content-Type": "application/json"}, stream=True, timeout=timeout)
    except requests.RequestException as exc:
        raise KsqlQueryError(f"cannot reach ksqlDB at {shown}: {transport_reason(exc)}") from None
    lines = resp.iter_lines(decode_unicode=False)
    try:
        first = next(lines, b"")
    except requests.RequestException as exc:
        resp.close()
        raise KsqlQueryError(f"the ksqlDB query stream broke: {type(exc).__name__}") from None
    try:
        header = json.loads(first or b"{}")
    except ValueError:
        resp.close()
        raise KsqlQueryError(f"ksqlDB answered HTTP {resp.status_code} with a body that is not JSON") from None
    if resp.status_code != 200 or header.get("@type") in ("statement_error", "generic_error") or "queryId" not in \
            header and "columnNames" not in header:
        resp.close()
        raise KsqlQueryError(f"ksqlDB refused the query: {_one_line(header.get('message') or header)}")
    return QueryResult(resp, header, as_=as_, lines=lines)
