"""Read the live shape of tracked tables through SQLAlchemy.

Column types come from ``information_schema.COLUMNS`` (exact MySQL types,
fractional-second precision, generated columns), keys from SQLAlchemy's
inspector. Nothing here writes.
"""

from __future__ import annotations

import re
import warnings
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
    """Names of the base tables in the connection's database."""
    return set(sa.inspect(conn).get_table_names())


def shapes(conn: Connection, tables: Iterable[str]) -> dict[str, TableShape]:
    """The live shape of each named table that exists; missing ones are left out.

    Read in the pinned trigger session: SQLAlchemy parses SHOW CREATE TABLE,
    which a session sql_mode such as ANSI_QUOTES would change under it.
    """
    with trigger_session.pinned(conn):
        present = existing_tables(conn)
        return {name: shape(conn, name) for name in tables if name in present}


def shape(conn: Connection, table: str) -> TableShape:
    """Columns (in table order, with a JSON kind each) and primary key of ``table``."""
    json_columns = _mariadb_json_columns(conn, table)
    columns = tuple(_column(row, json_columns) for row in conn.execute(_COLUMNS, {"table": table}))
    with warnings.catch_warnings():  # spatial types: SQLAlchemy can't name them; information_schema did
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        inspector = sa.inspect(conn)
        pk = inspector.get_pk_constraint(table).get("constrained_columns") or []
        indexes = inspector.get_indexes(table)
        cascades = _cascades(inspector.get_foreign_keys(table))
    unique = tuple(tuple(str(c) for c in i["column_names"]) for i in indexes if i["unique"])
    return TableShape(table, columns, tuple(pk), unique, cascades)


def _cascades(foreign_keys: list[Any]) -> tuple[CascadingKey, ...]:
    """Foreign keys whose ON DELETE/UPDATE action rewrites this (child) table."""
    found = []
    for fk in foreign_keys:
        options = fk.get("options") or {}
        actions = [
            f"ON {when.upper()[2:]} {options[when].upper()}"
            for when in ("ondelete", "onupdate")
            if str(options.get(when, "")).upper() in ("CASCADE", "SET NULL")
        ]
        if actions:
            found.append(CascadingKey(str(fk.get("name")), str(fk["referred_table"]), ", ".join(actions)))
    return tuple(found)


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
