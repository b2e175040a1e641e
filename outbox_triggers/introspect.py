"""Read the live shape of tracked tables from information_schema.

Column types come from ``information_schema.COLUMNS`` (exact MySQL types,
character sets, lengths, fractional-second precision, generated columns),
keys from ``STATISTICS`` and cascading foreign keys from
``REFERENTIAL_CONSTRAINTS``. Nothing here writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers import identifiers, trigger_session
from outbox_triggers.model import CascadingKey, Column, TableShape

_COLUMNS = sa.text(
    "SELECT c.COLUMN_NAME, c.DATA_TYPE, c.COLUMN_TYPE, c.DATETIME_PRECISION, c.NUMERIC_SCALE, c.IS_NULLABLE, "
    "c.CHARACTER_SET_NAME, cs.MAXLEN, LEAST(c.CHARACTER_MAXIMUM_LENGTH, c.CHARACTER_OCTET_LENGTH), "
    "c.CHARACTER_OCTET_LENGTH, c.NUMERIC_PRECISION, c.EXTRA "
    "FROM information_schema.COLUMNS c LEFT JOIN information_schema.CHARACTER_SETS cs "
    "ON cs.CHARACTER_SET_NAME = c.CHARACTER_SET_NAME "
    "WHERE c.TABLE_SCHEMA = DATABASE() AND c.TABLE_NAME = :table ORDER BY c.ORDINAL_POSITION"
)
_TABLES = sa.text(
    "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
    "AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')"
)
_UNIQUE = sa.text(
    "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() "
    "AND TABLE_NAME = :table AND NON_UNIQUE = 0 ORDER BY INDEX_NAME, SEQ_IN_INDEX"
)
_CASCADING = ("CASCADE", "SET NULL")
_CASCADES = sa.text(
    "SELECT CONSTRAINT_NAME, REFERENCED_TABLE_NAME, DELETE_RULE, UPDATE_RULE "
    "FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() "
    "AND TABLE_NAME = :table "
    "AND (DELETE_RULE IN ('CASCADE', 'SET NULL') OR UPDATE_RULE IN ('CASCADE', 'SET NULL')) "
    "ORDER BY CONSTRAINT_NAME"
)
_JSON_CHECKS = sa.text(
    "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
    "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = :table"
)
_MEMBER = re.compile(r"'((?:[^'\\]|\\.|'')*)'")
_UNESCAPE = {"0": "\x00", "Z": "\x1a", "n": "\n", "r": "\r", "t": "\t", "b": "\b"}
_TEXT_WIDTH = {"inet6": 39, "inet4": 15, "uuid": 36}
"""Characters in the text form of MariaDB's address and UUID types, which information_schema leaves out."""
_AUTO_UPDATED = re.compile(r"\bon update current_timestamp\b", re.IGNORECASE)
_KINDS = {
    **dict.fromkeys(("tinyint", "smallint", "mediumint", "int", "integer", "bigint"), "integer"),
    **dict.fromkeys(("decimal", "numeric"), "decimal"),
    **dict.fromkeys(("float", "double", "real"), "float"),
    **dict.fromkeys(("char", "varchar", "tinytext", "text", "mediumtext", "longtext"), "string"),
    **dict.fromkeys(("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"), "binary"),
    **dict.fromkeys(
        (
            "geometry",
            "point",
            "linestring",
            "polygon",
            "multipoint",
            "multilinestring",
            "multipolygon",
            "geometrycollection",
            "geomcollection",
        ),
        "spatial",
    ),
    "bit": "bit",
    "enum": "enum",
    "set": "set",
    "date": "date",
    "datetime": "datetime",
    "timestamp": "timestamp",
    "time": "time",
    "year": "year",
    "json": "json",
}


def max_allowed_packet(conn: Connection) -> int:
    """The server's ``max_allowed_packet``: what a new session may build and send."""
    return int(conn.exec_driver_sql("SELECT @@GLOBAL.max_allowed_packet").scalar() or 0)


def existing_tables(conn: Connection) -> set[str]:
    """Names of the base tables (system-versioned ones included) in the connection's database."""
    return set(_engines(conn))


def _engines(conn: Connection) -> dict[str, str]:
    return {str(name): str(engine or "") for name, engine in conn.execute(_TABLES)}


def shapes(conn: Connection, tables: Iterable[str]) -> dict[str, TableShape]:
    """The live shape of each named table that exists; missing ones are left out."""
    engines = _engines(conn)
    return {name: shape(conn, name, engines[name]) for name in tables if name in engines}


