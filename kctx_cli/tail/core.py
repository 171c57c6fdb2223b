"""``kctx tail``: print a topic's records without joining a group or committing."""
from __future__ import annotations

import json
import re
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any, Callable

from kctx_cli.errors import KctxError
from kctx_cli.tail.decode import Decoded, Decoder, header_value, safe
from kctx_cli.tail.jsonout import dumps, iso_ms, json_default
from kctx_cli.tail.start import parse_start, resolve

OUTPUTS = ("jsonl", "pretty", "raw")


@dataclass
class TailOptions:
    """What ``tail`` reads and prints (the ``kctx tail`` options): ``topic``; ``start`` a
    ``--from`` value (kctx_cli.tail.start); ``follow`` (wait for new records instead of
    stopping at the end); ``max`` records printed at most (None: no limit); ``output`` one of
    OUTPUTS (None: pretty on a terminal, else jsonl); ``partitions`` to read (empty: all, or
    with ``key`` those the key can be in); ``key`` only records with this key, as typed;
    ``scan_all`` (with ``key``: read every partition); ``grep`` a regular expression the
    decoded value must match (searched in its JSON text); ``key_format`` (``--key-format``)."""
    topic: str
    start: str = "beginning"
    follow: bool = False
    max: int | None = None
    output: str | None = None  # None: pretty on a terminal, jsonl otherwise
    partitions: list[int] = field(default_factory=list)
    key: str | None = None
    scan_all: bool = False
    grep: str | None = None
    key_format: str | None = None  # --key-format (kctx_cli.tail.keys.KEY_FORMAT_OPTIONS)


@dataclass
class TailResult:
    """What ``tail`` did: records ``printed`` and ``read``, values that did not decode
    (``undecodable``), the ``partitions`` read, ``registry_errors`` (distinct outages
    warned about), and with ``--key`` the partitions each partitioner puts the key in
    (``key_partitions``: partitioner name -> partitions) and the KeySpec used (``key_spec``)."""
    printed: int = 0
    read: int = 0
    undecodable: int = 0
    partitions: list[int] = field(default_factory=list)
    registry_errors: list[str] = field(default_factory=list)
    # --key: partitioner -> partition it gives for each wire encoding tried, and the spec
    key_partitions: dict[str, list[int]] = field(default_factory=dict)
    key_spec: object = None


def key_text(d: Decoded) -> str | None:
    """The text a user types for a key: the string, or for a one-field record its field,
    else compact JSON (kctx_cli.tail.keys.canonical_text); None for a null key."""
    if d.value is None:
        return None
    from kctx_cli.tail.keys import canonical_text

    return canonical_text(d.value)


class Iso:
    """iso_ms with the seconds part cached: consecutive records share it."""

    __slots__ = ("_sec", "_prefix")

    def __init__(self):
        self._sec = None
        self._prefix = ""

    def __call__(self, ms: int) -> str:
        sec, rem = divmod(ms, 1000)
        if sec != self._sec:
            self._sec = sec
            self._prefix = iso_ms(sec * 1000)[:-5]
        return f"{self._prefix}.{rem:03d}Z"


def record_dict(m, key: Decoded, value: Decoded, iso: Callable[[int], str]) -> dict[str, Any]:
    """The JSON-lines shape of one record (documented in docs/operations.md)."""
    ts_type, ts = m.timestamp()
    d: dict[str, Any] = {
        "topic": m.topic(),
        "partition": m.partition(),
        "offset": m.offset(),
        "timestamp": iso(ts) if ts_type else None,
        "key": key.value,
        "value": value.value,
        "key_format": key.format,
        "value_format": value.format,
    }
    if key.schema_id is not None:
        d["key_schema_id"] = key.schema_id
    if value.schema_id is not None:
        d["value_schema_id"] = value.schema_id
    if key.error:
        d["key_error"] = key.error
    if key.hints:
        d["key_hints"] = key.hints
    if value.error:
        d["value_error"] = value.error
    hs = m.headers()
    if hs:
        d["headers"] = [[k, header_value(v)] for k, v in hs]
    return d


