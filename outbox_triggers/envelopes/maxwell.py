"""Maxwell's JSON: the row's values encoded as Maxwell's column definitions write them.

Shape (Maxwell's ``RowMap.toJSON``): ``database``, ``table``, ``type``
(insert/update/delete; ``bootstrap-insert``, ``bootstrap-start`` and
``bootstrap-complete`` for backfills), ``ts`` in seconds, ``commit``,
``primary_key``/``primary_key_columns`` when asked, ``data`` (the old row for
a delete) and ``old`` (only the changed columns). The toolkit's extras follow
unless ``extras: false``. An application event goes out as its native object.

Values follow ``com.zendesk.maxwell.schema.columndef``: DATETIME and
TIMESTAMP ``YYYY-MM-DD HH:MM:SS[.f]`` (TIMESTAMP in UTC), zero dates as
``0000-00-00[ 00:00:00]``, DECIMAL as a JSON number (``BigDecimal.toString``),
FLOAT/DOUBLE as the JVM prints them, BINARY(n) without its trailing zero
bytes (the binlog strips them), spatial values as WKT.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from outbox_triggers.envelopes import geometry, java
from outbox_triggers.envelopes.native import APPLICATION, MARKERS, extras, millis, raw
from outbox_triggers.envelopes.types import ColumnType, TableTypes

_TYPE = {
    "insert": "insert",
    "update": "update",
    "delete": "delete",
    "read": "bootstrap-insert",
    "snapshot_start": "bootstrap-start",
    "snapshot_end": "bootstrap-complete",
}
OPTIONS = ("output_primary_keys", "output_primary_key_columns", "output_nulls", "extras")


@dataclass(frozen=True)
class Options:
    """Maxwell's output options that apply without a binlog, plus the toolkit's ``extras`` switch."""

    output_primary_keys: bool = False
    output_primary_key_columns: bool = False
    output_nulls: bool = True
    extras: bool = True

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> Options:
        """Options from a destination's ``maxwell:`` block (validated by the spec's schema)."""
        return cls(**{k: bool(v) for k, v in options.items() if k in OPTIONS})


def message(
    event: dict[str, Any], database: str, types: TableTypes | None, options: Options = Options()
) -> dict[str, Any]:
    """The Maxwell message for a native ``event`` (values re-encoded when ``types`` are known)."""
    op = event["op"]
    if op == APPLICATION:
        return event
    out: dict[str, Any] = {
        "database": database,
        "table": event["table"],
        "type": _TYPE[op],
        "ts": millis(event["ts"]) // 1000,
    }
    if op in MARKERS:
        out["data"] = {}
        return {**out, **extras(event)} if options.extras else out
    before, after = event["before"], event["after"]
    if op in ("insert", "update", "delete"):
        out["commit"] = True
    row = before if op == "delete" else after
    if options.output_primary_keys or options.output_primary_key_columns:
        names = list(types.key if types else (event.get("key") or {}))
        if options.output_primary_keys:
            out["primary_key"] = [_value(types, n, (event.get("key") or {}).get(n)) for n in names]
        if options.output_primary_key_columns:
            out["primary_key_columns"] = names
    out["data"] = _row(types, row or {}, options)
    if op == "update" and before is not None:
        now = after or {}
        old = {k: v for k, v in before.items() if k not in now or now[k] != v}
        out["old"] = _row(types, old, options)
    return {**out, **extras(event)} if options.extras else out


def _row(types: TableTypes | None, row: dict[str, Any], options: Options) -> dict[str, Any]:
    if types is None:
        encoded = row
    else:
        plan = _plan(types)
        encoded = {k: v if (f := plan.get(k)) is None else f(v) for k, v in row.items()}
    return encoded if options.output_nulls else {k: v for k, v in encoded.items() if v is not None}


def _plan(types: TableTypes) -> dict[str, Callable[[Any], Any]]:
    """The encoder of each column whose Maxwell value differs from the native one (the rest pass as is)."""
    plan: dict[str, Callable[[Any], Any]] | None = types.plans.get("maxwell")
    if plan is None:
        plan = types.plans["maxwell"] = {c.name: partial(encode, c) for c in types.columns if _differs(c)}
    return plan


def _differs(column: ColumnType) -> bool:
    if column.kind in _ZERO_KINDS and not column.nullable:
        return True
    if column.kind == "enum":
        return "" not in column.members
    if column.kind == "binary":
        return column.base == "binary"
    return column.kind in ("decimal", "float", "datetime", "timestamp", "time", "bit", "json", "spatial")


def _value(types: TableTypes | None, name: str, value: Any) -> Any:
    column = types.by_name.get(name) if types else None
    return value if column is None else encode(column, value)


def encode(column: ColumnType, value: Any) -> Any:
    """One native value as Maxwell writes a value of ``column``'s type."""
    kind = column.kind
    if value is None:
        return _zero(column) if kind in _ZERO_KINDS and not column.nullable else None
    if kind == "decimal":
        return raw(java.decimal_text(value))
    if kind == "float":
        return raw(java.float_text(float(value), single=column.base == "float"))
    if kind == "datetime":
        return value.replace("T", " ")
    if kind == "timestamp":
        return value.rstrip("Z").replace("T", " ")
    if kind == "binary" and column.base == "binary":
        return base64.b64encode(base64.b64decode(value).rstrip(b"\x00")).decode("ascii")
    if kind == "time":
        return _time(value)
    if kind == "bit":
        return _bit(int(value))
    if kind == "enum" and value == "" and "" not in column.members:
        return None  # EnumColumnDef: the invalid value (index 0) is null
    if kind == "spatial":
        return geometry.wkt(value)
    if kind == "json":  # MySQL: the binlog connector's text as a raw value; MariaDB (LONGTEXT): a string
        text = java.json_text(value)
        return raw(text) if column.base == "json" else text
    return value


