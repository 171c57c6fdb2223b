"""Secret hygiene: the one redaction step every string kctx prints, logs, writes to a
file or to Kafka goes through (SPEC §9).

What is a secret (the rule's sources: SPEC §9, issue 12, librdkafka's CONFIGURATION.md and
the Schema Registry client's settings):

* URL userinfo in every form — ``scheme://user:pass@host``, ``scheme://token@host``,
  ``scheme://:pass@host`` — becomes ``scheme://***@host`` (the user name goes too: a
  token-only URL carries its secret in that place);
* the value of every configuration key that carries a secret (``is_secret_key``):
  passwords, ``*.pem`` (``ssl.key.pem`` …), JAAS and OAuth configs, ``basic.auth.user.info``,
  bearer tokens, keystore/truststore passwords — in mappings and in ``key=value`` /
  ``key: value`` / ``"key": "value"`` text, and ``password="…"`` inside a JAAS line;
* ``Authorization: Basic|Bearer …`` headers;
* the configured secret values themselves (``register``), wherever they appear in a
  text — a server echoing the password back, an exception quoting the URL.

A server's HTML error page becomes ``HTML page "<title>"``, one line (``html_summary``).

Where it applies: ``install()`` wraps ``sys.stdout`` and ``sys.stderr`` of the ``kctx``
process (every ``print``, rich console, log record, ``--debug`` traceback; records read
from topics that ``tail`` prints as JSON lines or raw bytes are data: in them only the
configured secret values are masked, ``redact_values``), the history
topic's records are redacted before they are produced (``redact_obj``), ``kctx config
show`` prints ``redact_mapping`` / ``redact_url`` of the configuration, and files kctx
writes (migrations) go through ``redact``.
"""
from __future__ import annotations

import base64
import html
import io
import os
import re
import threading
from typing import Any, Iterable, Mapping

MASK = "***"
# a configured value shorter than this is only hidden by the key and URL rules: replacing
# every occurrence of a 2-character password would mangle all output
MIN_VALUE_LEN = 4

# substrings of a (lower-cased, '_'/'-' read as '.') configuration key that carries a secret
SECRET_WORDS = (
    "password", "passwd", "passphrase", "secret", "token", "user.info", "userinfo", "jaas",
    "credentials", "private", "pem", "oauthbearer.config", "bearer", "api.key", "apikey",
)

_secrets: set[str] = set()
_secret_list: tuple[str, ...] = ()  # the same values, longest first: read without the lock
_secret_re: re.Pattern | None = None
_lock = threading.Lock()


def is_secret_key(key: str) -> bool:
    """True when the configuration key ``key`` (any case; ``.``, ``_`` and ``-`` alike,
    e.g. ``sasl.password``, ``SSL_KEY_PEM``, ``basic.auth.user.info``,
    ``sasl.oauthbearer.config``, ``ssl.keystore.password``) carries a secret value."""
    k = key.lower().replace("_", ".").replace("-", ".")
    return any(w in k for w in SECRET_WORDS)


def register(values: Iterable[str | None]) -> None:
    """Remember configured secret values; ``redact`` then replaces each occurrence by
    ``***``. Values shorter than MIN_VALUE_LEN are ignored (the key/URL rules still hide
    them where they stand as configuration). A ``user:password`` value registers its
    password part too."""
    global _secret_re, _secret_list
    added = False
    with _lock:
        for v in values:
            if not isinstance(v, str):
                continue
            parts = {v.strip()}
            if ":" in v:
                # user:password: the password alone, and the Basic credentials a server may echo
                parts.add(v.split(":", 1)[1])
                parts.add(base64.b64encode(v.encode()).decode())
            for p in parts:
                if len(p) >= MIN_VALUE_LEN and p not in _secrets:
                    _secrets.add(p)
                    added = True
        if added:
            alts = sorted(_secrets, key=len, reverse=True)
            _secret_re = re.compile("|".join(re.escape(s) for s in alts))
            _secret_list = tuple(alts)


def register_mapping(conf: Mapping[str, Any] | None) -> None:
    """Register the values of ``conf``'s secret keys and the userinfo of URL values."""
    if not conf:
        return
    values = []
    for k, v in conf.items():
        if not isinstance(v, str):
            continue
        if is_secret_key(str(k)):
            values.append(v)
        values.extend(url_userinfo(v))
    register(values)