class JsonlSink:
    """One JSON object per line (``record_dict``) on ``out`` (default stdout)."""

    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.iso = Iso()
        # data, not kctx's text: kctx's redacting stdout masks only its secret values in it
        self._write = getattr(self.out, "write_data", self.out.write)

    def write(self, m, key: Decoded, value: Decoded) -> None:
        """Write record ``m`` (a confluent-kafka Message) with its decoded ``key`` and ``value``."""
        self._write(dumps(record_dict(m, key, value, self.iso)) + "\n")

    def close(self) -> None:
        """Flush ``out``."""
        self.out.flush()


class RawSink:
    """The value bytes as they are, one record per line (kcat -f '%s\\n')."""

    def __init__(self, out=None):
        self.out = out or sys.stdout.buffer

    def write(self, m, key, value) -> None:
        """Write the value bytes of record ``m`` and a newline (a null value as an empty line);
        ``key`` and ``value`` are not used."""
        v = m.value()
        self.out.write((v or b"") + b"\n")

    def write_batch(self, msgs) -> None:
        """``write`` for a list of records at once (one write call)."""
        self.out.write(b"\n".join([m.value() or b"" for m in msgs]) + b"\n")

    def close(self) -> None:
        """Flush ``out``."""
        self.out.flush()


class PrettySink:
    """A readable view for people: one header line per record, then the value."""

    def __init__(self, console=None):
        from rich.console import Console

        self.console = console or Console(highlight=False, soft_wrap=True)
        self.iso = Iso()

    def write(self, m, key: Decoded, value: Decoded) -> None:
        """Print record ``m`` (a confluent-kafka Message) with its decoded ``key`` and ``value``:
        a header line (topic[partition]@offset, time, key, formats, schema id), its headers,
        then the value indented; every text from the record passes through ``safe``."""
        from rich.text import Text

        # everything from the record goes through safe(): no control sequence reaches the terminal
        d = record_dict(m, key, value, self.iso)
        head = Text.assemble(
            (safe(d["topic"]), "bold cyan"), (f"[{d['partition']}]@{d['offset']}", "cyan"), "  ",
            (d["timestamp"] or "-", "dim"), "  key=", (safe(_short_json(d["key"])), "yellow"),
        )
        if key.format not in ("string", "null"):
            head.append(f" ({key.format}" + (f" #{key.schema_id}" if key.schema_id is not None else "")
                        + (", " + ", ".join(f"{k} {v}" for k, v in key.hints.items()) if key.hints else "") + ")",
                        "dim")
        if value.schema_id is not None:
            head.append(f"  schema #{value.schema_id}", "magenta")
        elif value.format != "avro":
            head.append(f"  ({value.format})", "dim")
        self.console.print(head)
        for k, v in d.get("headers", []):
            self.console.print(Text.assemble("  ", (safe(k), "green"), "=", safe(str(v))))
        if value.error:
            self.console.print(Text.assemble(("  undecodable: ", "bold red"), safe(value.error)))
            self.console.print(Text("  " + safe(str(value.value)), "red"))
        elif value.value is None:
            self.console.print(Text("  (null: tombstone)", "dim"))
        elif isinstance(value.value, str):
            self.console.print(Text("  " + safe(value.value)))
        else:
            # json.dumps escapes C0 controls; C1 and format characters are escaped by safe()
            # (rich's JSON would re-parse and re-emit them raw)
            text = json.dumps(value.value, default=json_default, ensure_ascii=False, indent=2)
            self.console.print(Text(textwrap.indent(safe(text, lines=True), "  ")))

    def close(self) -> None:
        """Nothing to flush (rich writes as it prints)."""
        pass


