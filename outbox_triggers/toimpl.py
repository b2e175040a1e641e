"""Execute migration ops: the table lock that makes trigger replacement gap-free.

MySQL DDL is not transactional. Dropping and re-creating a trigger leaves a
moment in which a committed write fires nothing, so each table's triggers are
swapped while this session holds ``LOCK TABLES <table> WRITE``: writers queue
behind the lock and meet the new triggers when it is released. The wait for
the lock is bounded by ``lock_wait_timeout``; the time it was held is logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from outbox_triggers import captures, database, identifiers, trigger_session
from outbox_triggers.errors import MigrationError
from outbox_triggers.ops import (
    CreateEventsTable,
    CreateSupportTable,
    DropEventsTable,
    Op,
    RecordCaptures,
    ReplaceTriggers,
    for_flavor,
)

log = logging.getLogger(__name__)
LOCK_WAIT_TIMEOUT_S = 10
DELIMITER = "$$"
LOCK_HELD = "lock_held_s"
"""Config attribute listing, per trigger swap, how long the table was write-locked (s)."""
_TABLE_EXISTS = sa.text(
    "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :t"
)


def run(context: MigrationContext, ops: Sequence[Op]) -> None:
    """Apply ``ops`` through ``context``: execute them, or print them in ``--sql`` mode."""
    attributes = context.config.attributes if context.config else {}
    if context.as_sql:
        for statement in script(ops, attributes.get("flavor") or "mysql"):
            context.impl.static_output(statement)
        return
    conn = context.connection
    assert conn is not None
    flavor = attributes.get("flavor") or database.flavor(conn)
    force = bool(attributes.get("force"))
    for op in ops:  # refuse before any DDL, so a refused downgrade leaves the triggers in place
        if isinstance(op, DropEventsTable) and not force and not identifiers.is_captures_table(op.table):
            refuse_backlog(conn, op.table)
    for op in ops:
        held = apply(conn, op, flavor, force=force)
        if held is not None:
            attributes.setdefault(LOCK_HELD, []).append(held)


def apply(conn: Connection, op: Op, flavor: str, force: bool = False) -> float | None:
    """Execute one op on a live ``flavor`` server; a trigger swap returns how long it held the lock (s)."""
    if isinstance(op, CreateEventsTable | CreateSupportTable):
        _execute(conn, op.sql)
    elif isinstance(op, DropEventsTable):
        drop_events_table(conn, op.table, force)
    elif isinstance(op, RecordCaptures):
        captures.write(conn, op.table, tuple(captures.Record(*r) for r in op.records))
    else:
        return replace_triggers(conn, op, flavor)
    return None


def replace_triggers(conn: Connection, op: ReplaceTriggers, flavor: str) -> float:
    """Swap ``op.table``'s triggers under a write lock; return how long it was held (s)."""
    _execute(conn, f"SET SESSION lock_wait_timeout = {LOCK_WAIT_TIMEOUT_S}")
    try:
        _execute(conn, f"LOCK TABLES {identifiers.quote(op.table)} WRITE")
    except sa.exc.OperationalError as exc:
        raise MigrationError(
            f"could not lock table {op.table!r} within {LOCK_WAIT_TIMEOUT_S}s to replace its triggers "
            "(a long transaction holds it); nothing was changed on it: retry when it is quieter"
        ) from exc
    started = time.monotonic()
    try:
        with trigger_session.pinned(conn):
            for name in op.drop:
                _execute(conn, f"DROP TRIGGER IF EXISTS {identifiers.quote(name)}")
            for sql in op.create.values():
                _execute(conn, for_flavor(sql, flavor))
    finally:
        _execute(conn, "UNLOCK TABLES")
    held = time.monotonic() - started
    log.info("triggers of %s replaced; table write-locked for %.1f ms", op.table, held * 1000)
    return held


def drop_events_table(conn: Connection, table: str, force: bool) -> None:
    """Drop the events (or a support) table, refusing while it still holds events unless ``force``."""
    if not conn.execute(_TABLE_EXISTS, {"t": table}).scalar():
        return
    if not force and not identifiers.is_captures_table(table):  # the registry holds records, not events
        refuse_backlog(conn, table)
    _execute(conn, f"DROP TABLE {identifiers.quote(table)}")


def refuse_backlog(conn: Connection, table: str) -> None:
    """Raise MigrationError when ``table`` exists and still holds rows."""
    if not conn.execute(_TABLE_EXISTS, {"t": table}).scalar():
        return
    backlog = int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {identifiers.quote(table)}").scalar() or 0)  # noqa: S608
    if backlog:
        raise MigrationError(
            f"table {table!r} still holds {backlog} event(s); nothing was changed. Run the relay to drain it "
            "(or `dead-letters purge --all` for dead letters), or pass --force to drop them"
        )


def script(ops: Sequence[Op], flavor: str) -> list[str]:
    """The statements of ``ops`` as a script for the ``mysql`` client, DELIMITERs included."""
    out: list[str] = []
    for op in ops:
        if isinstance(op, CreateEventsTable | CreateSupportTable):
            out.append(op.sql + ";")
        elif isinstance(op, DropEventsTable):
            out.append(f"DROP TABLE IF EXISTS {identifiers.quote(op.table)};")
        elif isinstance(op, RecordCaptures):
            out.extend(captures.insert_script(op.table, tuple(captures.Record(*r) for r in op.records)))
        else:
            out.extend(_replace_script(op, flavor))
    return out


def _replace_script(op: ReplaceTriggers, flavor: str) -> list[str]:
    lines = [
        f"LOCK TABLES {identifiers.quote(op.table)} WRITE;",
        "SET @outbox_sql_mode = @@SESSION.sql_mode;",
    ]
    lines += [f"{statement};" for statement in trigger_session.PIN]
    lines += [f"DROP TRIGGER IF EXISTS {identifiers.quote(name)};" for name in op.drop]
    lines += [
        f"DELIMITER {DELIMITER}\n{for_flavor(sql, flavor)}{DELIMITER}\nDELIMITER ;"
        for sql in op.create.values()
    ]
    return [*lines, "SET SESSION sql_mode = @outbox_sql_mode;", "UNLOCK TABLES;"]


def _execute(conn: Connection, sql: str) -> None:
    conn.exec_driver_sql(sql, execution_options={"no_parameters": True})
