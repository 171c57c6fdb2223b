"""A small ksqlDB REST client (``POST /ksql``, ``GET /status/<commandId>``, ``GET /info``).

* Each statement is sent alone, with the ``commandSequenceNumber`` of the previous
  command, so the server has applied everything before it (read-your-writes).
* A command that is not finished in the response (QUEUED / PARSING / EXECUTING) is
  awaited by polling ``/status/<commandId>`` until SUCCESS (or ERROR / a timeout).
* A ``statement_error`` becomes ``KsqlStatementError`` with ksqlDB's own message and the
  statement; an unreachable server one ``KctxError`` line naming the URL.

Settings from ``[env.X.ksqldb]`` (or ``KCTX_KSQLDB_<PROP>``): ``basic.auth.user.info``
("user:password", or userinfo in the URL), ``bearer.auth.token``, ``ssl.ca.location`` (CA
bundle), ``ssl.certificate.location`` + ``ssl.key.location`` (client certificate, mTLS),
``timeout`` (seconds, default 30). ``http_session`` is the one place that turns them into
an HTTP client; every ksqlDB request of kctx goes through a session it built.
"""
from __future__ import annotations

import time
from typing import Any, NamedTuple
from urllib.parse import quote

from kctx_cli.errors import KctxError

MEDIA = "application/vnd.ksql.v1+json"
DONE = ("SUCCESS",)
FAILED = ("ERROR", "TERMINATED")


def _command_topic_conflict(message) -> bool:
    """ksqlDB's answer when it could not write a statement to its command topic: another
    request's transaction fenced its producer, or the command runner was still busy with
    an earlier command ("Timeout while waiting for command topic consumer"). ksqlDB aborts
    the transaction in both cases (DistributedStatementExecutor), so the statement was not
    applied and sending it again is safe."""
    text = str(message or "")
    return "Could not write the statement" in text or "newer producer with the same transactionalId" in text


class KsqlStatementError(KctxError):
    """ksqlDB refused a statement (a ``statement_error`` / ``generic_error`` entity, an HTTP
    error, or a command that ended ERROR / TERMINATED): ``reason`` is ksqlDB's own message,
    ``statement`` the statement sent, ``code`` ksqlDB's ``error_code`` when it gave one
    (/work/shared/ksqldb-docs/ksql-endpoint.md)."""

    def __init__(self, message: str, statement: str = "", code: int | None = None):
        short = " ".join(statement.split())
        short = short if len(short) <= 80 else short[:77] + "..."
        super().__init__(f"ksqlDB rejected `{short}`: {message}" if statement else f"ksqlDB: {message}")
        self.reason = message
        self.statement = statement
        self.code = code


KNOWN_SETTINGS = ("basic.auth.user.info", "bearer.auth.token", "ssl.ca.location", "ssl.certificate.location",
                  "ssl.key.location", "timeout")


class HttpSession(NamedTuple):
    """What ``http_session`` builds: ``session`` (a requests.Session with the auth and TLS
    settings), ``base_url`` (the URL without userinfo and trailing ``/``), ``shown_url`` (as
    messages show it, secrets redacted) and ``timeout`` (seconds per request). Unpacks as
    ``session, base_url, shown_url, timeout``."""

    session: Any
    base_url: str
    shown_url: str
    timeout: float


def http_session(url: str, settings: dict | None = None) -> HttpSession:
    """An HttpSession ``(session, base_url, shown_url, timeout)`` for ksqlDB at ``url`` with
    ``settings`` (see the module): a requests.Session carrying the auth and TLS settings,
    the URL without its userinfo (moved to basic auth), the URL as messages show it
    (kctx_cli.redact) and the timeout in seconds. KctxError for an unknown setting, a non-number timeout, basic
    auth that is not ``user:password``, or a client certificate without its key."""
    import re

    import requests

    from kctx_cli.redact import redact_url

    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(KNOWN_SETTINGS))
    if unknown:
        raise KctxError(f"unknown ksqlDB setting {', '.join(unknown)} (known: {', '.join(KNOWN_SETTINGS)}; "
                        f"from [env.NAME.ksqldb] in kctx.toml or a KCTX_KSQLDB_* variable)")
    session = requests.Session()
    session.headers.update({"Accept": MEDIA, "Content-Type": MEDIA})
    base = url.rstrip("/")
    m = re.match(r"(?i)^([a-z][a-z0-9+.\-]*://)([^/@]*)@(.*)$", base)
    user_info = settings.get("basic.auth.user.info")
    if m:  # https://user:pass@host or https://token@host
        base = m.group(1) + m.group(3)
        user_info = user_info or m.group(2)
    if user_info:
        if ":" not in user_info:
            if settings.get("basic.auth.user.info"):
                raise KctxError("ksqlDB setting basic.auth.user.info must be user:password")
            session.headers["Authorization"] = "Bearer " + user_info  # a token-only URL
        else:
            session.auth = tuple(user_info.split(":", 1))
    if settings.get("bearer.auth.token"):
        session.headers["Authorization"] = "Bearer " + settings["bearer.auth.token"]
    if settings.get("ssl.ca.location"):
        session.verify = settings["ssl.ca.location"]
    cert, key = settings.get("ssl.certificate.location"), settings.get("ssl.key.location")
    if cert:
        session.cert = (cert, key) if key else cert
    elif key:
        raise KctxError("ksqlDB setting ssl.key.location needs ssl.certificate.location (the client certificate)")
    try:
        timeout = float(settings.get("timeout") or 30)
    except ValueError:
        raise KctxError(f"ksqlDB setting timeout must be a number of seconds, got {settings['timeout']!r}") from None
    return HttpSession(session, base, redact_url(base), timeout)