_ZERO_KINDS = ("date", "datetime", "timestamp")


def _bit(value: int) -> int:
    """BitColumnDef.asJSON: the BitSet's little-endian bytes summed as Java does it.

    With the top bit of eight bytes set it is the exact BigInteger. Otherwise each byte is shifted
    as a Java ``int`` (the shift distance wraps at 32, the result is a signed 32-bit number) and
    added to a ``long``: exact below 2^31, different from the stored value above (a BIT(64) column
    holding 2^32 arrives as 1), and that is what a Maxwell consumer sees.
    """
    data = value.to_bytes((value.bit_length() + 7) // 8, "little")
    if len(data) == 8 and data[7] > 127:
        return value
    total = 0
    for i, byte in enumerate(data):
        term = (byte << (i * 8 % 32)) & 0xFFFFFFFF
        total += term - (1 << 32) if term >= 1 << 31 else term
    return (total + (1 << 63)) % (1 << 64) - (1 << 63)


_DAY = 86_400


def _time(value: str) -> str:
    """TimeColumnDef: ``java.sql.Time`` of the value prints the time of day (a UTC JVM), so hours wrap at 24.

    ``838:59:59`` is ``22:59:59`` and ``-01:00:00`` is ``23:00:00``; the fraction follows. A negative
    value with a fraction has no faithful form in Maxwell (Java's negative remainder): it passes unchanged.
    """
    negative = value.startswith("-")
    hours, minutes, rest = value.lstrip("-").split(":", 2)
    seconds, dot, fraction = rest.partition(".")
    if (not negative and int(hours) < 24) or (negative and fraction.strip("0")):
        return value
    total = (int(hours) * 3600 + int(minutes) * 60 + int(seconds)) * (-1 if negative else 1) % _DAY
    clock = f"{total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}"
    return clock + dot + fraction


def _zero(column: ColumnType) -> str:
    """Maxwell's zero date: ``0000-00-00``, or ``0000-00-00 00:00:00`` with the column's fractional zeros."""
    if column.kind == "date":
        return "0000-00-00"
    return "0000-00-00 00:00:00" + ("." + "0" * column.fsp if column.fsp else "")
