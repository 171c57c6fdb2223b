"""Clients of the three servers: Kafka (kafka: confluent-kafka factories), the Schema
Registry (registry: the client and a cache of schemas by id), ksqlDB (ksqldb: a REST
client) and the Confluent wire format of Protobuf / JSON Schema payloads (wire)."""
