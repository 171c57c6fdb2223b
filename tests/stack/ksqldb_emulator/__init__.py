"""A ksqlDB REST emulator for kctx's test stack (not ksqlDB; see server.py).

Run: ``python -m tests.stack.ksqldb_emulator --host 127.0.0.1 --port 8088
--bootstrap-servers 127.0.0.1:9092 --schema-registry-url http://127.0.0.1:8081/apis/ccompat/v7``
"""
