"""Errors of the services runtime (``KafkaContext``): each a ``KctxError`` with one line."""
from __future__ import annotations

from kctx_cli.errors import KctxError


class NotReadyError(KctxError):
    """A server does not answer, or the cluster does not hold what the models need (a
    topic or subject missing, a migration not applied, drift): the message names the
    command that fixes it (``kctx migrate``, ``kctx makemigrations``, ``kctx repair``)."""


class SchemaMismatchError(KctxError):
    """The model's Avro schema differs from the latest version registered for its subject
    (the migrations registered another one): ``kctx makemigrations`` + ``kctx migrate``."""


class SerializationError(KctxError):
    """An entity that cannot be written with the registered schema (a value outside its
    field's type, e.g. set after construction)."""


class DeserializationError(KctxError):
    """A record that cannot be read as the entity: not Confluent-framed Avro, an unknown
    schema id, bytes that do not decode, or a decoded value that does not fit the model.
    ``code`` is the DLQ error code (``deserialization``, ``unknown-schema``...)."""

    def __init__(self, message: str, code: str = "deserialization"):
        super().__init__(message)
        self.code = code


class ProduceError(KctxError):
    """Kafka refused or could not deliver a record (after the producer's own retries)."""


class ConsumeError(KctxError):
    """The consumer failed (topic missing, authorization, broker error)."""
