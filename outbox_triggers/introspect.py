"""Read the live shape of tracked tables through SQLAlchemy.

Column types come from ``information_schema.COLUMNS`` (exact MySQL types,
fractional-second precision, generated columns), keys from SQLAlchemy's
inspector. Nothing here writes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers.model import Column, TableShape

_COLUMNS = sa.text(
    "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, DATETIME_PRECISION, NUMERIC_SCALE "
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
    pk = sa.inspect(conn).get_pk_constraint(table).get("constrained_columns") or []
    return TableShape(name=table, columns=columns, primary_key=tuple(pk))


def _column(row: sa.Row[Any], json_columns: set[str]) -> Column:
    name, data_type, column_type, fsp, scale = tuple(row)
    kind = "json" if name in json_columns else _KINDS.get(data_type.lower(), "string")
    members = (
        tuple(m.replace("''", "'") for m in _MEMBER.findall(column_type)) if kind in ("enum", "set") else ()
    )
    return Column(name, kind, column_type, fsp=int(fsp or 0), scale=int(scale or 0), members=members)


def _mariadb_json_columns(conn: Connection, table: str) -> set[str]:
    """MariaDB stores JSON as LONGTEXT with a ``json_valid(col)`` check; find those columns."""
    found = set()
    for (clause,) in conn.execute(_JSON_CHECKS, {"table": table}):
        text = str(clause).strip()
        if text.lower().startswith("json_valid(`") and text.endswith("`)"):
            found.add(text[len("json_valid(`") : -2].replace("``", "`"))
    return found
