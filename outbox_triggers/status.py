"""``outbox-triggers status``: the backlog, its age, dead letters, and who holds the relay locks.

The backlog is counted with one ``GROUP BY table_name`` over the events table
(a scan of it: cheap for a healthy outbox, seconds for millions of events).
Ages use the database clock on both ends, so the host's clock does not matter.

MySQL keeps no record of *when* a named lock was taken. For each held lock,
status shows the holder's connection id, account and host, and how long its
session has been in its current command (``PROCESSLIST.TIME``): the relay
checks its lock before every batch and every empty poll, so that figure stays
near zero while the relay works, and a large one means the holder is stuck.
When the lock was taken is in the relay's log and in its metrics
(``outbox_relay_lock_acquired_timestamp_seconds``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers import backfills, identifiers, introspect
from outbox_triggers.backfills import Backfill
from outbox_triggers.errors import DatabaseError
from outbox_triggers.lock import lock_name, partition_lock_names
from outbox_triggers.spec import DEFAULT_DESTINATION, Spec

UNROUTED = "(unrouted)"


@dataclass(frozen=True)
class TableBacklog:
    """Events waiting for one source table, and the age of the oldest."""

    table: str
    events: int
    oldest_age_s: float


@dataclass(frozen=True)
class LockHolder:
    """A relay lock in use: its name, role, and the session holding it."""

    name: str
    role: str
    connection_id: int
    user: str | None = None
    host: str | None = None
    command: str | None = None
    in_command_s: int | None = None


@dataclass(frozen=True)
class Status:
    """Everything ``status`` reports."""

    events_table: str
    tables: tuple[TableBacklog, ...]
    destinations: Mapping[str, int]
    dead_letters: int | None
    dead_letters_table: str
    locks: tuple[LockHolder, ...]
    lock_names: tuple[str, ...] = field(default=())
    partitions: int = 1
    backfills: tuple[Backfill, ...] = ()

    @property
    def backlog(self) -> int:
        """Events waiting, over all tables."""
        return sum(t.events for t in self.tables)

    @property
    def oldest_age_s(self) -> float | None:
        """Age of the oldest undelivered event, in seconds (None when there is none)."""
        return max((t.oldest_age_s for t in self.tables), default=None)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "events_table": self.events_table,
            "backlog": self.backlog,
            "oldest_age_s": self.oldest_age_s,
            "tables": {t.table: {"events": t.events, "oldest_age_s": t.oldest_age_s} for t in self.tables},
            "destinations": dict(self.destinations),
            "dead_letters": self.dead_letters,
            "dead_letters_table": self.dead_letters_table,
            "partitions": self.partitions,
            "locks_checked": list(self.lock_names),
            "locks": [asdict(h) for h in self.locks],
            "backfills": [b.as_dict() for b in self.backfills],
        }

    def as_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(self.as_dict(), indent=2)

    def as_text(self) -> str:
        """The report for a person."""
        oldest = self.oldest_age_s
        age = "" if oldest is None else f", oldest {_duration(oldest)} old"
        lines = [f"backlog: {self.backlog:,} event(s) in {self.events_table}{age}"]
        lines += [
            f"  table {t.table}: {t.events:,} (oldest {_duration(t.oldest_age_s)})" for t in self.tables
        ]
        lines += [f"  destination {d}: {n:,}" for d, n in sorted(self.destinations.items())]
        dead = "none (no dead-letter table)" if self.dead_letters is None else f"{self.dead_letters:,}"
        lines.append(f"dead letters: {dead}")
        lines += self._lock_lines()
        lines += [_backfill_line(b) for b in self.backfills]
        return "\n".join(lines)

    def _lock_lines(self) -> list[str]:
        if not self.locks:
            return ["relay lock: free (no relay is running)"]
        return [f"relay lock {h.name} ({h.role}): held by {_holder(h)}" for h in self.locks]


def run(conn: Connection, spec: Spec) -> Status:
    """Read the backlog, dead letters and lock holders for ``spec``'s events table; nothing is written."""
    existing = introspect.existing_tables(conn)
    if spec.events_table not in existing:
        raise DatabaseError(
            f"events table {spec.events_table!r} does not exist in the database: run migrate first"
        )
    tables = backlog_by_table(conn, spec.events_table)
    dead_table = identifiers.dead_letters_table(spec.events_table)
    dead = _count(conn, dead_table) if dead_table in existing else None
    names = lock_names(_database(conn), spec.events_table, spec.partitions)
    holders = lock_holders(conn, names)
    found = (
        backfills.read(conn, spec.events_table) if backfills.table_name(spec.events_table) in existing else []
    )
    conn.commit()
    return Status(
        spec.events_table,
        tables,
        by_destination(tables, routes_of(spec), spec.destinations),
        dead,
        dead_table,
        tuple(holders),
        tuple(names),
        spec.partitions,
        tuple(found),
    )


