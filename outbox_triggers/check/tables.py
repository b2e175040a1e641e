"""The tables the toolkit creates (events, dead letters, delivered), compared with what it would create."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers import identifiers
from outbox_triggers.check.findings import Finding
from outbox_triggers.check.trigger_text import unquote

_EVENTS_COLUMNS = sa.text(
    "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME, COLLATION_NAME, EXTRA, COLUMN_DEFAULT "
    "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t "
    "ORDER BY ORDINAL_POSITION"
)

_EVENTS_TABLE = sa.text(
    "SELECT ENGINE, TABLE_COLLATION FROM information_schema.TABLES "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
)

_PRIMARY_KEY = sa.text(
    "SELECT COLUMN_NAME FROM information_schema.STATISTICS "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX"
)

_INT_WIDTH = re.compile(r"^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)")

_COLUMN_LINE = re.compile(r"^\s*(`(?:[^`]|``)+`)\s+(.*?),?\s*$")

_COLUMN_ATTRIBUTE = re.compile(
    r"\s+(?:CHARACTER\s+SET|CHARSET|COLLATE|NOT\s+NULL|NULL|DEFAULT|AUTO_INCREMENT|COMMENT|GENERATED|"
    r"PRIMARY|UNIQUE|INVISIBLE|ON\s+UPDATE)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ColumnShape:
    """One column of the events table as its CREATE TABLE declares it."""

    name: str
    type: str
    nullable: bool
    auto_increment: bool
    charset: str | None
    collation: str | None
    definition: str


@dataclass(frozen=True)
class EventsShape:
    """The events table as its CREATE TABLE declares it: the single source of its expected shape."""

    columns: tuple[ColumnShape, ...]
    primary_key: tuple[str, ...]
    engine: str | None


def events_shape(create_sql: str) -> EventsShape:
    """Parse the rendered ``events_table.sql.j2`` into columns, primary key and engine."""
    columns = []
    primary_key: tuple[str, ...] = ()
    for line in create_sql.splitlines():
        pk = re.match(r"^\s*PRIMARY\s+KEY\s*\((.*)\)", line, re.IGNORECASE)
        if pk:
            primary_key = tuple(unquote(p.strip()) for p in pk.group(1).split(","))
            continue
        match = _COLUMN_LINE.match(line)
        if match:
            columns.append(_column_shape(unquote(match.group(1)), match.group(2)))
    engine = re.search(r"\bENGINE\s*=\s*(\w+)", create_sql, re.IGNORECASE)
    return EventsShape(tuple(columns), primary_key, engine.group(1) if engine else None)


def _column_shape(name: str, rest: str) -> ColumnShape:
    attribute = _COLUMN_ATTRIBUTE.search(" " + rest)
    sql_type = (" " + rest)[: attribute.start()] if attribute else rest
    charset = re.search(r"\b(?:CHARACTER\s+SET|CHARSET)\s+(\w+)", rest, re.IGNORECASE)
    collation = re.search(r"\bCOLLATE\s+(\w+)", rest, re.IGNORECASE)
    return ColumnShape(
        name=name,
        type=normalize_type(sql_type),
        nullable=re.search(r"\bNOT\s+NULL\b", rest, re.IGNORECASE) is None,
        auto_increment=re.search(r"\bAUTO_INCREMENT\b", rest, re.IGNORECASE) is not None,
        charset=charset.group(1).lower() if charset else None,
        collation=collation.group(1).lower() if collation else None,
        definition=f"{identifiers.quote(name)} {rest}",
    )


def normalize_type(sql_type: str) -> str:
    """A column type in one spelling: lower case, single spaces, no integer display width."""
    text = re.sub(r"\s+", " ", sql_type.strip().lower())
    return _INT_WIDTH.sub(r"\1", text).replace("integer", "int")


def events_table_findings(conn: Connection, table: str, create_sql: str) -> list[Finding]:
    """How the live events table differs from what ``create_sql`` creates."""
    return table_findings(conn, table, create_sql, "events_table", "the triggers fail every write")


SUPPORT_ROLES = {
    "dead_letters": ("dead_letters_table", "the relay cannot set aside events no destination accepts"),
    "delivered": ("delivered_table", "relay.retention: keep cannot archive delivered events"),
    "captures": ("captures_table", "a relay with a maxwell or debezium destination cannot start"),
}


def table_findings(conn: Connection, table: str, create_sql: str, kind: str, missing: str) -> list[Finding]:
    """How a table the toolkit creates differs from ``create_sql``; ``missing``: what its absence breaks."""
    info = conn.execute(_EVENTS_TABLE, {"t": table}).first()
    label = kind.replace("_", " ")
    if info is None:
        return [
            Finding(
                f"{kind}_missing",
                table,
                f"{label} {table!r} does not exist: {missing}",
                "run `outbox-triggers migrate` (or, embedded, the service revision that creates it)",
            )
        ]
    expected = events_shape(create_sql)
    live = {str(r[0]): tuple(r) for r in conn.execute(_EVENTS_COLUMNS, {"t": table})}
    pk = tuple(str(r[0]) for r in conn.execute(_PRIMARY_KEY, {"t": table}))
    problems = [p for c in expected.columns for p in _column_problems(table, c, live.get(c.name))]
    problems += _extra_columns(table, expected, live)
    quoted = identifiers.quote(table)
    if expected.primary_key and pk != expected.primary_key:
        problems.append(
            (
                f"primary key is ({', '.join(pk) or 'none'}), expected ({', '.join(expected.primary_key)})",
                "recreate the table from `outbox-triggers render` once the relay has drained it",
            )
        )
    if expected.engine and str(info[0] or "").lower() != expected.engine.lower():
        problems.append(
            (
                f"engine is {info[0]}, expected {expected.engine}: events of rolled-back transactions "
                "would survive and the relay's ordering would break",
                f"ALTER TABLE {quoted} ENGINE={expected.engine}",
            )
        )
    return [Finding(f"{kind}_shape", table, f"{label} {table!r}: {d}", h) for d, h in problems]


def _column_problems(table: str, want: ColumnShape, row: tuple[Any, ...] | None) -> list[tuple[str, str]]:
    alter = f"ALTER TABLE {identifiers.quote(table)}"
    if row is None:
        return [(f"column {want.name!r} is missing", f"{alter} ADD COLUMN {want.definition}")]
    _, column_type, nullable, charset, collation, extra, _ = row
    fix = f"{alter} MODIFY COLUMN {want.definition}"
    found = []
    if normalize_type(str(column_type)) != want.type:
        found.append(f"column {want.name!r} is {column_type}, expected {want.type}")
    if (str(nullable) == "YES") != want.nullable:
        found.append(f"column {want.name!r} is {'' if want.nullable else 'NOT '}expected to be NULL-able")
    if want.auto_increment and "auto_increment" not in str(extra).lower():
        found.append(f"column {want.name!r} is not AUTO_INCREMENT")
    if want.charset and str(charset or "").lower() != want.charset:
        found.append(f"column {want.name!r} has character set {charset}, expected {want.charset}")
    if want.collation and str(collation or "").lower() != want.collation:
        found.append(f"column {want.name!r} has collation {collation}, expected {want.collation}")
    return [(d, fix) for d in found]


def _extra_columns(
    table: str, expected: EventsShape, live: Mapping[str, tuple[Any, ...]]
) -> list[tuple[str, str]]:
    """Extra columns are harmless unless an INSERT that omits them would fail."""
    known = {c.name for c in expected.columns}
    return [
        (
            f"extra column {name!r} is NOT NULL without a default, so every trigger INSERT fails",
            f"ALTER TABLE {identifiers.quote(table)} DROP COLUMN {identifiers.quote(name)}",
        )
        for name, row in live.items()
        if name not in known and row[2] == "NO" and row[6] is None and "auto_increment" not in str(row[5])
    ]