def register_environ(environ: Mapping[str, str] | None = None) -> None:
    """Register secrets given as ``KCTX_*`` variables (``KCTX_KAFKA_SASL_PASSWORD``, a URL
    with userinfo in ``KCTX_SCHEMA_REGISTRY_URL`` …) before any configuration is read, so
    even an error while reading kctx.toml cannot print them."""
    environ = os.environ if environ is None else environ
    register_mapping({k: v for k, v in environ.items() if k.startswith("KCTX_")})


def register_config(cfg) -> None:
    """Register every secret of a loaded ``kctx_cli.config.Config``: its client settings'
    secret keys and the userinfo of its URLs."""
    for attr in ("kafka", "schema_registry", "ksqldb"):
        register_mapping(getattr(cfg, attr, None) or {})
    register_mapping({"bootstrap_servers": cfg.bootstrap_servers or "",
                      "schema_registry_url": cfg.schema_registry_url or "",
                      "ksqldb_url": cfg.ksqldb_url or ""})


def clear() -> None:
    """Forget registered values (tests)."""
    global _secret_re, _secret_list
    with _lock:
        _secrets.clear()
        _secret_re = None
        _secret_list = ()


# The rules below run in linear time (topic data printed by tail passes here): each starts
# at a token boundary and takes a whole token at once (a lookahead capture, Python's
# atomic group before 3.11), and they only run when a cheap substring test (_TRIGGERS)
# finds something they could match.
# scheme://userinfo@ (userinfo: anything but '/', '@', whitespace and quotes)
_URL_USERINFO = re.compile(r"(?i)(?<![a-z0-9+._\-])([a-z][a-z0-9+._\-]*://)([^/@\s\"'<>]*)@")
_USERINFO_OF = re.compile(r"(?i)(?<![a-z0-9+._\-])[a-z][a-z0-9+._\-]*://([^/@\s\"'<>]*)@")
_AUTH_HEADER = re.compile(r"(?i)\b(authorization\s*[:=]\s*['\"]?(?:basic|bearer|digest)?\s*)[^\s'\",;}]+")
# credentials of an HTTP auth scheme quoted without their header name ("Basic dXNlcjpw")
_AUTH_SCHEME = re.compile(r"\b((?:Basic|Bearer|BASIC|BEARER|basic|bearer)\s+)[A-Za-z0-9+/=._~\-]{8,}")
# key=value, key: value, "key": "value", 'key'='value' — the key one whole token
_KV = re.compile(r"(?<![A-Za-z0-9_.\-\"'])([\"']?)(?=([A-Za-z0-9_.\-]+))\2\1(\s*[=:]\s*)"
                 r"(\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|[^\s,;)}\]\"']+)")
# keys whose unquoted value runs to the end of the line (a JAAS line, an OAuth config, a PEM)
_LONG_WORDS = ("jaas", "oauthbearer.config", "pem")
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S)
_HTML = re.compile(r"(?is)(?:<!doctype\s+html[^>]*>|<html\b).*?(?:</html\s*>|\Z)")
_TITLE = re.compile(r"(?is)<title[^>]*>(.*?)</title>")
_H1 = re.compile(r"(?is)<h[12][^>]*>(.*?)</h[12]>")
_TAG = re.compile(r"<[^>]+>")
# substrings one of the rules needs (lower case): few and short, each is one fast scan
_TRIGGERS = ("pass", "secret", "token", "info", "jaas", "credential", "private", "pem", "bearer", "basic",
             "authoriz", "api")


def url_userinfo(text: str) -> list[str]:
    """The userinfo parts (``user:pass``, ``token``) of every URL in ``text``."""
    return [m.group(1) for m in _USERINFO_OF.finditer(text or "") if m.group(1)]


def redact_url(url: str | None) -> str | None:
    """``url`` (or a comma-separated list of URLs) with any userinfo replaced:
    ``https://user:pass@h`` / ``https://token@h`` / ``https://:pass@h`` -> ``https://***@h``."""
    if not url:
        return url
    return _URL_USERINFO.sub(lambda m: m.group(1) + MASK + "@", url)


