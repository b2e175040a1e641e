"""Debezium's MySQL change-event value, as Kafka Connect's JSON converter writes it.

Shape: ``before``, ``after``, ``source`` (db, table, ``ts_ms`` the change
time, ``snapshot``; the toolkit's extras unless ``extras: false``), ``op``
(``c``/``u``/``d``, ``r`` for a backfill read with ``source.snapshot``
``"true"``), ``ts_ms`` (the relay's clock) and ``transaction``. With
``schemas.enable`` the value is wrapped as ``{"schema": …, "payload": …}``
(:mod:`outbox_triggers.envelopes.schema`). Backfill markers have no Debezium
message: nothing is sent. An application event becomes what Debezium's
Outbox Event Router emits: its payload as the message.

Values follow the connector's data-type mapping (Debezium MySQL connector
documentation, "How the connector maps data types") under the options
``decimal.handling.mode``, ``time.precision.mode``,
``binary.handling.mode`` and ``bigint.unsigned.handling.mode``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

from outbox_triggers import __version__
from outbox_triggers.envelopes import geometry, java
from outbox_triggers.envelopes.native import APPLICATION, MARKERS, extras, micros, millis, raw
from outbox_triggers.envelopes.types import ColumnType, TableTypes

_OP = {"insert": "c", "update": "u", "delete": "d", "read": "r"}
CHOICES = {
    "decimal.handling.mode": ("precise", "string", "double"),
    "time.precision.mode": ("adaptive_time_microseconds", "connect"),
    "binary.handling.mode": ("bytes", "base64", "base64-url-safe", "hex"),
    "bigint.unsigned.handling.mode": ("long", "precise"),
}
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_NO_BINLOG = {"server_id": 0, "gtid": None, "file": "", "pos": 0, "row": 0, "thread": None, "query": None}
"""The source block's binlog position: there is no binlog, so neutral values (every field is present)."""


@dataclass(frozen=True)
class Options:
    """Debezium's encoding options (under their Debezium names in the spec) and the ``extras`` switch."""

    decimal_handling_mode: str = "precise"
    time_precision_mode: str = "adaptive_time_microseconds"
    binary_handling_mode: str = "bytes"
    bigint_unsigned_handling_mode: str = "long"
    schemas_enable: bool = False
    extras: bool = True

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> Options:
        """Options from a destination's ``debezium:`` block (validated by the spec's schema)."""
        fields = {k.replace(".", "_"): v for k, v in options.items()}
        return cls(**{k: v for k, v in fields.items() if k in cls.__dataclass_fields__})


def value(
    event: dict[str, Any], database: str, types: TableTypes | None, options: Options = Options()
) -> Any:
    """The change-event value for a native ``event``; None for a backfill marker (nothing to send)."""
    op = event["op"]
    if op in MARKERS:
        return None
    if op == APPLICATION:
        return event.get("payload")
    source: dict[str, Any] = {
        "version": __version__,
        "connector": "mysql",
        "name": "outbox-triggers",
        "ts_ms": millis(event["ts"]),
        "snapshot": "true" if op == "read" else "false",
        "db": database,
        "sequence": None,
        "table": event["table"],
        **_NO_BINLOG,
    }
    if options.extras:
        fields = extras(event)
        fields["capture_version"] = fields.pop("version")  # source.version is the connector's version
        source.update(fields)
    return {
        "before": _row(types, event["before"], options),
        "after": _row(types, event["after"], options),
        "source": source,
        "op": _OP[op],
        "ts_ms": int(time.time() * 1000),
        "transaction": None,
    }


def _row(types: TableTypes | None, row: dict[str, Any] | None, options: Options) -> dict[str, Any] | None:
    if row is None or types is None:
        return row
    plan = _plan(types, options)
    return {k: v if (f := plan.get(k)) is None else f(v) for k, v in row.items()}


def _plan(types: TableTypes, options: Options) -> dict[str, Callable[[Any], Any]]:
    """The encoder of each column whose Debezium value differs from the native one, per options."""
    plan: dict[str, Callable[[Any], Any]] | None = types.plans.get(options)
    if plan is None:
        plan = types.plans[options] = {
            c.name: partial(encode, c, options=options) for c in types.columns if _differs(c, options)
        }
    return plan


def _differs(column: ColumnType, options: Options) -> bool:
    kind = column.kind
    if kind == "integer":
        return column.base == "bigint" and column.unsigned
    if kind == "binary":
        return options.binary_handling_mode not in ("bytes", "base64")
    if kind in ("date", "datetime", "timestamp"):
        return kind != "timestamp" or not column.nullable
    return kind not in ("string", "enum", "year")


def encode(column: ColumnType, value: Any, options: Options = Options()) -> Any:
    """One native value as Debezium's MySQL connector writes a value of ``column``'s type."""
    kind = column.kind
    if value is None:
        return (
            _zero(column, options)
            if kind in ("date", "datetime", "timestamp") and not column.nullable
            else None
        )
    handler = _ENCODERS.get(kind)
    return value if handler is None else handler(column, value, options)


