"""Avro offline: schemas derived from entity models (schema, SPEC §3) and the Schema
Registry's compatibility levels checked by the Avro specification's schema-resolution
rules (compat)."""