def transport_reason(exc) -> str:
    """One line for a requests failure below HTTP: refused, timed out, TLS."""
    import requests

    text = str(exc).lower()
    if isinstance(exc, requests.exceptions.SSLError) or "certificate" in text or "ssl" in text:
        return "TLS handshake failed (check ssl.ca.location, ssl.certificate.location, ssl.key.location)"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection refused" if "refused" in text else "connection failed"
    return type(exc).__name__


class KsqlClient:
    """A ksqlDB REST client for one server (see the module): ``url`` with ``settings`` (the
    ``[env.X.ksqldb]`` properties, ``http_session``); ``timeout`` seconds per HTTP request
    (default the settings' ``timeout``, else 30); ``command_timeout`` seconds to wait for a
    command to finish (``execute``) or for a busy command topic (``request``). ``sequence``
    is the last command sequence number seen, sent with the next statement. KctxError from
    ``http_session`` for bad settings."""
    def __init__(self, url: str, settings: dict | None = None, *, timeout: float | None = None,
                 command_timeout: float = 120.0):
        self.session, self.base, self.url, configured = http_session(url, settings)
        self.timeout = float(timeout or configured)
        self.command_timeout = command_timeout
        self.sequence: int | None = None

    @classmethod
    def from_config(cls, config) -> "KsqlClient":
        """The client for a project ``Config``: its ksqlDB URL (KctxError when none is configured,
        ``Config.require_ksqldb``) and ``[ksqldb]`` settings."""
        return cls(config.require_ksqldb(), config.ksqldb)

    # -- transport -------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict | None = None):
        import requests

        from kctx_cli.redact import http_body

        try:
            # verify given per request: requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE
            # override a session's own CA otherwise
            resp = self.session.request(method, self.base + path, json=body, timeout=self.timeout,
                                        verify=self.session.verify)
        except requests.RequestException as exc:
            raise KctxError(f"cannot reach ksqlDB at {self.url}: {transport_reason(exc)}") from None
        if resp.status_code in (401, 403):
            raise KctxError(f"ksqlDB at {self.url} refused the credentials (HTTP {resp.status_code}): "
                            f"{http_body(resp.text, limit=120)}; check basic.auth.user.info / the URL's "
                            f"user:password") from None
        try:
            data = resp.json()
        except ValueError:
            raise KctxError(f"ksqlDB at {self.url} answered {method} {path} with HTTP {resp.status_code} and a "
                            f"body that is not JSON: {http_body(resp.text, resp.status_code, limit=160)}") from None
        return resp.status_code, data

    def info(self) -> dict:
        """``GET /info``: the ``KsqlServerInfo`` dict (``version``, ``kafkaClusterId``,
        ``ksqlServiceId``, ...; /work/shared/ksqldb-docs/info-endpoint.md).
        KctxError when the server answers other than HTTP 200 or cannot be reached."""
        status, data = self._call("GET", "/info")
        if status != 200:
            raise KctxError(f"ksqlDB at {self.url}: GET /info answered HTTP {status}")
        return data.get("KsqlServerInfo", data)

    def request(self, statement: str, properties: dict | None = None) -> list[dict]:
        """Send one statement; the list of entities, or KsqlStatementError.

        A statement that ksqlDB could not write to its command topic (HTTP 500) was not
        applied: it is sent again, with a pause growing from 0.2 s to 2 s, until
        ``command_timeout`` seconds have passed. Seen on ksqlDB 8.1.5 when two clients send
        DDL at once, and for tens of seconds after a TERMINATE, while its command runner
        retries deleting the query's consumer group ("GroupNotEmptyException", backoff 3 s,
        6 s, 9 s, ...)."""
        body: dict = {"ksql": statement, "streamsProperties": properties or {}}
        if self.sequence is not None:
            body["commandSequenceNumber"] = self.sequence
        deadline, pause = time.monotonic() + self.command_timeout, 0.2
        while True:
            status, data = self._call("POST", "/ksql", body)
            busy = status >= 500 and isinstance(data, dict) and _command_topic_conflict(data.get("message"))
            if not busy or time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
        if isinstance(data, dict) and data.get("@type") in ("statement_error", "generic_error") or status >= 400:
            if isinstance(data, dict):
                raise KsqlStatementError(str(data.get("message", data)).strip(), statement, data.get("error_code"))
            raise KsqlStatementError(f"HTTP {status}", statement)
        return data if isinstance(data, list) else [data]

    # -- statements ------------------------------------------------------------------
    def execute(self, statement: str, properties: dict | None = None) -> list[dict]:
        """Run a statement and wait until each command it produced has finished."""
        entities = self.request(statement, properties)
        for e in entities:
            if e.get("@type") == "currentStatus":
                seq = e.get("commandSequenceNumber")
                if isinstance(seq, int) and seq >= 0:
                    self.sequence = max(self.sequence or 0, seq)
                self._await(e, statement)
        return entities

    def _await(self, entity: dict, statement: str) -> None:
        status = (entity.get("commandStatus") or {})
        deadline = time.monotonic() + self.command_timeout
        delay = 0.05
        while status.get("status") not in DONE:
            if status.get("status") in FAILED:
                raise KsqlStatementError(status.get("message") or status.get("status"), statement)
            if time.monotonic() > deadline:
                raise KctxError(f"ksqlDB did not finish `{statement[:60]}` within {self.command_timeout:.0f} s "
                                f"(command {entity.get('commandId')}: {status.get('status')})")
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
            code, data = self._call("GET", "/status/" + quote(entity.get("commandId", ""), safe="/"))
            if code == 200 and isinstance(data, dict):
                status = data

    # -- catalog ---------------------------------------------------------------------
    def describe(self, name: str) -> dict | None:
        """``sourceDescription`` of a stream/table, or None when it does not exist."""
        from kctx_cli.ksql.dialect import quote_name

        try:
            entities = self.request(f"DESCRIBE {quote_name(name)};")
        except KsqlStatementError as exc:
            if "not find" in exc.reason.lower() or "does not exist" in exc.reason.lower():
                return None
            raise
        for e in entities:
            if e.get("@type") == "sourceDescription":
                return e["sourceDescription"]
        return None

    def sources(self, names: set[str] | None = None) -> list[dict]:
        """The ``sourceDescription`` of every stream and table, or only of those in
        ``names``. Named sources are listed (SHOW STREAMS/TABLES) and described one by one;
        everything is read with SHOW … EXTENDED, which ksqlDB fails as a whole when a
        source is dropped meanwhile ("Could not find STREAM/TABLE"), so that is retried."""
        if names is not None:
            listed = set()
            for what in ("STREAMS", "TABLES"):
                for e in self.request(f"SHOW {what};"):
                    listed.update(s.get("name") for s in e.get(what.lower()) or [])
            found = (self.describe(name) for name in sorted(listed & set(names)))
            return [d for d in found if d is not None]
        for attempt in range(5):
            try:
                out: list[dict] = []
                for what in ("STREAMS", "TABLES"):
                    for e in self.request(f"SHOW {what} EXTENDED;"):
                        out.extend(e.get("sourceDescriptions") or [])
                return out
            except KsqlStatementError as exc:
                if "could not find" not in exc.reason.lower() or attempt == 4:
                    raise
                time.sleep(0.2)
        return []

    def write_queries(self, name: str) -> list[str]:
        """Ids of the persistent queries writing stream/table ``name`` (DESCRIBE's
        ``writeQueries``); [] when there are none or it does not exist."""
        return [q.get("id") for q in (self.describe(name) or {}).get("writeQueries") or [] if q.get("id")]

    def terminate_writers(self, name: str, timeout: float = 60.0) -> list[str]:
        """TERMINATE every query writing ``name`` and wait (up to ``timeout`` seconds)
        until DESCRIBE lists none; returns the ids terminated.

        Why before a DROP: ksqlDB 8.1.5's ``DROP … DELETE TOPIC`` deletes the sink topic
        before it stops the query writing it; that query's producer then blocks for
        ``delivery.timeout.ms`` (120 s), the DROP times out and later statements queue
        behind it (realstack NOTES.md, "Known hazards"). Raises KctxError on a timeout."""
        done: list[str] = []
        deadline = time.monotonic() + timeout
        while ids := self.write_queries(name):
            if time.monotonic() > deadline:
                raise KctxError(f"ksqlDB still runs {', '.join(ids)} writing {name} {timeout:.0f} s after TERMINATE")
            for qid in ids:
                try:
                    self.execute(f"TERMINATE {qid};")
                    done.append(qid)
                except KsqlStatementError as exc:
                    if "does not exist" not in exc.reason.lower():  # ended meanwhile: fine
                        raise
            time.sleep(0.1)
        return done

    def queries(self) -> list[dict]:
        """``SHOW QUERIES;``: the running queries as ksqlDB lists them (dicts with ``id``,
        ``queryString``, ``sinks``, ...: /work/shared/ksqldb-docs/ksql-endpoint.md), [] when
        there are none.
        KsqlStatementError / KctxError as ``request``."""
        for e in self.request("SHOW QUERIES;"):
            if e.get("@type") == "queries":
                return e.get("queries") or []
        return []