def _integer(column: ColumnType, value: int, options: Options) -> Any:
    if column.base == "bigint" and column.unsigned:
        if options.bigint_unsigned_handling_mode == "precise":
            return _unscaled(value)
        return value - (1 << 64) if value >= 1 << 63 else value
    return value


def _decimal(column: ColumnType, value: str, options: Options) -> Any:
    mode = options.decimal_handling_mode
    if mode == "string":
        return value
    if mode == "double":
        return raw(java.float_text(float(value), single=False))
    return _unscaled(_unscaled_value(value, column.scale))


def _unscaled_value(text: str, scale: int) -> int:
    """The DECIMAL ``text`` times 10^scale, exactly (integer arithmetic, no decimal context rounding)."""
    whole, dot, fraction = text.partition(".")
    if len(fraction) == scale and (dot or not scale) and (whole.lstrip("-") + fraction).isdigit():
        return int(whole + fraction)  # the trigger writes exactly the column's scale
    sign, digits, exponent = Decimal(text).as_tuple()
    assert isinstance(exponent, int)
    number = int("".join(map(str, digits)) or "0")
    shift = scale + exponent
    factor = int(10 ** abs(shift))
    number = number * factor if shift >= 0 else number // factor
    return -number if sign else number


def _unscaled(number: int) -> str:
    """Kafka Connect's Decimal in the JSON converter: the unscaled value's two's-complement bytes, base64."""
    size = max(1, (number + (number < 0)).bit_length() // 8 + 1)
    return base64.b64encode(number.to_bytes(size, "big", signed=True)).decode("ascii")


def _float(column: ColumnType, value: float, options: Options) -> Any:
    single = column.base == "float" and (column.length is None or column.length <= 23)
    return raw(java.float_text(float(value), single=single))


def _bit(column: ColumnType, value: int, options: Options) -> Any:
    bits = column.length or 1
    if bits == 1:
        return bool(value)
    return base64.b64encode(int(value).to_bytes((bits + 7) // 8, "little")).decode("ascii")


def _binary(column: ColumnType, value: str, options: Options) -> Any:
    mode = options.binary_handling_mode
    if mode in ("bytes", "base64"):
        return value
    raw = base64.b64decode(value)
    return raw.hex() if mode == "hex" else base64.urlsafe_b64encode(raw).decode("ascii")


def _set(column: ColumnType, value: list[str], options: Options) -> Any:
    return ",".join(value)


def _date(column: ColumnType, value: str, options: Options) -> Any:
    return date.fromisoformat(value).toordinal() - _EPOCH_DAY


def _datetime(column: ColumnType, value: str, options: Options) -> Any:
    us = micros(value)
    if options.time_precision_mode == "connect" or column.fsp <= 3:
        return us // 1000
    return us


def _timestamp(column: ColumnType, value: str, options: Options) -> Any:
    """ZonedTimestamp in UTC with exactly the column's fractional digits (the connector passes its
    precision as the formatter's fractional width), which is the native text already."""
    return value


def _time(column: ColumnType, value: str, options: Options) -> Any:
    negative = value.startswith("-")
    hours, minutes, seconds = value.lstrip("-").split(":")
    whole, _, fraction = seconds.partition(".")
    us = ((int(hours) * 60 + int(minutes)) * 60 + int(whole)) * 1_000_000 + int(
        (fraction or "0").ljust(6, "0")[:6]
    )
    us = -us if negative else us
    return us // 1000 if options.time_precision_mode == "connect" else us


def _json(column: ColumnType, value: Any, options: Options) -> Any:
    """A JSON column's text as Debezium carries it (io.debezium.data.Json: a string)."""
    return java.json_text(value)


def _spatial(column: ColumnType, value: dict[str, Any], options: Options) -> Any:
    wkb = base64.b64encode(geometry.wkb(value)).decode("ascii")
    if column.base == "point" and value.get("coordinates"):
        x, y = value["coordinates"][:2]
        return {"x": float(x), "y": float(y), "wkb": wkb, "srid": None}
    return {"wkb": wkb, "srid": None}


def _zero(column: ColumnType, options: Options) -> Any:
    """A zero date in a NOT NULL column: the epoch (Debezium: null only when the column is optional)."""
    if column.kind == "timestamp":
        return "1970-01-01T00:00:00Z"
    return 0


_ENCODERS: dict[str, Callable[[ColumnType, Any, Options], Any]] = {
    "integer": _integer,
    "decimal": _decimal,
    "float": _float,
    "bit": _bit,
    "binary": _binary,
    "set": _set,
    "date": _date,
    "datetime": _datetime,
    "timestamp": _timestamp,
    "time": _time,
    "json": _json,
    "spatial": _spatial,
}
