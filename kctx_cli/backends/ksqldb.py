"""A small ksqlDB REST client (``POST /ksql``, ``GET /status/<commandId>``, ``GET /info``).

* Each statement is sent alone, with the ``commandSequenceNumber`` of the previous
  command, so the server has applied everything before it (read-your-writes).
* A command that is not finished in the response (QUEUED / PARSING / EXECUTING) is
  awaited by polling ``/status/<commandId>`` until SUCCESS (or ERROR / a timeout).
* A ``statement_error`` becomes ``KsqlStatementError`` with ksqlDB's own message and the
  statement; an unreachable server one ``KctxError`` line naming the URL.

Settings from ``[env.X.ksqldb]``: ``basic.auth.user.info`` ("user:password"),
``ssl.ca.location`` (CA bundle), ``timeout`` (seconds, default 30).
"""
from __future__ import annotations

import time
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
    def __init__(self, message: str, statement: str = "", code: int | None = None):
        short = " ".join(statement.split())
        short = short if len(short) <= 80 else short[:77] + "..."
        super().__init__(f"ksqlDB rejected `{short}`: {message}" if statement else f"ksqlDB: {message}")
        self.reason = message
        self.statement = statement
        self.code = code


class KsqlClient:
    def __init__(self, url: str, settings: dict | None = None, *, timeout: float | None = None,
                 command_timeout: float = 120.0):
        import requests

        settings = dict(settings or {})
        self.url = url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update({"Accept": MEDIA, "Content-Type": MEDIA})
        user_info = settings.get("basic.auth.user.info")
        if user_info and ":" in user_info:
            self.session.auth = tuple(user_info.split(":", 1))
        if settings.get("ssl.ca.location"):
            self.session.verify = settings["ssl.ca.location"]
        self.timeout = float(timeout or settings.get("timeout") or 30)
        self.command_timeout = command_timeout
        self.sequence: int | None = None

    @classmethod
    def from_config(cls, config) -> "KsqlClient":
        return cls(config.require_ksqldb(), config.ksqldb)

    # -- transport -------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict | None = None):
        import requests

        try:
            resp = self.session.request(method, self.url + path, json=body, timeout=self.timeout)
        except requests.RequestException as exc:
            reason = type(exc).__name__
            if isinstance(exc, requests.ConnectionError):
                reason = "connection refused" if "refused" in str(exc).lower() else "connection failed"
            raise KctxError(f"cannot reach ksqlDB at {self.url}: {reason}") from None
        try:
            data = resp.json()
        except ValueError:
            raise KctxError(f"ksqlDB at {self.url} answered HTTP {resp.status_code} with a non-JSON body "
                            f"to {method} {path}") from None
        return resp.status_code, data

    def info(self) -> dict:
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
        for e in self.request("SHOW QUERIES;"):
            if e.get("@type") == "queries":
                return e.get("queries") or []
        return []

