"""kctx: Kafka topics, Schema Registry subjects and ksqlDB streams/tables as code.

``from kctx_cli import KafkaContext`` is the services runtime (kctx_cli/runtime/), loaded
on first access so that ``import kctx_cli`` and the CLI stay fast.
"""

__version__ = "0.1.0"

_LAZY = {"KafkaContext": "kctx_cli.runtime"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kctx_cli' has no attribute {name!r}")