def _short_json(v: Any) -> str:
    s = v if isinstance(v, str) else json.dumps(v, default=json_default, ensure_ascii=False)
    return s if len(s) <= 80 else s[:79] + "…"


def make_sink(output: str):
    """The sink for ``output``: ``jsonl`` JsonlSink, ``raw`` RawSink, anything else PrettySink."""
    if output == "jsonl":
        return JsonlSink()
    if output == "raw":
        return RawSink()
    return PrettySink()


def choose_partitions(opts: TailOptions, all_partitions: list[int]) -> list[int]:
    """The partitions ``--partition`` asked for (sorted, duplicates dropped), else
    ``all_partitions``. KctxError naming the first one the topic does not have."""
    if opts.partitions:
        missing = [p for p in opts.partitions if p not in all_partitions]
        if missing:
            raise KctxError(
                f"topic '{opts.topic}' has partitions 0-{max(all_partitions)}; no partition {missing[0]}"
            )
        return sorted(set(opts.partitions))
    return all_partitions


class KeyFilter:
    """``--key``: the wire encodings the writer may have produced for the typed key
    (kctx_cli.tail.keys.encodings), the partitions every known partitioner puts them in,
    and a record test (same bytes, or a framed/JSON key that decodes to the same value)."""

    def __init__(self, text: str, spec, decoder: Decoder, schemas, topic: str, partitions: int):
        from kctx_cli.tail import keys
        from kctx_cli.tail.partitioner import candidates

        self.spec = spec
        self.key = keys.parse_key(text, spec)
        avro = schemas.key_schemas(f"{topic}-key") if schemas is not None and spec.format in (None, "AVRO") else []
        self.encodings = keys.encodings(self.key, spec, avro)
        self.wire = set(self.encodings)
        self.forms = keys.wanted_forms(self.key)
        self.decoder = decoder
        self.by_partitioner: dict[str, list[int]] = {}
        for enc in self.encodings:
            for name, p in candidates(enc, partitions).items():
                got = self.by_partitioner.setdefault(name, [])
                if p not in got:
                    got.append(p)
        self.partitions = sorted({p for ps in self.by_partitioner.values() for p in ps})
        if not self.encodings:  # e.g. a Protobuf key, or no key schema registered: nothing to hash
            self.by_partitioner = {"none (no wire encoding known)": list(range(partitions))}
            self.partitions = list(range(partitions))
        self._loose = spec.format not in ("KAFKA",)

    def __call__(self, raw: bytes | None, decoded: Decoded | None) -> bool:
        if raw is None:
            return False
        if raw in self.wire:
            return True
        if not self._loose:
            return False
        from kctx_cli.tail.keys import norm

        d = decoded if decoded is not None else self.decoder.decode_key(raw)
        if d.error or d.format == "hex":
            return False
        return norm(d.value) in self.forms