def backlog_by_table(conn: Connection, events_table: str) -> tuple[TableBacklog, ...]:
    """Events waiting per source table, with the age of each table's oldest (database clock)."""
    quoted = identifiers.quote_text(events_table)
    rows = conn.execute(
        sa.text(
            "SELECT table_name, COUNT(*), UNIX_TIMESTAMP(NOW(6)) - UNIX_TIMESTAMP(MIN(created_at)) "  # noqa: S608
            f"FROM {quoted} GROUP BY table_name ORDER BY table_name"
        )
    ).all()
    return tuple(TableBacklog(str(t), int(n), max(0.0, float(age or 0))) for t, n, age in rows)


ROUTING = "routing"


def routes_of(spec: Spec) -> dict[str, tuple[str, ...]]:
    """Table → names of the destinations its events go to; ``*`` for tables the spec does not list."""
    routes = {t.name: tuple(t.destinations) for t in spec.tables}
    if DEFAULT_DESTINATION in spec.destinations:
        routes["*"] = (DEFAULT_DESTINATION,)
    if spec.routing is not None:  # routing picks per event: its events count under "routing"
        routed = (ROUTING,)
        routes = {
            table: names if table in spec.routing.explicit else routed for table, names in routes.items()
        }
        routes["*"] = routed
    return routes


def destinations_of(table: str, routes: Mapping[str, Sequence[str]]) -> Sequence[str]:
    """The destinations ``table``'s events go to, as the relay routes them."""
    return routes.get(table) or routes.get("*") or ()


def by_destination(
    tables: Sequence[TableBacklog], routes: Mapping[str, Sequence[str]], destinations: Mapping[str, Any]
) -> dict[str, int]:
    """Events waiting per destination (an event for two destinations counts for both)."""
    counts = dict.fromkeys(destinations, 0)
    for t in tables:
        for name in destinations_of(t.table, routes) or (UNROUTED,):
            counts[name] = counts.get(name, 0) + t.events
    return counts


def lock_names(database: str, events_table: str, partitions: int = 1) -> dict[str, str]:
    """Every relay lock name for this events table, with what it stands for."""
    names = {lock_name(database, events_table): "relay"}
    if partitions > 1:
        parts, members = partition_lock_names(database, events_table, partitions)
        names |= {name: f"partition {i}" for i, name in enumerate(parts)}
        names |= {name: f"member {j}" for j, name in enumerate(members)}
    return names


def lock_holders(conn: Connection, names: Mapping[str, str]) -> list[LockHolder]:
    """The locks among ``names`` (name → role) in use, each with its holder as PROCESSLIST shows it."""
    if not names:
        return []
    probes = ", ".join(["IS_USED_LOCK(%s)"] * len(names))
    ids = conn.exec_driver_sql(f"SELECT {probes}", tuple(names)).one()
    held = [(name, int(cid)) for name, cid in zip(names, ids, strict=True) if cid is not None]
    sessions = _sessions(conn, sorted({cid for _, cid in held}))
    unknown = (None, None, None, None)
    return [LockHolder(name, names[name], cid, *sessions.get(cid, unknown)) for name, cid in held]


def _sessions(conn: Connection, ids: Sequence[int]) -> dict[int, tuple[str, str, str, int]]:
    if not ids:
        return {}
    rows = conn.execute(
        sa.text(
            "SELECT ID, USER, HOST, COMMAND, TIME FROM information_schema.PROCESSLIST WHERE ID IN :ids"
        ).bindparams(sa.bindparam("ids", expanding=True)),
        {"ids": list(ids)},
    ).all()
    return {int(r[0]): (str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows}


def _count(conn: Connection, table: str) -> int:
    value = conn.execute(sa.text(f"SELECT COUNT(*) FROM {identifiers.quote_text(table)}")).scalar()  # noqa: S608
    return int(value or 0)


def _database(conn: Connection) -> str:
    return str(conn.exec_driver_sql("SELECT DATABASE()").scalar())


def _holder(h: LockHolder) -> str:
    if h.host is None:
        return f"connection {h.connection_id} (account and host need the PROCESS privilege)"
    doing = "idle" if h.command == "Sleep" else f"in {h.command}"
    return f"connection {h.connection_id} ({h.user}@{h.host}), {doing} for {h.in_command_s} s"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _backfill_line(b: Backfill) -> str:
    """``backfill 3 of orders: running, 1,200 of ~40,000 rows, 8,100 rows/s, ETA 4s``."""
    eta = f", ETA {_duration(b.eta_s)}" if b.eta_s is not None else ""
    error = f": {b.error}" if b.error else ""
    total = max(b.rows_estimated, b.rows_done)
    done = f"{b.rows_done:,} of ~{total:,} rows, {b.rate:,.0f} rows/s"
    return f"backfill {b.id} of {b.table}: {b.state}, {done}{eta}{error}"
