"""The backfills table, ``<events_table>_backfills``: one row per backfill, its progress and state.

A backfill updates its row in the same transaction as each chunk's events,
so the row's ``last_key`` is always the last key whose event is committed:
a backfill that crashes or is stopped resumes right after it, with no row
emitted twice and none skipped. The table is created by the first backfill
(``CREATE TABLE IF NOT EXISTS``); nothing else writes it.

States: ``running`` (or interrupted: its process died), ``stopped`` (by a
signal, after a whole chunk), ``failed`` (``error`` says why), ``done``.
All but ``done`` resume with ``backfill --resume``. The key is stored as a
JSON list of tagged values, so integers, decimals, strings, bytes and times
come back as the same Python values to bind again.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Connection

from outbox_triggers import identifiers

RESUMABLE = ("running", "stopped", "failed")
MAX_ERROR_CHARS = 4000


def table_name(events_table: str) -> str:
    """The backfills table beside ``events_table``."""
    return identifiers.beside(events_table, "backfills")


def create_sql(events_table: str) -> str:
    """The DDL of the backfills table."""
    return f"""CREATE TABLE IF NOT EXISTS {identifiers.quote(table_name(events_table))} (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `table_name` VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  `where_sql` TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  `destination` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  `last_key` TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  `rows_done` BIGINT UNSIGNED NOT NULL DEFAULT 0,
  `rows_estimated` BIGINT UNSIGNED NOT NULL DEFAULT 0,
  `state` VARCHAR(16) CHARACTER SET ascii NOT NULL,
  `started_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  `updated_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  `finished_at` TIMESTAMP(6) NULL DEFAULT NULL,
  `error` TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  PRIMARY KEY (`id`),
  KEY `by_state` (`state`, `table_name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
  COMMENT='outbox-triggers backfills: progress of each snapshot, updated with its events'"""


@dataclass(frozen=True)
class Backfill:
    """One backfill's row."""

    id: int
    table: str
    where: str | None
    destination: str | None
    last_key: tuple[Any, ...] | None
    rows_done: int
    rows_estimated: int
    state: str
    started_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None
    error: str | None

    @property
    def elapsed_s(self) -> float:
        """Seconds from start to finish (or to the last update)."""
        return max(((self.finished_at or self.updated_at) - self.started_at).total_seconds(), 0.0)

    @property
    def rate(self) -> float:
        """Rows per second over its life so far."""
        return self.rows_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at its rate, from the estimated row count (None when unknown or done)."""
        left = self.rows_estimated - self.rows_done
        if self.state == "done" or left <= 0 or not self.rate:
            return None
        return left / self.rate

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        found = asdict(self)
        found["last_key"] = None if self.last_key is None else encode_key(self.last_key)
        for name in ("started_at", "updated_at", "finished_at"):
            found[name] = found[name].isoformat() if found[name] else None
        return {**found, "rate": round(self.rate, 1), "eta_s": self.eta_s}


_COLUMNS = (
    "id, table_name, where_sql, destination, last_key, rows_done, rows_estimated, state, "
    "started_at, updated_at, finished_at, error"
)


def read(conn: Connection, events_table: str, states: Sequence[str] = ()) -> list[Backfill]:
    """Every backfill (of ``states`` only, if given), oldest first."""
    quoted = identifiers.quote(table_name(events_table))
    rows = conn.exec_driver_sql(f"SELECT {_COLUMNS} FROM {quoted} ORDER BY id").all()  # noqa: S608
    found = [_backfill(row) for row in rows]
    return [b for b in found if not states or b.state in states]


def _backfill(row: Any) -> Backfill:
    values = list(row)
    values[4] = None if values[4] is None else decode_key(values[4])
    return Backfill(*values)


def insert(
    conn: Connection,
    events_table: str,
    table: str,
    where: str | None,
    destination: str | None,
    estimated: int,
) -> int:
    """Record a new running backfill; return its id (the transaction stays open)."""
    quoted = identifiers.quote(table_name(events_table)).replace("%", "%%")
    result = conn.exec_driver_sql(
        f"INSERT INTO {quoted} (table_name, where_sql, destination, rows_estimated, state) "  # noqa: S608
        "VALUES (%s, %s, %s, %s, 'running')",
        (table, where, destination, estimated),
    )
    return int(result.lastrowid)


def advance(conn: Connection, events_table: str, backfill: int, last_key: Sequence[Any], rows: int) -> None:
    """A chunk is written: move ``last_key`` and add ``rows`` (in the chunk's transaction)."""
    quoted = identifiers.quote(table_name(events_table)).replace("%", "%%")
    conn.exec_driver_sql(
        f"UPDATE {quoted} SET last_key = %s, rows_done = rows_done + %s, "  # noqa: S608
        "updated_at = CURRENT_TIMESTAMP(6) WHERE id = %s",
        (encode_key(last_key), rows, backfill),
    )


def set_state(
    conn: Connection, events_table: str, backfill: int, state: str, error: str | None = None
) -> None:
    """Mark the backfill ``state`` (``done`` also sets ``finished_at``); the caller commits."""
    quoted = identifiers.quote(table_name(events_table)).replace("%", "%%")
    finished = ", finished_at = CURRENT_TIMESTAMP(6)" if state == "done" else ""
    conn.exec_driver_sql(
        f"UPDATE {quoted} SET state = %s, error = %s, updated_at = CURRENT_TIMESTAMP(6){finished} "  # noqa: S608
        "WHERE id = %s",
        (state, None if error is None else error[:MAX_ERROR_CHARS], backfill),
    )


def encode_key(values: Sequence[Any]) -> str:
    """A key's values as JSON text that :func:`decode_key` turns back into the same values."""
    return json.dumps([_tagged(v) for v in values], ensure_ascii=False)


def decode_key(text: str) -> tuple[Any, ...]:
    """The key values :func:`encode_key` stored."""
    return tuple(_untagged(tag, value) for tag, value in json.loads(text))


def _tagged(value: Any) -> list[Any]:
    if isinstance(value, bool | int):
        return ["i", int(value)]
    if isinstance(value, Decimal):
        return ["n", str(value)]
    if isinstance(value, float):
        return ["f", value]
    if isinstance(value, bytes | bytearray):
        return ["b", base64.b64encode(bytes(value)).decode("ascii")]
    if isinstance(value, dt.datetime):
        return ["dt", value.isoformat()]
    if isinstance(value, dt.date):
        return ["d", value.isoformat()]
    if isinstance(value, dt.timedelta):
        return ["td", value.total_seconds()]
    return ["s", str(value)]


def _untagged(tag: str, value: Any) -> Any:
    decoders: dict[str, Any] = {
        "i": int,
        "n": Decimal,
        "f": float,
        "b": base64.b64decode,
        "dt": dt.datetime.fromisoformat,
        "d": dt.date.fromisoformat,
        "td": lambda s: dt.timedelta(seconds=s),
        "s": str,
    }
    return decoders[tag](value)