def tail(config, opts: TailOptions, *, sink=None, stderr=None) -> TailResult:
    """`kctx tail`: read ``opts.topic`` from ``opts.start`` to its end (or on, with ``follow``),
    without joining a group or committing, decode keys and values (registry schemas when
    ``config`` has a registry), filter (``key``, ``grep``) and write what passes to ``sink``
    (default: ``make_sink`` for the output). Registry outages are warned about once each on
    ``stderr`` (a rich Console; default stderr) and the tail goes on. Ctrl-C ends it
    normally. Returns a TailResult; KctxError for a bad option, a missing topic or
    partition, or Kafka not reachable. ``sink.close()`` may raise BrokenPipeError (``| head``)."""
    from kctx_cli.backends import kafka
    from kctx_cli.backends.registry import SchemaCache, schema_fetcher
    from kctx_cli.tail.reader import batches

    output = opts.output or ("pretty" if sys.stdout.isatty() else "jsonl")
    if output not in OUTPUTS:
        raise KctxError(f"--output must be one of {', '.join(OUTPUTS)}, got '{output}'")
    if opts.max is not None and opts.max < 1:
        raise KctxError(f"--max must be at least 1, got {opts.max}")
    start = parse_start(opts.start)
    grep = None
    if opts.grep is not None:
        try:
            grep = re.compile(opts.grep)
        except re.error as exc:
            raise KctxError(f"--grep: invalid regular expression '{opts.grep}': {exc}") from None

    from kctx_cli.tail import keys as K

    spec = K.spec_from_option(opts.key_format) if opts.key_format else None
    schemas = SchemaCache(schema_fetcher(config)) if config.schema_registry_url else None
    decoder = Decoder(schemas, spec)
    sink = sink or make_sink(output)
    consumer = kafka.consumer(config)
    result = TailResult()
    try:
        tmd = kafka.describe_topic(consumer, opts.topic, config)
        all_parts = sorted(tmd.partitions)
        parts = choose_partitions(opts, all_parts)
        want_key = None
        if opts.key is not None:
            if spec is None:
                spec = decoder.key_spec = K.resolve_spec(config, opts.topic)
            want_key = KeyFilter(opts.key, spec, decoder, schemas, opts.topic, len(all_parts))
            result.key_partitions, result.key_spec = want_key.by_partitioner, spec
            if not opts.partitions and not opts.scan_all:
                parts = want_key.partitions
        result.partitions = parts
        starts, ends = resolve(consumer, opts.topic, parts, start)
        need_value = grep is not None or output != "raw"
        spec_pending = spec is None  # looked up on the first key that is not plain text
        reported = 0
        # raw bytes with nothing to filter: one write per batch (kcat's job, at kcat-like cost)
        bulk = output == "raw" and want_key is None and grep is None and isinstance(sink, RawSink)
        try:
            for msgs in batches(consumer, opts.topic, starts, ends, follow=opts.follow):
                if bulk:
                    if opts.max is not None:
                        msgs = msgs[: opts.max - result.printed]
                    sink.write_batch(msgs)
                    result.read += len(msgs)
                    result.printed += len(msgs)
                    if opts.max is not None and result.printed >= opts.max:
                        return result
                    continue
                for m in msgs:
                    result.read += 1
                    if want_key is not None and not want_key(m.key(), None):
                        continue
                    key = decoder.decode_key(m.key()) if output != "raw" else None
                    if spec_pending and key is not None and key.hints is not None:
                        spec_pending = False
                        decoder.key_spec = K.resolve_spec(config, opts.topic)
                        key = decoder.decode_key(m.key())
                    value = decoder.decode(m.value()) if need_value else None
                    if value is not None and value.error:
                        result.undecodable += 1
                        if len(decoder.registry_errors) > reported:
                            reported = _report(decoder, reported, result, stderr)
                    if grep is not None:
                        v = value.value
                        text = v if isinstance(v, str) else json.dumps(v, default=json_default, ensure_ascii=False)
                        if not grep.search(text or ""):
                            continue
                    sink.write(m, key, value)
                    result.printed += 1
                    if opts.max is not None and result.printed >= opts.max:
                        return result
        except KeyboardInterrupt:
            pass
        return result
    finally:
        try:
            consumer.close()
        finally:
            sink.close()  # may raise BrokenPipeError (`kctx tail | head`): the caller handles it


def _report(decoder, reported: int, result: TailResult, stderr) -> int:
    """One warning per distinct registry outage: the tail goes on, records print as hex."""
    for msg in decoder.registry_errors[reported:]:
        if msg not in result.registry_errors:
            result.registry_errors.append(msg)
            _warn(stderr, f"warning: {msg}; undecodable records are shown as hex, the tail goes on")
    return len(decoder.registry_errors)


def _warn(stderr, message: str) -> None:
    from rich.console import Console

    from rich.text import Text

    (stderr or Console(stderr=True, highlight=False, soft_wrap=True)).print(Text(message, "yellow"))
