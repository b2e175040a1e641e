"""The capture-version registry: which column types each version of the triggers wrote.

Every event carries ``version``, a hash of its table's captured columns (with
their full MySQL types) and capture options. Formats other than ``native``
need those types to encode each value as their peer does, and the live table
can't tell them: an ``ALTER TABLE`` changes it while older events still wait
in the backlog. So each revision records the versions it installs in
``<events_table>_captures`` (``INSERT IGNORE``: a version is recorded once and
never changes), and the relay reads them from there, per version, so a
backlog mixing versions is encoded right.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from outbox_triggers import identifiers
from outbox_triggers.envelopes.types import TableTypes
from outbox_triggers.model import Capture, Model

log = logging.getLogger(__name__)
_EXISTS = sa.text(
    "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
)
RETRY_UNKNOWN_S = 30.0
"""How long a version the registry did not hold stays unknown before the relay looks again."""


class Record(NamedTuple):
    """One registry row: capture version, table, captured columns and key columns (both JSON text)."""

    version: str
    table: str
    columns: str
    key: str

    def types(self) -> TableTypes:
        """The column types this record describes."""
        return TableTypes.from_record(
            self.version, self.table, json.loads(self.columns), json.loads(self.key)
        )


def record(capture: Capture) -> Record:
    """The registry row for one table's capture."""
    columns = [
        {"name": c.name, "type": c.sql_type, "kind": c.kind, "nullable": c.nullable} for c in capture.columns
    ]
    return Record(
        capture.version,
        capture.table,
        json.dumps(columns, ensure_ascii=False, separators=(",", ":")),
        json.dumps([c.name for c in capture.key], ensure_ascii=False, separators=(",", ":")),
    )


def records(model: Model) -> tuple[Record, ...]:
    """The registry rows of every capture in ``model``."""
    return tuple(record(c) for c in model.captures)


def insert_statement(table: str) -> str:
    """``INSERT IGNORE`` of one record into registry ``table``, with bound parameters (for ``sa.text``)."""
    quoted = identifiers.quote_text(table)
    return (
        f"INSERT IGNORE INTO {quoted} (`version`, `table_name`, `columns`, `key_columns`) "  # noqa: S608
        "VALUES (:version, :table, :columns, :key)"
    )


def insert_script(table: str, rows: tuple[Record, ...]) -> list[str]:
    """The same inserts as literal statements, for an offline (``--sql``) script."""
    quoted = identifiers.quote(table)
    return [
        f"INSERT IGNORE INTO {quoted} (`version`, `table_name`, `columns`, `key_columns`) VALUES ("  # noqa: S608
        + ", ".join(identifiers.literal(v) for v in row)
        + ");"
        for row in rows
    ]


def write(conn: Connection, table: str, rows: tuple[Record, ...]) -> None:
    """Record ``rows`` in registry ``table`` (rows already there stay as they are)."""
    if rows:
        conn.execute(sa.text(insert_statement(table)), [row._asdict() for row in rows])


def load(conn: Connection, events_table: str) -> dict[tuple[str, str], Record]:
    """Every recorded capture, by (table, version); empty when the registry table does not exist."""
    table = identifiers.captures_table(events_table)
    if not conn.execute(_EXISTS, {"t": table}).scalar():
        return {}
    rows = conn.exec_driver_sql(
        f"SELECT `version`, `table_name`, `columns`, `key_columns` FROM {identifiers.quote(table)}",  # noqa: S608
        execution_options={"no_parameters": True},
    )
    return {(str(r[1]), str(r[0])): Record(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows}


class Registry:
    """The relay's view of the registry: loaded once, reloaded when an event names a version it lacks.

    A version still missing after a reload is remembered as unknown for
    :data:`RETRY_UNKNOWN_S`, so a backlog of such events costs one query, not one each.
    """

    def __init__(self, engine: Engine, events_table: str) -> None:
        self._engine = engine
        self._events_table = events_table
        self._types: dict[tuple[str, str], TableTypes] = {}
        self._unknown: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._loaded = False

    def types(self, table: str, version: str) -> TableTypes | None:
        """The types of ``table`` at capture ``version``; None when the registry does not hold them."""
        key = (table, version)
        found = self._types.get(key)
        if found is not None:
            return found
        with self._lock:
            if key not in self._types and self._due(key):
                self._try_reload()
            if key not in self._types:
                self._unknown[key] = time.monotonic()
            return self._types.get(key)

    def reload(self) -> None:
        """Read every record again."""
        with self._engine.connect() as conn:
            rows = load(conn, self._events_table)
        self._types = {key: self._types.get(key) or row.types() for key, row in rows.items()}
        self._loaded = True

    def _try_reload(self) -> None:
        """Reload; if the database fails now the version stays unknown (its event is dead-lettered)."""
        try:
            self.reload()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("could not read the capture registry: %s", exc.__class__.__name__)

    def _due(self, key: tuple[str, str]) -> bool:
        seen = self._unknown.get(key)
        return not self._loaded or seen is None or time.monotonic() - seen > RETRY_UNKNOWN_S