def shape(conn: Connection, table: str, engine: str = "InnoDB") -> TableShape:
    """Columns (in table order, with a JSON kind each), keys and cascading foreign keys of ``table``.

    Everything comes from information_schema, never from SHOW CREATE TABLE, so
    no session sql_mode (ANSI_QUOTES, ORACLE…) can change what is read.
    """
    json_columns = _mariadb_json_columns(conn, table)
    columns = tuple(_column(row, json_columns) for row in conn.execute(_COLUMNS, {"table": table}))
    indexes: dict[str, list[str]] = {}
    for index, column in conn.execute(_UNIQUE, {"table": table}):
        indexes.setdefault(str(index), []).append(str(column))
    pk = tuple(indexes.pop("PRIMARY", ()))
    cascades = tuple(_cascade(row) for row in conn.execute(_CASCADES, {"table": table}))
    return TableShape(table, columns, pk, tuple(tuple(c) for c in indexes.values()), cascades, engine)


def _cascade(row: sa.Row[Any]) -> CascadingKey:
    """A foreign key whose ON DELETE/UPDATE action rewrites this (child) table."""
    name, parent, on_delete, on_update = (str(v) for v in row)
    actions = [
        f"ON {when} {rule}"
        for when, rule in (("DELETE", on_delete), ("UPDATE", on_update))
        if rule in _CASCADING
    ]
    return CascadingKey(name, parent, ", ".join(actions))


def _column(row: sa.Row[Any], json_columns: set[str]) -> Column:
    (
        name,
        data_type,
        column_type,
        fsp,
        scale,
        nullable,
        charset,
        char_bytes,
        chars,
        octets,
        precision,
        extra,
    ) = tuple(row)
    data_type = str(data_type).lower()
    kind = "json" if name in json_columns else _KINDS.get(data_type, "string")
    members = tuple(_members(column_type)) if kind in ("enum", "set") else ()
    return Column(
        name,
        kind,
        column_type,
        fsp=int(fsp or 0),
        scale=int(scale or 0),
        members=members,
        nullable=nullable == "YES",
        charset=charset,
        char_bytes=int(char_bytes or 1),
        max_chars=_max_chars(kind, data_type, chars),
        max_bytes=None if octets is None else int(octets),
        precision=int(precision or 0),
        zerofill="zerofill" in str(column_type).lower(),
        auto_updated=bool(_AUTO_UPDATED.search(str(extra or ""))),
    )


def _max_chars(kind: str, data_type: str, chars: Any) -> int | None:
    if chars is not None:
        return int(chars)
    return _TEXT_WIDTH.get(data_type) if kind == "string" else None


def _members(column_type: str) -> list[str]:
    """ENUM/SET members as information_schema writes them: quotes doubled, backslashes escaped."""
    return [
        re.sub(r"\\(.)", lambda m: _UNESCAPE.get(m.group(1), m.group(1)), m.replace("''", "'"))
        for m in _MEMBER.findall(column_type)
    ]


def _mariadb_json_columns(conn: Connection, table: str) -> set[str]:
    """MariaDB stores JSON as LONGTEXT with a ``json_valid(col)`` check; find those columns."""
    found = set()
    for (clause,) in conn.execute(_JSON_CHECKS, {"table": table}):
        text = str(clause).strip()
        if text.lower().startswith("json_valid(`") and text.endswith("`)"):
            found.add(text[len("json_valid(`") : -2].replace("``", "`"))
    return found


def condition_problem(conn: Connection, table: str, operation: str, condition: str) -> str | None:
    """Why ``condition`` cannot guard ``operation``'s trigger on ``table``, or None if it can.

    The server parses it against the real table, aliased as NEW and OLD, in
    the session context the trigger will run in, so a typo fails here and not
    half-way through a migration.
    """
    absent = {"insert": "OLD", "delete": "NEW"}.get(operation)
    if absent and re.search(rf"\b{absent}\s*\.", condition, re.IGNORECASE):
        return f"an {operation} trigger has no {absent} row"
    quoted = identifiers.quote(table)
    probe = f"SELECT 1 FROM {quoted} AS NEW, {quoted} AS OLD WHERE ({condition}) LIMIT 0"  # noqa: S608
    try:
        with trigger_session.pinned(conn), conn.begin_nested():
            conn.exec_driver_sql(probe, execution_options={"no_parameters": True})
    except sa.exc.DBAPIError as exc:
        return f"the server rejects it: {exc.orig.args[-1] if exc.orig is not None else exc}"
    return None
