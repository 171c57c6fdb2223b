"""The services runtime (SPEC §8): the seed's KafkaContext for Python services.

    from kctx_cli import KafkaContext

    with KafkaContext() as ctx:            # kctx.toml, KCTX_ENV, KCTX_* as the CLI reads them
        ctx.ensure_ready()
        ctx.add(Order(order_id=..., amount=Decimal("12.5"), ...))

This package imports the rest of kctx (models, Avro derivation, migrations state, cache,
DLQ headers); nothing outside it imports it, so ``import kctx_cli`` and the CLI stay
light (confluent-kafka, fastavro and rocksdict are imported on first use).
"""
from kctx_cli.runtime.context import KafkaContext
from kctx_cli.runtime.errors import (
    ConsumeError,
    DeserializationError,
    NotReadyError,
    ProduceError,
    SchemaMismatchError,
    SerializationError,
)

__all__ = ["ConsumeError", "DeserializationError", "KafkaContext", "NotReadyError", "ProduceError",
           "SchemaMismatchError", "SerializationError"]
