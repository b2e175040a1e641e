"""Every user command as a plain function; the CLI is a thin shell over these.

Each function takes paths and settings, does its work, and returns a value or
raises an :class:`~outbox_triggers.errors.OutboxError`.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers import (
    alembic_ops,
    database,
    identifiers,
    introspect,
    migrations,
    model,
    revisions,
    toimpl,
)
from outbox_triggers import backfill as backfilling
from outbox_triggers import check as checking
from outbox_triggers import doctor as doctoring
from outbox_triggers import render as rendering
from outbox_triggers import status as reporting_status
from outbox_triggers.check import captures as check_captures
from outbox_triggers.dead_letters import DeadLetter, DeadLetters
from outbox_triggers.errors import BackfillError, DatabaseError, MigrationError, SchemaMismatchError
from outbox_triggers.relaying import relay, relay_session
from outbox_triggers.spec import Spec, load

__all__ = ["relay", "relay_session"]  # the relay command lives in relaying.py, which imports no Alembic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Plan:
    """The spec rendered against the live schema, and the state it asks for."""

    spec: Spec
    model: model.Model
    rendered: rendering.Rendered
    flavor: str

    @property
    def state(self) -> revisions.State:
        """The installed state this plan wants, for every flavor."""
        return revisions.desired({f: rendering.render(self.model, f) for f in rendering.FLAVORS})


@dataclass(frozen=True)
class MigrateReport:
    """What ``migrate`` did."""

    before: str | None
    after: str | None
    wrote: Path | None = None
    lock_held_ms: tuple[float, ...] = ()

    @property
    def max_lock_held_ms(self) -> float | None:
        """The longest a tracked table stayed write-locked while its triggers were swapped."""
        return max(self.lock_held_ms) if self.lock_held_ms else None


@contextmanager
def _session(spec_path: str | Path, database_url: str | None) -> Iterator[tuple[Spec, Connection]]:
    spec = load(spec_path)
    eng = database.engine(database.resolve_url(database_url, spec.url))
    try:
        with database.connect(eng) as conn:
            yield spec, conn
    finally:
        eng.dispose()


def plan(spec: Spec, conn: Connection, flavor: str | None = None) -> Plan:
    """Join ``spec`` with the live schema and render it; nothing is written."""
    shapes = introspect.shapes(conn, [t.name for t in spec.tables])
    capture = model.build(spec, shapes, introspect.max_allowed_packet(conn))
    _check_conditions(conn, capture)
    chosen = flavor or database.flavor(conn)
    conn.commit()
    return Plan(spec, capture, rendering.render(capture, chosen), chosen)


def _check_conditions(conn: Connection, capture: model.Model) -> None:
    problems = [
        f"tables.{c.table}.when ({op}): {problem}"
        for c in capture.captures
        for op, condition in c.when.items()
        if op in c.operations and (problem := introspect.condition_problem(conn, c.table, op, condition))
    ]
    if problems:
        raise SchemaMismatchError("the spec does not match the database:\n  " + "\n  ".join(problems))


def render(spec_path: str | Path, database_url: str | None = None, flavor: str | None = None) -> str:
    """The DDL ``migrate`` would install, as a script for the ``mysql`` client."""
    with _session(spec_path, database_url) as (spec, conn):
        return rendering.script(plan(spec, conn, flavor).rendered)


def revision(
    spec_path: str | Path, message: str, database_url: str | None = None, flavor: str | None = None
) -> Path | None:
    """Write a revision moving the newest revision to the current spec; None if nothing changed."""
    with _session(spec_path, database_url) as (spec, conn):
        return _write_revision(plan(spec, conn, flavor), migrations.config(spec.migrations_dir), message)


def _write_revision(current: Plan, cfg: Any, message: str) -> Path | None:
    up, down = revisions.diff(revisions.head_state(migrations.modules(cfg)), current.state)
    if not up:
        return None
    meta = {
        "spec_hash": revisions.spec_hash(current.spec.source),
        "column_hashes": revisions.column_hashes(current.model),
    }
    return migrations.write_revision(cfg, message, up, down, meta)


def migrate(
    spec_path: str | Path,
    database_url: str | None = None,
    sql: bool = False,
    flavor: str | None = None,
    output: TextIO | None = None,
) -> MigrateReport:
    """Apply pending revisions (``alembic upgrade head``) on the toolkit's own version table.

    With no revision yet, the first one is written from the spec (so a new
    user's ``make migrate`` just works). When the spec or the live schema has
    moved past the newest revision, nothing is applied: run ``revision`` first.
    """
    with _session(spec_path, database_url) as (spec, conn):
        current = plan(spec, conn, flavor)
        cfg = migrations.config(
            spec.migrations_dir, None if sql else conn, output or sys.stdout, flavor=current.flavor
        )
        wrote = None
        if not migrations.modules(cfg):
            wrote = _write_revision(current, cfg, "initial outbox triggers")
        _refuse_unrevised(current, cfg)
        before = migrations.current(conn)
        conn.commit()
        migrations.upgrade(cfg, "head", sql=sql)
        held = tuple(s * 1000 for s in cfg.attributes.get(toimpl.LOCK_HELD, []))
        return MigrateReport(before, migrations.current(conn), wrote, held)


def _refuse_unrevised(current: Plan, cfg: Any) -> None:
    if revisions.head_state(migrations.modules(cfg)) != current.state:
        raise MigrationError(
            "the spec or the live schema differs from the newest revision in "
            f"{current.spec.migrations_dir}: run `outbox-triggers revision -m '<what changed>'`, "
            "review the file, then migrate again"
        )


def downgrade(
    spec_path: str | Path,
    target: str,
    database_url: str | None = None,
    force: bool = False,
    sql: bool = False,
    output: TextIO | None = None,
) -> None:
    """``alembic downgrade`` to ``target``; ``base`` removes every trigger and the (empty) events table."""
    with _session(spec_path, database_url) as (spec, conn):
        cfg = migrations.config(
            spec.migrations_dir,
            None if sql else conn,
            output or sys.stdout,
            force=force,
            flavor=database.flavor(conn),
        )
        migrations.downgrade(cfg, target, sql=sql)


def check(
    spec_path: str | Path, database_url: str | None = None, flavor: str | None = None, embedded: bool = False
) -> checking.Report:
    """Compare the spec, the revisions and the live triggers, columns and events table; nothing is written.

    ``embedded`` compares against a fresh render instead of the toolkit's
    revisions, for services that keep the triggers in their own Alembic history.
    """
    with _session(spec_path, database_url) as (spec, conn):
        cfg = migrations.config(spec.migrations_dir)
        return checking.run(spec, conn, cfg, flavor or database.flavor(conn), embedded)


def repair(spec_path: str | Path, database_url: str | None = None) -> list[str]:
    """Reinstall the applied revision's frozen triggers where the live ones drifted; drop orphaned ones."""
    with _session(spec_path, database_url) as (spec, conn):
        chosen = database.flavor(conn)
        cfg = migrations.config(spec.migrations_dir)
        modules = migrations.modules(cfg) if spec.migrations_dir.is_dir() else []
        reference = checking.applied_state(modules, migrations.current(conn), spec.migrations_dir)
        ops = checking.repair_ops(reference, checking.live_triggers(conn), chosen)
        conn.commit()
        done = []
        for op in ops:
            held_ms = toimpl.replace_triggers(conn, op, chosen) * 1000
            action = (
                f"reinstalled the triggers of {op.table!r}" if op.create else f"dropped {', '.join(op.drop)}"
            )
            done.append(f"{action} (table {op.table!r} locked {held_ms:.1f} ms)")
        conn.commit()
        done += check_captures.repair_records(conn, spec, checking.live_triggers(conn), reference.captures)
        conn.commit()
        return done


def render_alembic(spec_path: str | Path, database_url: str | None = None) -> str:
    """Op calls for a service's own Alembic revision: the live triggers → the spec, and back."""
    with _session(spec_path, database_url) as (spec, conn):
        current = plan(spec, conn)
        existing = introspect.existing_tables(conn)
        live = checking.live_triggers(conn)
        conn.commit()
        return alembic_ops.source(current.state, live, existing, current.flavor)


def doctor(
    spec_path: str | Path, database_url: str | None = None, relay_user: str | None = None
) -> doctoring.Report:
    """Check the server and the account: version, privileges, binlog, sql_mode, events table, relay."""
    with _session(spec_path, database_url) as (spec, conn):
        return doctoring.run(conn, spec, relay_user)


def dead_letters(
    spec_path: str | Path, action: str, seqs: Sequence[int] = (), database_url: str | None = None
) -> list[DeadLetter] | int:
    """``list`` the dead letters, or ``retry`` / ``purge`` these seqs (all when none are given)."""
    with _session(spec_path, database_url) as (spec, conn):
        table = DeadLetters(spec.events_table)
        if action == "list":
            return table.rows(conn)
        return table.retry(conn, seqs) if action == "retry" else table.purge(conn, seqs)


def replay(spec_path: str | Path, since: datetime, database_url: str | None = None) -> int:
    """Put kept events delivered at or after ``since`` (UTC) back in the events table; return how many."""
    with _session(spec_path, database_url) as (spec, conn):
        events = identifiers.quote(spec.events_table)
        kept_name = identifiers.delivered_table(spec.events_table)
        if kept_name not in introspect.existing_tables(conn):
            raise DatabaseError(f"table {kept_name!r} does not exist: run migrate first")
        conn.exec_driver_sql("SET time_zone = '+00:00'")
        copied = conn.execute(
            sa.text(
                f"INSERT INTO {events} (table_name, key_hash, payload, created_at) "  # noqa: S608
                f"SELECT table_name, key_hash, payload, created_at FROM {identifiers.quote(kept_name)} "
                "WHERE delivered_at >= :since ORDER BY seq"
            ),
            {"since": since.replace(tzinfo=None)},
        ).rowcount
        conn.commit()
        return int(copied)


def status(spec_path: str | Path, database_url: str | None = None) -> reporting_status.Status:
    """Backlog per table and destination, the oldest event's age, dead letters and the relay lock holders."""
    with _session(spec_path, database_url) as (spec, conn):
        return reporting_status.run(conn, spec)


def backfill(
    spec_path: str | Path,
    table: str | None,
    database_url: str | None = None,
    where: str | None = None,
    destination: str | None = None,
    force: bool = False,
    resume: bool = False,
    pace: backfilling.Pace | None = None,
    stop: threading.Event | None = None,
    progress: backfilling.Progress | None = None,
) -> list[backfilling.Running]:
    """Backfill ``table`` (or, with ``resume``, carry on every unfinished backfill); see backfill.py."""
    if resume and (table or where or destination or force):
        raise BackfillError("--resume carries on the backfills as they started: give no table or option")
    if not resume and table is None:
        raise BackfillError("name the table to backfill, or pass --resume")
    chosen = pace or backfilling.Pace()
    with _session(spec_path, database_url) as (spec, conn):
        if table is None:
            return backfilling.resume(conn, spec, chosen, stop, progress)
        return [backfilling.start(conn, spec, table, where, destination, force, chosen, stop, progress)]
