"""kctx: Kafka topics, Schema Registry subjects and ksqlDB streams/tables as code."""

__version__ = "0.1.0"
