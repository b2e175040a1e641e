"""The SQL of a backfill: a table's rows as snapshot-read events, rendered by the triggers' templates.

Rendering is pure, like :mod:`outbox_triggers.render`: a capture, a flavor
and the backfill's identity in, statements out; golden files cover them.
Each existing row becomes the event an insert trigger would write for it,
with ``"op": "read"``, plus ``"backfill"`` (its id) and, when the backfill is
for one destination, ``"destination"``. The same ``max_event_bytes`` holds:
the room those two fields take is taken from the values' room, so a
snapshot event is never larger than a trigger's.

Chunks walk the key in order. A key of several columns is compared as
``a > ? OR (a = ? AND b > ?)`` (a row constructor ``(a, b) > (?, ?)`` is not
turned into an index range by every server version); every key value is a
bound parameter, never SQL text.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass

from outbox_triggers import event_size, identifiers
from outbox_triggers.errors import SchemaMismatchError
from outbox_triggers.event_size import Sizing
from outbox_triggers.model import Capture, Trigger
from outbox_triggers.render import template

ROW = "snapshot_row"
"""The alias of the table in every snapshot statement: the row whose image is read."""
OP = "read"


@dataclass(frozen=True)
class SnapshotSizing(Sizing):
    """A read's sizing: measured values travel in user variables (``@outbox_vN``), not trigger locals."""

    def local(self, image: str, column: str) -> str | None:
        """The user variable holding a measured value's JSON text, or None if not measured."""
        name = super().local(image, column)
        return f"@{name}" if name else None

    def of(self, image: str) -> tuple[tuple[str, event_size.Value], ...]:
        """The measured values of one image, with their user variables."""
        return tuple((f"@{name}", value) for name, value in super().of(image))


@dataclass(frozen=True)
class Statements:
    """Everything a backfill of one table runs, but the WHERE clauses: see :func:`chunk_query`."""

    insert: str
    fits: str
    measure: str
    large: str
    sizing: SnapshotSizing
    key: tuple[str, ...]
    table: str


