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

from outbox_triggers import identifiers
from outbox_triggers.model import CascadingKey, Column, TableShape

_COLUMNS = sa.text(
    "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, DATETIME_PRECISION, NUMERIC_SCALE, IS_NULLABLE "
    "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table "
    "ORDER BY ORDINAL_POSITION"
)
_JSON_CHECKS = sa.text(
    "SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
    "WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME = :table"
)
_MEMBER = re.compile(r"'((?:[^']|'')*)'")
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


def existing_tables(conn: Connection) -> set[str]:
    """Names of the base tables in the connection's database."""
    return set(sa.inspect(conn).get_table_names())


def shapes(conn: Connection, tables: Iterable[str]) -> dict[str, TableShape]:
    """The live shape of each named table that exists; missing ones are left out."""
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
    name, data_type, column_type, fsp, scale, nullable = tuple(row)
    kind = "json" if name in json_columns else _KINDS.get(data_type.lower(), "string")
    members = (
        tuple(m.replace("''", "'") for m in _MEMBER.findall(column_type)) if kind in ("enum", "set") else ()
    )
    return Column(
        name,
        kind,
        column_type,
        fsp=int(fsp or 0),
        scale=int(scale or 0),
        members=members,
        nullable=nullable == "YES",
    )


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

    The server parses it against the real table, aliased as NEW and OLD, so a
    typo fails here and not half-way through a migration.
    """
    absent = {"insert": "OLD", "delete": "NEW"}.get(operation)
    if absent and re.search(rf"\b{absent}\s*\.", condition, re.IGNORECASE):
        return f"an {operation} trigger has no {absent} row"
    quoted = identifiers.quote(table)
    probe = f"SELECT 1 FROM {quoted} AS NEW, {quoted} AS OLD WHERE ({condition}) LIMIT 0"  # noqa: S608
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(probe, execution_options={"no_parameters": True})
    except sa.exc.DBAPIError as exc:
        return f"the server rejects it: {exc.orig.args[-1] if exc.orig is not None else exc}"
    return None
