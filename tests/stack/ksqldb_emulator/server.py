"""HTTP layer of the kctx ksqlDB REST emulator (stdlib ThreadingHTTPServer: starts fast).

Endpoints as ksqlDB serves them (``../shared/ksqldb-docs/``): ``POST /ksql``,
``GET /info``, ``GET /healthcheck``, ``GET /status/<commandId>``, ``POST /ksql/terminate``,
``GET /is_valid_property/<name>``, ``GET /clusterStatus``. Responses use ``application/vnd.ksql.v1+json``.
``/info`` says in ``serverStatus`` that this is the kctx emulator, not ksqlDB.
"""
from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

from .engine import BAD_REQUEST, EMULATOR_NOTE, NOT_FOUND, VERSION, Engine

MEDIA_TYPE = "application/vnd.ksql.v1+json"


def make_handler(engine: Engine):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "kctx-ksqldb-emulator"

        def log_message(self, fmt, *args):  # quiet: tests run many requests
            pass

        def _send(self, status: int, body) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", MEDIA_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except ValueError as e:
                self._send(400, {"@type": "generic_error", "error_code": BAD_REQUEST,
                                 "message": f"Invalid JSON in request: {e}"})
                return None
            if not isinstance(body, dict):
                self._send(400, {"@type": "generic_error", "error_code": BAD_REQUEST,
                                 "message": "Invalid JSON in request: expected an object"})
                return None
            return body

        def do_GET(self):
            self._guarded(self._get)

        def do_POST(self):
            self._guarded(self._post)

        def _guarded(self, handler):
            # an unexpected failure (e.g. Kafka gone) is one 50000 error, as ksqlDB answers it
            try:
                handler()
            except Exception as e:  # noqa: BLE001
                try:
                    self._send(500, {"@type": "generic_error", "error_code": 50000,
                                     "message": f"{type(e).__name__}: {e}"})
                except OSError:
                    pass

        def _get(self):
            path = self.path.split("?", 1)[0]
            if path == "/info":
                self._send(200, {"KsqlServerInfo": {
                    "version": VERSION, "kafkaClusterId": engine.backend.cluster_id(),
                    "ksqlServiceId": engine.service_id, "serverStatus": "RUNNING",
                    "emulator": EMULATOR_NOTE}})
            elif path == "/healthcheck":
                kafka_ok = True
                try:
                    engine.backend.cluster_id()
                except Exception:
                    kafka_ok = False
                self._send(200 if kafka_ok else 503, {
                    "isHealthy": kafka_ok,
                    "details": {"metastore": {"isHealthy": True}, "kafka": {"isHealthy": kafka_ok},
                                "commandRunner": {"isHealthy": True}},
                    "serverState": "READY"})
            elif path.startswith("/status/"):
                status, body = engine.status(unquote(path[len("/status/"):]))
                self._send(status, body)
            elif path.startswith("/is_valid_property/"):
                status, body = engine.is_valid_property(unquote(path[len("/is_valid_property/"):]))
                self._send(status, body)
            elif path == "/clusterStatus":
                self._send(200, engine.cluster_status())
            else:
                self._send(404, {"@type": "generic_error", "error_code": NOT_FOUND,
                                 "message": "HTTP 404 Not Found"})

        def _post(self):
            path = self.path.split("?", 1)[0]
            body = self._body()
            if body is None:
                return
            if path == "/ksql":
                status, out = engine.handle_ksql(body)
                self._send(status, out)
            elif path == "/ksql/terminate":
                status, out = engine.terminate_cluster(body)
                self._send(status, out)
            else:
                self._send(404, {"@type": "generic_error", "error_code": NOT_FOUND,
                                 "message": "HTTP 404 Not Found"})

    return Handler


def serve(engine: Engine, host: str, port: int) -> ThreadingHTTPServer:
    httpd = ThreadingHTTPServer((host, port), make_handler(engine))
    httpd.daemon_threads = True
    engine.host = f"{host}:{httpd.server_address[1]}"
    return httpd