def snapshot_fields(backfill: str, destination: str | None) -> str:
    """The fields a snapshot event adds after ``version``: ``, "backfill": "7"`` (and ``"destination"``)."""
    fields = {"backfill": backfill, **({"destination": destination} if destination else {})}
    return "".join(f", {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items())


def sizing(capture: Capture, extra_bytes: int) -> SnapshotSizing:
    """The read's sizing, its room less ``extra_bytes`` (the snapshot fields), its rows the table's."""
    limited = dataclasses.replace(capture, max_event_bytes=capture.max_event_bytes - extra_bytes)
    try:
        plan = limited.sizing(OP)
    except event_size.TooLarge as exc:
        raise SchemaMismatchError(
            f"tables.{capture.table}: a snapshot event {exc}, more than max_event_bytes "
            f"({capture.max_event_bytes}): exclude columns, or raise max_event_bytes"
        ) from None
    measured = tuple(dataclasses.replace(v, row=ROW) for v in plan.measured)
    return SnapshotSizing(plan.limit, measured, plan.room)


def statements(
    capture: Capture, events_table: str, flavor: str, backfill: str, destination: str | None = None
) -> Statements:
    """The snapshot statements of ``capture`` for backfill ``backfill``."""
    fields = snapshot_fields(backfill, destination)
    plan = sizing(capture, len(fields.encode("utf-8")))
    context = {
        "capture": capture,
        "events_table": events_table,
        "flavor": flavor,
        "snapshot_row": ROW,
        "snapshot_fields": fields,
        "sizing": plan,
        "trigger": Trigger("", capture.table, OP),
    }
    parts = {
        part: template("snapshot.sql.j2", part=part, **context)
        for part in ("insert", "fits", "measure", "large")
    }
    return Statements(
        parts["insert"],
        parts["fits"],
        parts["measure"],
        parts["large"],
        plan,
        tuple(c.name for c in capture.key),
        capture.table,
    )


def after(key: Sequence[str]) -> str:
    """Rows past a key (``%s`` per bound key column, in order), e.g. ``a > %s OR (a = %s AND b > %s)``."""
    return _compare(key, ">", ">")


def up_to(key: Sequence[str]) -> str:
    """Rows up to and including a key, e.g. ``a < %s OR (a = %s AND b <= %s)``."""
    return _compare(key, "<=", "<")


def _compare(key: Sequence[str], last: str, strict: str) -> str:
    """``k1 strict %s OR (k1 = %s AND k2 strict %s) … (… AND kn last %s)``."""
    quoted = [f"{ROW}.{identifiers.quote(k)}" for k in key]
    terms = []
    for i, column in enumerate(quoted):
        equal = [f"{c} = %s" for c in quoted[:i]]
        op = last if i == len(quoted) - 1 else strict
        terms.append("(" + " AND ".join([*equal, f"{column} {op} %s"]) + ")")
    return "(" + " OR ".join(terms) + ")"


def compare_params(values: Sequence[object]) -> list[object]:
    """The parameters of :func:`after`/:func:`up_to` for a key's ``values``, in placeholder order."""
    return [v for i in range(len(values)) for v in values[: i + 1]]


def order_by(key: Sequence[str]) -> str:
    """``ORDER BY`` the key."""
    return "ORDER BY " + ", ".join(f"{ROW}.{identifiers.quote(k)}" for k in key)


def locking(flavor: str, wait: bool = False) -> str:
    """The shared-lock clause of a locking read; unless ``wait``, one that fails at once on a held lock."""
    clause = "LOCK IN SHARE MODE" if flavor == "mariadb" else "FOR SHARE"
    return clause if wait else f"{clause} NOWAIT"


INSERT_ROWS = 1000
"""Rows per INSERT … SELECT within a chunk. Under ``innodb_autoinc_lock_mode`` 1 (MariaDB's
default) an INSERT … SELECT holds the events table's AUTO-INC lock to the end of the statement,
and every trigger's INSERT waits for it: short statements keep that wait to a few milliseconds."""


def chunk_query(s: Statements, flavor: str, first: bool, where: str | None, wait: bool = False) -> str:
    """The locking read that picks a chunk, ``LIMIT %s`` rows past the last key done.

    It locks every row of the chunk but returns only what the backfill needs,
    in key order: the chunk's row count, then each row's place counted from
    the end (1: the last row), key and whether its values surely fit, for
    every :data:`INSERT_ROWS`-th row from the end (where one INSERT ends) and
    every row whose values may not fit. Parameters: the last key done (unless
    ``first``), then the limit. Unless ``wait``, a row locked by a writer fails
    the read at once (``NOWAIT``).
    """
    keys = ", ".join(identifiers.quote(k) for k in s.key)
    columns = ", ".join(f"{ROW}.{identifiers.quote(k)}" for k in s.key)
    backwards = ", ".join(f"{identifiers.quote(k)} DESC" for k in s.key)
    conditions = ([] if first else [after(s.key)]) + ([f"({_escaped(where)}\n)"] if where else [])
    filtered = " WHERE " + " AND ".join(conditions) if conditions else ""
    chunk = (
        f"SELECT {columns}, {_escaped(s.fits)} AS outbox_fits FROM {identifiers.quote(s.table)} AS {ROW}"  # noqa: S608
        f"{filtered} {order_by(s.key)} LIMIT %s {locking(flavor, wait)}"
    )
    return (
        f"SELECT outbox_count, outbox_back, {keys}, outbox_fits FROM (SELECT COUNT(*) OVER () AS "  # noqa: S608
        f"outbox_count, ROW_NUMBER() OVER (ORDER BY {backwards}) AS outbox_back, {keys}, outbox_fits "
        f"FROM ({chunk}) AS outbox_chunk) AS outbox_counted "
        f"WHERE MOD(outbox_back - 1, {INSERT_ROWS}) = 0 OR NOT outbox_fits ORDER BY outbox_back DESC"
    )


def chunk_insert(s: Statements, first: bool, where: str | None) -> str:
    """The INSERT … SELECT of the rows that surely fit between two keys of a chunk.

    Parameters: the key it starts after (unless ``first``), then the key it ends at.
    """
    conditions = ([] if first else [after(s.key)]) + [up_to(s.key), _escaped(s.fits)]
    if where:
        conditions.append(f"({_escaped(where)}\n)")
    return f"{_escaped(s.insert)} WHERE {' AND '.join(conditions)} {order_by(s.key)}"


def one_row(s: Statements, sql: str) -> str:
    """``sql`` (``measure`` or ``large``) for the one row of a key: parameters are its values."""
    equal = " AND ".join(f"{ROW}.{identifiers.quote(k)} = %s" for k in s.key)
    return f"{_escaped(sql)} WHERE {equal}"


def _escaped(sql: str) -> str:
    """SQL text run with driver parameters: its own ``%`` doubled."""
    return sql.replace("%", "%%")
