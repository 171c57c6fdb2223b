"""`kctx dlq`: dead-letter queues — where a record came from, read from its headers
(headers), and list / show / exactly-once replay (core)."""
