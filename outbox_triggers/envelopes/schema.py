"""The Kafka Connect schema Debezium sends with ``schemas.enable``: the envelope struct for one table.

Each column's field follows the connector's type mapping: its Connect type
(``int16``, ``int64``, ``bytes``…), ``optional`` from the column's
nullability and, for logical types, ``name``/``version``/``parameters``
(``org.apache.kafka.connect.data.Decimal`` with ``scale`` and
``connect.decimal.precision``, ``io.debezium.time.Date``…).
"""

from __future__ import annotations

from typing import Any

from outbox_triggers.envelopes.debezium import Options
from outbox_triggers.envelopes.types import ColumnType, TableTypes

_INTEGER = {"tinyint": "int16", "smallint": "int16", "mediumint": "int32", "int": "int32", "integer": "int32"}
_UNSIGNED = {
    "tinyint": "int16",
    "smallint": "int32",
    "mediumint": "int32",
    "int": "int64",
    "integer": "int64",
}
_SOURCE = (
    ("version", "string", False),
    ("connector", "string", False),
    ("name", "string", False),
    ("ts_ms", "int64", False),
    ("snapshot", "string", True),
    ("db", "string", False),
    ("sequence", "string", True),
    ("table", "string", True),
    ("server_id", "int64", False),
    ("gtid", "string", True),
    ("file", "string", False),
    ("pos", "int64", False),
    ("row", "int32", False),
    ("thread", "int64", True),
    ("query", "string", True),
)
_EXTRAS = (
    ("event_id", "string", True),
    ("event_type", "string", True),
    ("aggregate_type", "string", True),
    ("capture_version", "string", True),
)
"""The extras with a fixed type; ``aggregate_id`` (any JSON) has no Connect type: not in the schema."""


def envelope(database: str, types: TableTypes, options: Options) -> dict[str, Any]:
    """The schema of the change-event value of ``types.table``."""
    prefix = f"outbox-triggers.{database}.{types.table}"
    row = {"type": "struct", "fields": [field(c, options) for c in types.columns], "optional": True}
    return {
        "type": "struct",
        "fields": [
            {**row, "name": f"{prefix}.Value", "field": "before"},
            {**row, "name": f"{prefix}.Value", "field": "after"},
            _source(options),
            {"type": "string", "optional": False, "field": "op"},
            {"type": "int64", "optional": True, "field": "ts_ms"},
            _transaction(),
        ],
        "optional": False,
        "name": f"{prefix}.Envelope",
        "version": 1,
    }


def field(column: ColumnType, options: Options) -> dict[str, Any]:
    """One column's field in the row struct."""
    described = {**_describe(column, options), "optional": column.nullable, "field": column.name}
    return described


def _describe(column: ColumnType, options: Options) -> dict[str, Any]:
    kind, base = column.kind, column.base
    if kind == "integer":
        if base == "bigint":
            if column.unsigned and options.bigint_unsigned_handling_mode == "precise":
                return _decimal_type(0, 20)
            return {"type": "int64"}
        return {"type": (_UNSIGNED if column.unsigned else _INTEGER).get(base, "int32")}
    if kind == "decimal":
        mode = options.decimal_handling_mode
        if mode == "string":
            return {"type": "string"}
        if mode == "double":
            return {"type": "double"}
        return _decimal_type(column.scale, column.precision)
    if kind == "float":
        single = base == "float" and (column.length is None or column.length <= 23)
        return {"type": "float" if single else "double"}
    if kind == "bit":
        bits = column.length or 1
        return (
            {"type": "boolean"} if bits == 1 else _logical("bytes", "io.debezium.data.Bits", length=str(bits))
        )
    if kind == "binary":
        return {"type": "bytes" if options.binary_handling_mode == "bytes" else "string"}
    if kind == "enum":
        return _logical("string", "io.debezium.data.Enum", allowed=",".join(column.members))
    if kind == "set":
        return _logical("string", "io.debezium.data.EnumSet", allowed=",".join(column.members))
    if kind == "json":  # MariaDB's JSON is LONGTEXT: a plain string
        return _logical("string", "io.debezium.data.Json") if base == "json" else {"type": "string"}
    if kind == "spatial":
        return _geometry(base)
    return _temporal(column, options) or {"type": "string"}


def _temporal(column: ColumnType, options: Options) -> dict[str, Any] | None:
    kind, connect = column.kind, options.time_precision_mode == "connect"
    if kind == "date":
        return _logical("int32", "org.apache.kafka.connect.data.Date" if connect else "io.debezium.time.Date")
    if kind == "datetime":
        if connect:
            return _logical("int64", "org.apache.kafka.connect.data.Timestamp")
        micro = column.fsp > 3
        return _logical("int64", "io.debezium.time.MicroTimestamp" if micro else "io.debezium.time.Timestamp")
    if kind == "timestamp":
        return _logical("string", "io.debezium.time.ZonedTimestamp")
    if kind == "time":
        return (
            _logical("int32", "org.apache.kafka.connect.data.Time")
            if connect
            else _logical("int64", "io.debezium.time.MicroTime")
        )
    if kind == "year":
        return _logical("int32", "io.debezium.time.Year")
    return None


def _logical(kind: str, name: str, **parameters: str) -> dict[str, Any]:
    described: dict[str, Any] = {"type": kind, "name": name, "version": 1}
    if parameters:
        described["parameters"] = parameters
    return described


def _decimal_type(scale: int, precision: int) -> dict[str, Any]:
    return _logical(
        "bytes",
        "org.apache.kafka.connect.data.Decimal",
        scale=str(scale),
        **{"connect.decimal.precision": str(precision)},
    )


def _geometry(base: str) -> dict[str, Any]:
    fields = [
        {"type": "bytes", "optional": False, "field": "wkb"},
        {"type": "int32", "optional": True, "field": "srid"},
    ]
    if base == "point":
        coordinates = [{"type": "double", "optional": False, "field": axis} for axis in ("x", "y")]
        return {
            "type": "struct",
            "fields": coordinates + fields,
            "name": "io.debezium.data.geometry.Point",
            "version": 1,
        }
    return {"type": "struct", "fields": fields, "name": "io.debezium.data.geometry.Geometry", "version": 1}


def _source(options: Options) -> dict[str, Any]:
    described = [{"type": t, "optional": o, "field": f} for f, t, o in _SOURCE]
    if options.extras:
        described += [{"type": t, "optional": o, "field": f} for f, t, o in _EXTRAS]
    return {
        "type": "struct",
        "fields": described,
        "optional": False,
        "name": "io.debezium.connector.mysql.Source",
        "field": "source",
    }


def _transaction() -> dict[str, Any]:
    return {
        "type": "struct",
        "fields": [
            {"type": "string", "optional": False, "field": "id"},
            {"type": "int64", "optional": False, "field": "total_order"},
            {"type": "int64", "optional": False, "field": "data_collection_order"},
        ],
        "optional": True,
        "name": "event.block",
        "version": 1,
        "field": "transaction",
    }
