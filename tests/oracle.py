"""The README's type mapping, computed independently of the triggers: what an event must carry.

Each column is read back with a plain SELECT in a UTC, utf8mb4 session and mapped
to JSON in Python, so a test compares what the trigger built inside the write with
what the server says the row holds afterwards.
"""

from __future__ import annotations

import base64
import decimal
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pymysql

from outbox_triggers.identifiers import quote
from outbox_triggers.model import Column

_AS_TEXT = ("date", "datetime", "timestamp", "time")


@dataclass(frozen=True)
class Expect:
    """How to read a column back, and what its JSON must be."""

    column: Column

    def select(self) -> str:
        """The SELECT expression that reads the column without the trigger's own formatting."""
        ref = quote(self.column.name)
        kind = self.column.kind
        if kind in _AS_TEXT or (kind == "string" and self.column.charset is None):
            return f"CAST({ref} AS CHAR)"
        if kind == "spatial":
            return f"ST_AsGeoJSON({ref})"
        if kind == "bit":
            return f"CAST({ref} AS UNSIGNED)"
        if kind == "year":
            return f"{ref} + 0"
        if kind in ("json", "set"):
            return f"CONVERT({ref} USING utf8mb4)"
        return ref

    def json(self, value: Any) -> Any:
        """The documented JSON of ``value``, as the SELECT above returned it."""
        if value is None:
            return None
        kind = self.column.kind
        if kind in _AS_TEXT:
            return _temporal(kind, str(value))
        if kind in ("integer", "bit", "year"):
            return int(value)
        if kind == "decimal":
            return format(decimal.Decimal(value), "f")
        if kind == "float":
            return float(value)
        if kind == "binary":
            return base64.b64encode(bytes(value)).decode()
        if kind in ("enum", "set") and isinstance(value, bytes):
            value = value.decode("utf-8", "replace")  # a binary ENUM: information_schema names it in UTF-8
        if kind == "set":
            return [m for m in str(value).split(",") if m]  # the server writes members in definition order
        if kind in ("json", "spatial"):
            return _json_or_text(str(value))
        return value


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # MariaDB JSON whose CHECK was dropped: carried as a string


def _temporal(kind: str, text: str) -> str | None:
    if kind == "time":
        return text
    date = text[:10]
    if date[5:7] == "00" or date[8:10] == "00":
        return None
    if kind == "date":
        return date
    return text.replace(" ", "T", 1) + ("Z" if kind == "timestamp" else "")


def connect(url: Any, database: str) -> pymysql.Connection[Any]:
    """A utf8mb4 session in UTC, the oracle's view of the data."""
    return pymysql.connect(
        host=url.host,
        port=url.port or 3306,
        user=url.username,
        password=url.password or "",
        database=database,
        charset="utf8mb4",
        autocommit=True,
        init_command="SET time_zone = '+00:00'",
    )


def rows(
    conn: pymysql.Connection[Any], table: str, columns: Sequence[Column], key: Sequence[str]
) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every row of ``table`` as the events must show it, by key."""
    expects = [Expect(c) for c in columns]
    select = ", ".join(e.select() for e in expects)
    order = ", ".join(quote(k) for k in key)
    with conn.cursor() as cur:
        cur.execute(f"SELECT {select} FROM {quote(table)} ORDER BY {order}")
        found = {}
        for raw in cur.fetchall():
            row = {e.column.name: e.json(v) for e, v in zip(expects, raw, strict=True)}
            found[tuple(row[k] for k in key)] = row
    return found


def image_matches(image: Mapping[str, Any] | None, expected: Mapping[str, Any], omitted: Any) -> str | None:
    """Why ``image`` is not ``expected`` (columns listed as omitted excepted), or None."""
    if image is None:
        return "image is null"
    left_out = set(omitted or ())
    for name, want in expected.items():
        if name in left_out:
            if name in image:
                return f"{name!r} is both carried and listed as omitted"
            continue
        if name not in image:
            return f"{name!r} is missing"
        if not _same(image[name], want):
            return f"{name!r}: event has {image[name]!r}, the row has {want!r}"
    extra = set(image) - set(expected)
    return f"unexpected columns {sorted(extra)}" if extra else None


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float) and isinstance(got, int | float):
        return float(got) == want
    return bool(got == want)
