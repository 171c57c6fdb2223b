"""``python -m tests.stack.ksqldb_emulator``: run the kctx ksqlDB REST emulator."""
from __future__ import annotations

import argparse
import signal
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.stack.ksqldb_emulator",
                                description="kctx's ksqlDB REST emulator (test stack; not ksqlDB)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8088)
    p.add_argument("--bootstrap-servers", required=True)
    p.add_argument("--schema-registry-url", default=None)
    p.add_argument("--service-id", default="default_",
                   help="ksql.service.id: names the command topic _confluent-ksql-<id>_command_topic")
    args = p.parse_args(argv)

    from .backend import KafkaBackend
    from .engine import Engine
    from .server import serve

    import socket

    try:  # fail fast on a taken port, before connecting to Kafka
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((args.host, args.port))
    except OSError as e:
        print(f"ksqldb-emulator: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        return 1
    try:
        backend = KafkaBackend(args.bootstrap_servers, args.schema_registry_url, args.service_id)
        engine = Engine(backend, args.service_id)
        engine.replay()
        httpd = serve(engine, args.host, args.port)
    except OSError as e:
        print(f"ksqldb-emulator: cannot listen on {args.host}:{args.port}: {e.strerror}", file=sys.stderr)
        return 1
    except Exception as e:  # broker unreachable, corrupt command topic, ...
        print(f"ksqldb-emulator: cannot start: {e}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(f"ksqldb-emulator listening on http://{args.host}:{httpd.server_address[1]} "
          f"(commands replayed: {engine.state.seq + 1})", file=sys.stderr, flush=True)
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
