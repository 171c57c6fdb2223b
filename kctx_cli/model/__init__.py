"""Entity models: what users import in their models package.

    from kctx_cli.model import Stream, Table, Struct, Key, Precision, Doc, Ignore, ColumnName
"""
from kctx_cli.model.entity import Entity, EntityInfo, Field, Stream, Struct, Table, is_entity_class
from kctx_cli.model.types import (
    Char,
    ColumnName,
    Doc,
    Float32,
    Header,
    Ignore,
    Int32,
    Key,
    Precision,
)
from kctx_cli.sqltypes import SqlType

__all__ = [
    "Char", "ColumnName", "Doc", "Entity", "EntityInfo", "Field", "Float32", "Header", "Ignore", "Int32",
    "Key", "Precision", "SqlType", "Stream", "Struct", "Table", "is_entity_class",
]
