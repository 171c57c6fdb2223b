"""The emulator's catalog: sources, persistent queries, types, command statuses.

Pure state, changed only by ``State.apply(command, seq)`` — for a request's commands and,
on start, for every command replayed from the command topic — so it is rebuilt exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import sqltypes as T
from .statements import Column, parse_type

KEY_KINDS = ("KEY", "PRIMARY_KEY")


def columns_to_json(cols: list[Column]) -> list:
    return [[c.name, c.type.render(), c.kind, c.header] for c in cols]


def columns_from_json(raw: list) -> list[Column]:
    return [Column(r[0], parse_type(r[1]), r[2], r[3] if len(r) > 3 else None) for r in raw]


@dataclass
class Source:
    name: str
    type: str  # STREAM / TABLE
    columns: list[Column]
    topic: str
    key_format: str
    value_format: str
    timestamp: str = ""
    window_type: str | None = None
    statement: str = ""
    is_source: bool = False
    cas_target: bool = False

    def to_json(self) -> dict:
        d = dict(self.__dict__)
        d["columns"] = columns_to_json(self.columns)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Source":
        d = dict(d)
        d["columns"] = columns_from_json(d["columns"])
        return cls(**d)

    @property
    def keys(self) -> list[Column]:
        return [c for c in self.columns if c.kind in KEY_KINDS]

    @property
    def values(self) -> list[Column]:
        """Columns stored in the record value (not key, not header columns)."""
        return [c for c in self.columns if c.kind is None]

    @property
    def headers(self) -> list[Column]:
        return [c for c in self.columns if c.kind == "HEADERS"]


@dataclass
class PersistentQuery:
    id: str
    statement: str
    sources: list[str]
    sink: str
    sink_topic: str
    create_as: bool


@dataclass
class State:
    sources: dict[str, Source] = field(default_factory=dict)
    queries: dict[str, PersistentQuery] = field(default_factory=dict)
    types: dict[str, T.SqlType] = field(default_factory=dict)
    statuses: dict[str, dict] = field(default_factory=dict)
    seq: int = -1

    def apply(self, cmd: dict, seq: int) -> str:
        """Apply one command (from a request or the command topic); return its message."""
        op = cmd["op"]
        msg = getattr(self, "_" + op)(cmd, seq)
        self.seq = max(self.seq, seq)
        self.statuses[cmd["commandId"]] = {"status": "SUCCESS", "message": msg,
                                           "queryId": cmd.get("query", {}).get("id") if cmd.get("query") else None}
        return msg

    def _create_source(self, cmd, seq):
        src = Source.from_json(cmd["source"])
        self.sources[src.name] = src
        q = cmd.get("query")
        if q:
            self.queries[q["id"]] = PersistentQuery(**q)
            return f"Created query with ID {q['id']}"
        return ("Stream" if src.type == "STREAM" else "Table") + " created"

    def _drop_source(self, cmd, seq):
        name = cmd["name"]
        src = self.sources.pop(name, None)
        if src is None:
            return f"Source {name} does not exist."
        # Dropping a CREATE ... AS target terminates the query that writes it.
        for qid, q in list(self.queries.items()):
            if q.create_as and q.sink == name:
                del self.queries[qid]
        return f"Source {name} (topic: {src.topic}) was dropped."

    def _insert_query(self, cmd, seq):
        q = cmd["query"]
        self.queries[q["id"]] = PersistentQuery(**q)
        return f"Created query with ID {q['id']}"

    def _terminate(self, cmd, seq):
        for qid in cmd["ids"]:
            self.queries.pop(qid, None)
        return "Query terminated."

    def _alter(self, cmd, seq):
        src = self.sources[cmd["name"]]
        src.columns = src.columns + columns_from_json(cmd["columns"])
        src.statement = cmd["statement"]
        return f"{'Stream' if src.type == 'STREAM' else 'Table'} {src.name} altered."

    def _create_type(self, cmd, seq):
        t = parse_type(cmd["type"])
        if cmd["name"] in self.types:
            return f"{cmd['name']} is already registered with type {self.types[cmd['name']].render()}"
        self.types[cmd["name"]] = t
        return f"Registered custom type with name '{cmd['name']}' and SQL type {t.render()}"

    def _drop_type(self, cmd, seq):
        if self.types.pop(cmd["name"], None) is None:
            return f"Type '{cmd['name']}' does not exist"
        return f"Dropped type '{cmd['name']}'"

    # -- helpers --------------------------------------------------------
    def read_queries(self, name: str) -> list[PersistentQuery]:
        return [q for q in self.queries.values() if name in q.sources]

    def write_queries(self, name: str) -> list[PersistentQuery]:
        return [q for q in self.queries.values() if q.sink == name]

    def referenced_by(self, name: str) -> list[str]:
        """Sources created AS SELECT from ``name`` (ksqlDB's drop constraints)."""
        out = set()
        for q in self.queries.values():
            if q.create_as and name in q.sources and q.sink in self.sources:
                out.add(q.sink)
        return sorted(out)

    def hint(self, name: str, source_type: str | None) -> str:
        """ksqlDB's "Did you mean ..." hint for a name that differs only in case."""
        matches = sorted(
            (s for s in self.sources.values()
             if s.name.upper() == name.upper() and (source_type is None or s.type == source_type)),
            key=lambda s: s.name,
        )
        if not matches:
            return ""
        parts = [f"{s.type} {s.name}" for s in matches]
        if len(parts) == 1:
            joined = parts[0]
        else:
            joined = ", ".join(parts[:-1]) + (" or " if len(parts) == 2 else ", or ") + parts[-1]
        # ksqlDB suggests the quoted spelling with backquotes.
        return "\nDid you mean " + joined.replace(matches[0].name, f"\"{matches[0].name}\"") + "? Hint: try adding quotes around the source name."