def html_summary(text: str, status: int | None = None) -> str:
    """A server's HTML error page as one line: ``HTTP 500 "Internal Server Error"``
    (the page's <title>, else its first heading, else "HTML page")."""
    m = _TITLE.search(text) or _H1.search(text)
    title = " ".join(html.unescape(_TAG.sub("", m.group(1))).split()) if m else ""
    head = f"HTTP {status} " if status is not None else ""
    return f'{head}HTML page "{title[:120]}"' if title else f"{head}HTML page"


def looks_like_html(text: str) -> bool:
    """True for a body that is an HTML page (a proxy's or servlet container's error page)."""
    t = (text or "").lstrip()[:200].lower()
    return t.startswith("<!doctype html") or t.startswith("<html") or "<html" in t


def http_body(text: str | bytes | None, status: int | None = None, limit: int = 300) -> str:
    """A server's response body fit for a one-line message: an HTML page becomes its
    status and title, anything else is redacted, squeezed to one line and cut at
    ``limit`` characters."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text or ""
    if looks_like_html(text):
        return html_summary(text, status)
    one = " ".join(redact(text).split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


def redact(text: Any) -> Any:
    """``text`` with every secret replaced by ``***`` (see the module's rules); HTML pages
    inside it become one line. Non-strings are returned unchanged. Linear in the length of
    ``text``."""
    if not isinstance(text, str) or not text:
        return text
    text = redact_values(text)
    low = text.lower()
    url = "@" in text and "://" in text
    html_page = "<html" in low or "<!doctype" in low
    pem = "-----begin" in low
    words = any(w in low for w in _TRIGGERS)
    if not (url or html_page or pem or words):
        return text
    if html_page:
        text = _HTML.sub(lambda m: html_summary(m.group(0)), text)
    if pem:
        text = _PEM_BLOCK.sub(MASK, text)
    if url:
        text = _URL_USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    if words:
        text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
        text = _AUTH_SCHEME.sub(lambda m: m.group(1) + MASK, text)
        text = _redact_pairs(text)
    return text


def redact_values(text: str) -> str:
    """``text`` with only the configured secret values (``register``: passwords, tokens,
    URL userinfo of kctx's configuration) replaced by ``***``. The rule for data read from
    topics (``RedactingStream.write_data``): a record is printed as it is except where it
    holds one of kctx's own secrets. A substring test first: one fast scan per value."""
    pat = _secret_re
    if pat is None or not any(v in text for v in _secret_list):
        return text
    return pat.sub(MASK, text)


def _redact_pairs(text: str) -> str:
    """Mask the value of every ``key=value`` / ``key: value`` / ``"key": "value"`` whose key
    carries a secret; for JAAS, OAuth and PEM keys an unquoted value runs to the line's end."""
    out, pos = [], 0
    for m in _KV.finditer(text):
        if m.start() < pos or not is_secret_key(m.group(2)):
            continue
        value = m.group(4)
        start = m.start(4)
        if value[0] in "\"'":
            end = m.end(4)
            out += [text[pos:start], value[0] + MASK + value[0]]
        else:
            end = m.end(4)
            if any(w in m.group(2).lower().replace("_", ".").replace("-", ".") for w in _LONG_WORDS):
                nl = text.find("\n", start)
                end = len(text) if nl < 0 else nl
            out += [text[pos:start], MASK]
        pos = end
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def redact_mapping(d: Mapping[str, Any] | None) -> dict[str, Any]:
    """A copy of a settings mapping: a secret key's value becomes ``***``, other string
    values go through ``redact`` (a URL's userinfo, an embedded secret)."""
    out = {}
    for k, v in (d or {}).items():
        out[k] = MASK if is_secret_key(str(k)) else redact_obj(v)
    return out


def redact_obj(obj: Any) -> Any:
    """``obj`` (JSON-like: dict, list, tuple, str, numbers) with every string redacted and
    every secret key's value replaced, recursively."""
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, Mapping):
        return {k: (MASK if isinstance(k, str) and is_secret_key(k) and isinstance(v, str) and v else redact_obj(v))
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(redact_obj(v) for v in obj)
    return obj


class RedactingStream(io.TextIOBase):
    """A text stream that redacts what it forwards to ``inner`` in whole lines (a secret
    split over two ``write`` calls of one line is still found): line by line to a terminal,
    in blocks of whole lines to a pipe or a file."""

    BLOCK = 65536

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self._parts: list[str] = []
        self._size = 0
        self._text_pending = False
        self._tty: bool | None = None
        self._data = False  # the buffered parts are topic data (write_data)
        self._wlock = threading.RLock()

    def write_data(self, s: str) -> int:
        """Write data read from topics (tail's JSON lines, dlq show, cache get): buffered as
        ``write`` does, but only the configured secret values are masked (``redact_values``):
        the text rules (``key=value`` pairs, URLs, headers) are for kctx's own messages and
        cost a scan per rule on every block of millions of records."""
        return self._write(s, True)

    def write(self, s: str) -> int:
        """Write kctx's own text: every redaction rule applies (``redact``)."""
        return self._write(s, False)

    def _write(self, s: str, data: bool) -> int:
        # a terminal gets each line as it is written; a pipe or file gets blocks of about
        # 64 KB of whole lines (as Python buffers them anyway), redacted a block at a time:
        # far cheaper per record for tail's millions of lines than a line at a time
        if isinstance(s, (bytes, bytearray)):  # click's echo writes bytes to a stream without .buffer
            s = bytes(s).decode(self.encoding or "utf-8", "replace")
        with self._wlock:
            if data != self._data:  # what is buffered goes out under its own rule first
                if self._parts:
                    self._emit(self._pending())
                self._data = data
            self._parts.append(s)
            self._size += len(s)
            if self._tty is None:
                try:
                    self._tty = bool(self.inner.isatty())
                except (AttributeError, ValueError, OSError):
                    self._tty = False
            if (self._tty and "\n" in s) or self._size >= self.BLOCK:
                text = "".join(self._parts)
                done, nl, rest = text.rpartition("\n")
                if not nl:  # one long line: out it goes
                    done, rest = text, ""
                else:
                    done += nl
                self._emit(done)
                self._parts = [rest] if rest else []
                self._size = len(rest)
        return len(s)

    def _pending(self) -> str:
        text = "".join(self._parts)
        self._parts, self._size = [], 0
        return text

    def _emit(self, text: str) -> None:
        self.inner.write(redact_values(text) if self._data else redact(text))
        self._text_pending = True

    def flush(self) -> None:
        with self._wlock:
            if self._parts:
                self._emit(self._pending())
        self.inner.flush()
        self._text_pending = False

    def isatty(self) -> bool:
        return self.inner.isatty()

    def fileno(self) -> int:
        return self.inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self):  # noqa: D401 - mirrors the wrapped stream
        return getattr(self.inner, "encoding", "utf-8")

    @property
    def errors(self):
        return getattr(self.inner, "errors", "strict")

    @property
    def buffer(self):
        """A binary view of the stream for writers of raw bytes (``tail -o raw``): what they write
        is topic data: decoded, the configured secret values masked (as ``write_data``), and
        re-encoded (undecodable bytes kept as they were), so bytes cannot bypass redaction."""
        # writers of raw bytes (tail -o raw) must not bypass redaction: they get a binary
        # view that decodes, redacts and re-encodes
        return _RedactingBuffer(self)

    def close(self) -> None:
        self.flush()


class _RedactingBuffer(io.RawIOBase):
    def __init__(self, stream: RedactingStream):
        super().__init__()
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        stream = self._stream
        with stream._wlock:
            if stream._parts:
                stream._emit(stream._pending())
            if stream._text_pending:  # keep the order of text and bytes written
                stream.inner.flush()
                stream._text_pending = False
        inner = getattr(stream.inner, "buffer", None)
        # raw bytes are topic data (tail -o raw): the configured secret values only
        text = redact_values(bytes(b).decode("utf-8", "surrogateescape"))
        if inner is None:
            stream.inner.write(text)
        else:
            inner.write(text.encode("utf-8", "surrogateescape"))
        return len(b)

    def flush(self) -> None:
        self._stream.flush()


def install() -> None:
    """Route this process's stdout and stderr through the redaction step (idempotent) and
    register the secrets of the ``KCTX_*`` environment; called first by ``kctx``'s entry
    point."""
    import sys

    register_environ()
    for name in ("stdout", "stderr"):
        cur = getattr(sys, name)
        if cur is not None and not isinstance(cur, RedactingStream):
            setattr(sys, name, RedactingStream(cur))
