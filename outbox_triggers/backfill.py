"""``outbox-triggers backfill``: every existing row of a tracked table as one snapshot-read event.

The events go into the events table like the triggers' own, so the relay,
destinations, envelopes, per-key order and dead letters all apply. A backfill
walks the table's key in chunks, each its own short transaction (READ
COMMITTED):

1. a locking read (``LOCK IN SHARE MODE NOWAIT`` / ``FOR SHARE NOWAIT``) of
   the next keys past the last one done, ``LIMIT n``: each row is read at its
   latest committed version, and no writer can change it until the chunk
   commits. ``NOWAIT``: a row a writer holds makes the chunk roll back at once
   and run again smaller, so a chunk never waits for a writer while holding
   locks, and a backfill can never deadlock a writer (only a one-row chunk,
   which holds nothing while it waits, waits for a lock);
2. one ``INSERT INTO events … SELECT <the event> FROM t`` of those rows (rows
   with large values one by one, as a trigger's measured path does);
3. the backfill's row in ``<events>_backfills`` moves to the chunk's last key.

Why no consumer then sees a snapshot image older than an event it already
has for that key: the README's "Backfill" section. The chunk size follows a
target time (100 ms), so writers never wait more than about one chunk; the
pace also obeys ``max_rows_per_second``, and pauses while the events backlog
or InnoDB's history list is too long.

One backfill per table runs at a time: it holds the MySQL named lock
``outbox_triggers.<db>.<events>.backfill.<table>`` (hashed when longer than
64 characters) for its whole life, and the server releases it when the
process dies, so ``--resume`` can take it over at once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers import (
    backfills,
    database,
    identifiers,
    introspect,
    model,
    snapshot,
    trigger_session,
    yielding,
)
from outbox_triggers.errors import BackfillError
from outbox_triggers.lock import lock_name
from outbox_triggers.snapshot import Statements
from outbox_triggers.spec import Spec

log = logging.getLogger(__name__)

TARGET_CHUNK_S = 0.1
FIRST_CHUNK = 200
MIN_CHUNK, MAX_CHUNK = 10, 20_000
DEFAULT_MAX_BACKLOG = 1_000_000
DEFAULT_WRITER_SHARE = 0.9
DEFAULT_MAX_HISTORY_GROWTH = 1_000_000
HISTORY_EVERY_S = 1.0
BACKOFF_S = 0.5
RETRIES = 20
# lock wait timeout (and MariaDB's NOWAIT), deadlock, MySQL 8's NOWAIT: the chunk rolled back whole
RETRYABLE = (1205, 1213, 3572)

Progress = Callable[["Running"], None]


@dataclass(frozen=True)
class Pace:
    """How fast a backfill may go.

    ``max_rows_per_second``: a ceiling (None: none). ``writer_share``: pause
    between chunks so that the server's writers keep this share of their pace
    (0: never; see yielding.py). ``max_backlog``: pause
    while the events table holds more events than this (0: never).
    ``max_history_growth``: pause while InnoDB's history list is longer than
    at the start by more than this (0: never).
    """

    max_rows_per_second: float | None = None
    max_backlog: int = DEFAULT_MAX_BACKLOG
    max_history_growth: int = DEFAULT_MAX_HISTORY_GROWTH
    target_chunk_s: float = TARGET_CHUNK_S
    writer_share: float = DEFAULT_WRITER_SHARE


@dataclass
class Running:
    """A backfill's progress as it runs: what the progress bar and log lines show."""

    id: int
    table: str
    done: int
    estimated: int
    started: float = field(default_factory=time.monotonic)
    sent_now: int = 0
    state: str = "running"
    chunk: int = FIRST_CHUNK
    paused: str = ""
    yielded_s: float = 0.0  # paused between chunks for the server's writers

    @property
    def elapsed_s(self) -> float:
        """Seconds since this process took the backfill up."""
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Rows per second in this process."""
        return self.sent_now / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate, from the estimated row count."""
        left = self.estimated - self.done
        return left / self.rate if left > 0 and self.rate else None


@dataclass(frozen=True)
class Target:
    """What a backfill reads and writes: checked before anything is written."""

    spec: Spec
    capture: model.Capture
    flavor: str
    where: str | None
    destination: str | None


def check_where(where: str) -> str:
    """``where`` if it is one SQL expression: no ``;``, no comment, parentheses and quotes balanced.

    It is trusted operator input, run as written inside the chunk's reads; this
    only keeps it from closing the backfill's own conditions or statement.
    """
    text = where.strip()
    if not text:
        raise BackfillError("--where is empty")
    depth, quote, i = 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if (ch == "\\" and quote != "`") or (ch == quote and text[i + 1 : i + 2] == quote):
                i += 1  # an escaped character, or a doubled quote
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == ";":
            raise BackfillError(f"--where {where!r}: one expression only, no ';'")
        elif ch == "#" or text.startswith(("--", "/*"), i):
            raise BackfillError(f"--where {where!r}: no comments")
        elif ch in "()":
            depth += 1 if ch == "(" else -1
            if depth < 0:
                raise BackfillError(f"--where {where!r}: a ')' closes nothing")
        i += 1
    if quote or depth:
        raise BackfillError(f"--where {where!r}: an unclosed {'quote' if quote else 'parenthesis'}")
    return text


def target(conn: Connection, spec: Spec, table: str, where: str | None, destination: str | None) -> Target:
    """Check the table, destination and ``where``; build the table's capture. Nothing is written."""
    tracked = {t.name for t in spec.tables}
    if table not in tracked:
        there = table in introspect.existing_tables(conn)
        why = "is not tracked: add it to the spec and migrate" if there else "does not exist"
        raise BackfillError(f"table {table!r} {why}")
    if destination is not None:
        _check_destination(spec, table, destination)
    shapes = introspect.shapes(conn, sorted(tracked))
    capture = next(
        c for c in model.build(spec, shapes, introspect.max_allowed_packet(conn)).captures if c.table == table
    )
    _check_triggers(conn, capture)
    flavor = database.flavor(conn)
    checked = check_where(where) if where is not None else None
    if checked is not None:
        _try_where(conn, table, checked)
    conn.commit()
    return Target(spec, capture, flavor, checked, destination)


def _check_destination(spec: Spec, table: str, destination: str) -> None:
    if destination not in spec.destinations:
        known = ", ".join(sorted(spec.destinations))
        raise BackfillError(f"--destination {destination!r} is not in the spec's destinations ({known})")
    if destination not in spec.table(table).destinations:
        raise BackfillError(
            f"--destination {destination!r} does not receive table {table!r} "
            f"(tables.{table}.destination: {', '.join(spec.table(table).destinations)})"
        )


def _check_triggers(conn: Connection, capture: model.Capture) -> None:
    names = [t.name for t in capture.triggers]
    found = {
        str(row[0])
        for row in conn.execute(
            sa.text(
                "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS "
                "WHERE TRIGGER_SCHEMA = DATABASE() AND EVENT_OBJECT_TABLE = :table"
            ),
            {"table": capture.table},
        )
    }
    if not set(names) <= found:
        raise BackfillError(
            f"table {capture.table!r} has not all its triggers installed: run migrate first, so that "
            "changes made during the backfill are captured"
        )


def _try_where(conn: Connection, table: str, where: str) -> None:
    """Run ``where`` once in a read-only transaction: a typo fails here, before anything is written."""
    conn.commit()
    conn.exec_driver_sql("START TRANSACTION READ ONLY")
    try:
        conn.exec_driver_sql(
            f"SELECT 1 FROM {identifiers.quote(table)} AS {snapshot.ROW} WHERE ({where}\n) LIMIT 0".replace(  # noqa: S608
                "%", "%%"
            ),
            (),
        )
    except sa.exc.DBAPIError as exc:
        conn.rollback()
        reason = exc.orig.args[-1] if exc.orig is not None and exc.orig.args else exc
        raise BackfillError(f"--where {where!r} does not work on table {table!r}: {reason}") from None
    conn.rollback()


def start(
    conn: Connection,
    spec: Spec,
    table: str,
    where: str | None = None,
    destination: str | None = None,
    force: bool = False,
    pace: Pace = Pace(),
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> Running:
    """Backfill ``table`` (rows matching ``where``; only to ``destination``, if given) to its end."""
    checked = target(conn, spec, table, where, destination)
    locked = _lock(conn, spec, table)
    if not locked and not force:
        raise BackfillError(
            f"a backfill of table {table!r} is already running (it holds its lock); wait for it, "
            "or pass --force to run another one beside it"
        )
    try:
        return _start(conn, checked, pace, stop, progress)
    finally:
        if locked:
            _unlock(conn, spec, table)


def _start(
    conn: Connection, checked: Target, pace: Pace, stop: threading.Event | None, progress: Progress | None
) -> Running:
    spec, table, destination = checked.spec, checked.capture.table, checked.destination
    conn.exec_driver_sql(backfills.create_sql(spec.events_table))
    conn.commit()
    with trigger_session.pinned(conn):
        backfill_id = backfills.insert(
            conn, spec.events_table, table, checked.where, destination, _estimate(conn, table)
        )
        statements = snapshot.statements(
            checked.capture, spec.events_table, checked.flavor, str(backfill_id), destination
        )
        _marker(conn, checked, statements, "snapshot_start", backfill_id)
        conn.commit()
        log.info("backfill %d of table %s started", backfill_id, table)
        row = next(b for b in backfills.read(conn, spec.events_table) if b.id == backfill_id)
        return _Chunks(conn, checked, statements, row, pace, stop, progress).run()


def resume(
    conn: Connection,
    spec: Spec,
    pace: Pace = Pace(),
    stop: threading.Event | None = None,
    progress: Progress | None = None,
) -> list[Running]:
    """Carry on every unfinished backfill no other process runs, one after the other."""
    if backfills.table_name(spec.events_table) not in introspect.existing_tables(conn):
        return []
    done = []
    for row in backfills.read(conn, spec.events_table, backfills.RESUMABLE):
        conn.commit()
        if stop is not None and stop.is_set():
            break
        if not _lock(conn, spec, row.table):
            log.info("backfill %d of table %s is running elsewhere: left to it", row.id, row.table)
            continue
        checked = target(conn, spec, row.table, row.where, row.destination)
        with trigger_session.pinned(conn):
            statements = snapshot.statements(
                checked.capture, spec.events_table, checked.flavor, str(row.id), row.destination
            )
            backfills.set_state(conn, spec.events_table, row.id, "running")
            conn.commit()
            log.info("backfill %d of table %s resumes after %d row(s)", row.id, row.table, row.rows_done)
            done.append(_Chunks(conn, checked, statements, row, pace, stop, progress).run())
        _unlock(conn, spec, row.table)
    conn.commit()
    return done


def _lock_name(conn: Connection, spec: Spec, table: str) -> str:
    database_name = str(conn.exec_driver_sql("SELECT DATABASE()").scalar())
    return lock_name(database_name, f"{spec.events_table}.backfill.{table}")


def _lock(conn: Connection, spec: Spec, table: str) -> bool:
    got = conn.exec_driver_sql("SELECT GET_LOCK(%s, 0)", (_lock_name(conn, spec, table),)).scalar()
    return got == 1


def _unlock(conn: Connection, spec: Spec, table: str) -> None:
    """Give the table's backfill lock back (a connection that is gone gave it back already)."""
    try:
        conn.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (_lock_name(conn, spec, table),))
        conn.commit()
    except sa.exc.DBAPIError:
        log.debug("could not release the backfill lock of %s", table, exc_info=True)


def _estimate(conn: Connection, table: str) -> int:
    value = conn.exec_driver_sql(
        "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
        "AND TABLE_NAME = %s",
        (table,),
    ).scalar()
    return int(value or 0)


def _marker(conn: Connection, checked: Target, s: Statements, op: str, backfill_id: int) -> None:
    """A ``snapshot_start`` or ``snapshot_end`` event: no key, no images, the backfill's id."""
    capture = checked.capture
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "table": capture.table,
        "op": op,
        "event_type": op,
        "aggregate_type": capture.aggregate_type,
        "aggregate_id": None,
        "key": None,
        "before": None,
        "after": None,
        "ts": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "version": capture.version,
        "backfill": str(backfill_id),
    }
    if checked.destination:
        body["destination"] = checked.destination
    events = identifiers.quote(checked.spec.events_table).replace("%", "%%")
    conn.exec_driver_sql(
        f"INSERT INTO {events} (table_name, key_hash, payload) VALUES (%s, CRC32(%s), %s)",  # noqa: S608
        (capture.table, capture.table, json.dumps(body, ensure_ascii=False)),
    )


class _Chunks:
    """The chunk loop of one backfill, from its stored last key to the end of the table."""

    def __init__(
        self,
        conn: Connection,
        checked: Target,
        statements: Statements,
        row: backfills.Backfill,
        pace: Pace,
        stop: threading.Event | None,
        progress: Progress | None,
    ) -> None:
        self.conn, self.checked, self.s, self.pace = conn, checked, statements, pace
        self.stop = stop or threading.Event()
        self.progress = progress or (lambda running: None)
        self.events_table = checked.spec.events_table
        self.last: tuple[Any, ...] | None = row.last_key
        self.running = Running(row.id, row.table, row.rows_done, row.rows_estimated)
        flavor, where = checked.flavor, checked.where
        self.select = {
            (first, wait): snapshot.chunk_query(statements, flavor, first, where, wait)
            for first in (True, False)
            for wait in (True, False)
        }
        self.insert = {first: snapshot.chunk_insert(statements, first, where) for first in (True, False)}
        self.measure = snapshot.one_row(statements, statements.measure)
        self.large = snapshot.one_row(statements, statements.large)
        self.writers = yielding.Writers(pace.writer_share)
        self.history_base: int | None = None
        self.history_checked = 0.0

    def run(self) -> Running:
        """Chunks until the table ends or a stop is asked; the backfill's row says which."""
        conn, running = self.conn, self.running
        conn.exec_driver_sql("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        self.history_base = _history_length(conn)
        try:
            while not self.stop.is_set():
                self._wait_for_room()
                if self.stop.is_set():
                    break
                before, began, size = self.writers.rows(conn), time.monotonic(), running.chunk
                rows, size = self._chunk_with_retries(size)
                took = time.monotonic() - began
                running.chunk = self._next_size(size, rows, took)
                self.progress(running)
                if rows < size:
                    return self._finish()
                running.yielded_s += self.writers.after_chunk(conn, before, took, self.stop)
            return self._stopped()
        except BaseException as exc:
            self._failed(exc)
            raise

    def _next_size(self, size: int, rows: int, seconds: float) -> int:
        """The next chunk's size: toward the target time, and no more than the rate ceiling allows in it."""
        chosen = _next_size(size, rows, seconds, self.pace.target_chunk_s)
        if self.pace.max_rows_per_second:
            chosen = min(
                chosen, max(MIN_CHUNK, int(self.pace.max_rows_per_second * self.pace.target_chunk_s))
            )
        return chosen

    def _chunk_with_retries(self, size: int) -> tuple[int, int]:
        """Run a chunk: (rows, the size it ran with). One that met a writer's lock runs again, smaller."""
        for attempt in range(RETRIES):
            try:
                return self._chunk(size), size
            except sa.exc.DBAPIError as exc:
                self.conn.rollback()
                if database.error_code(exc) not in RETRYABLE or attempt == RETRIES - 1:
                    raise
                size = max(1, size // 4)
                log.debug(
                    "backfill %d: chunk rolled back (%s); again, %d rows", self.running.id, exc.orig, size
                )
                self.stop.wait(min(BACKOFF_S, 0.005 * 2**attempt))
        return 0, size

    def _chunk(self, size: int) -> int:
        """One chunk, one transaction: lock the next ``size`` rows, write their events, move the key.

        Only a one-row chunk waits for a lock a writer holds: it holds no other lock meanwhile.
        """
        conn, first = self.conn, self.last is None
        after = [] if self.last is None else snapshot.compare_params(self.last)
        picked = conn.exec_driver_sql(self.select[first, size == 1], (*after, size)).all()
        if not picked:
            conn.rollback()
            return 0
        width = len(self.s.key)
        count = int(picked[0][0])
        ends = [tuple(row[2 : 2 + width]) for row in picked if (row[1] - 1) % snapshot.INSERT_ROWS == 0]
        start = self.last
        for end in ends:  # in key order; the last is the chunk's last row
            since = [] if start is None else snapshot.compare_params(start)
            conn.exec_driver_sql(self.insert[start is None], (*since, *snapshot.compare_params(end)))
            start = end
        last = ends[-1]
        for row in picked:
            if not row[2 + width]:
                self._large_row(tuple(row[2 : 2 + width]))
        backfills.advance(conn, self.events_table, self.running.id, last, count)
        conn.commit()
        self.last = last
        self.running.done += count
        self.running.sent_now += count
        return count

    def _large_row(self, key: tuple[Any, ...]) -> None:
        """A row whose values may not fit: decide, as a trigger's measure() does, which ones to carry."""
        measured = self.conn.exec_driver_sql(self.measure, key).one()
        room, values = self.s.sizing.room, []
        for i in range(len(self.s.sizing.measured)):
            is_null, bound, text = measured[3 * i : 3 * i + 3]
            value: str | None = None
            if is_null:
                value = "null"
            elif text is not None and bound <= room:
                size = len(str(text).encode("utf-8"))
                if size <= room:
                    value, room = str(text), room - size
            values.append(value)
        assignments = ", ".join(f"@outbox_v{n} = %s" for n in range(1, len(values) + 1))
        self.conn.exec_driver_sql(f"SET {assignments}", tuple(values))
        self.conn.exec_driver_sql(self.large, key)

    def _wait_for_room(self) -> None:
        """Sleep off the rate ceiling; pause while the backlog or the history list is too long."""
        running, pace = self.running, self.pace
        if pace.max_rows_per_second:
            ahead = running.sent_now / pace.max_rows_per_second - running.elapsed_s
            if ahead > 0:
                self.stop.wait(ahead)
        while not self.stop.is_set() and (why := self._too_busy()):
            if running.paused != why:
                log.info("backfill %d pauses: %s", running.id, why)
            running.paused = why
            self.progress(running)
            self.stop.wait(BACKOFF_S)
        running.paused = ""

    def _too_busy(self) -> str:
        pace, conn = self.pace, self.conn
        if pace.max_backlog:
            backlog = _backlog(conn, self.events_table)
            if backlog > pace.max_backlog:
                return f"the events backlog ({backlog:,}) is over {pace.max_backlog:,}"
        now = time.monotonic()
        if (
            pace.max_history_growth
            and self.history_base is not None
            and now - self.history_checked >= HISTORY_EVERY_S
        ):
            self.history_checked = now
            length = _history_length(conn)
            if length is not None and length - self.history_base > pace.max_history_growth:
                self.history_checked = 0.0
                return (
                    f"InnoDB's history list length ({length:,}) grew by more than {pace.max_history_growth:,}"
                )
        return ""

    def _finish(self) -> Running:
        _marker(self.conn, self.checked, self.s, "snapshot_end", self.running.id)
        backfills.set_state(self.conn, self.events_table, self.running.id, "done")
        self.conn.commit()
        self.running.state = "done"
        log.info(
            "backfill %d of table %s done: %d row(s) sent in %.1f s (%.1f s of it yielded to writers)",
            self.running.id,
            self.running.table,
            self.running.sent_now,
            self.running.elapsed_s,
            self.running.yielded_s,
        )
        return self.running

    def _stopped(self) -> Running:
        backfills.set_state(self.conn, self.events_table, self.running.id, "stopped")
        self.conn.commit()
        self.running.state = "stopped"
        log.info(
            "backfill %d stopped after %d row(s); resume it with backfill --resume",
            self.running.id,
            self.running.done,
        )
        return self.running

    def _failed(self, exc: BaseException) -> None:
        try:
            self.conn.rollback()
            backfills.set_state(
                self.conn, self.events_table, self.running.id, "failed", f"{type(exc).__name__}: {exc}"
            )
            self.conn.commit()
        except Exception:  # the connection itself is gone: the row stays 'running', --resume takes it
            log.debug("could not record the failure of backfill %d", self.running.id, exc_info=True)
        self.running.state = "failed"


def _next_size(size: int, rows: int, seconds: float, target_s: float) -> int:
    """The next chunk size: this one scaled toward the target time, at most halved or doubled."""
    if rows < size or seconds <= 0:
        return size
    scaled = int(size * target_s / seconds)
    return max(MIN_CHUNK, min(MAX_CHUNK, size * 2, max(size // 2, scaled)))


def _backlog(conn: Connection, events_table: str) -> int:
    """About how many events wait: the span of ``seq`` in the events table (its index ends only)."""
    quoted = identifiers.quote(events_table)
    value = conn.exec_driver_sql(f"SELECT COALESCE(MAX(seq) - MIN(seq) + 1, 0) FROM {quoted}").scalar()  # noqa: S608
    conn.commit()
    return int(value or 0)


def _history_length(conn: Connection) -> int | None:
    """InnoDB's history list length (undo not yet purged); None when the server won't say."""
    try:
        value = conn.exec_driver_sql(
            "SELECT `COUNT` FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'"
        ).scalar()
        if value is None:
            status = str(conn.exec_driver_sql("SHOW ENGINE INNODB STATUS").one()[-1])
            found = [line for line in status.splitlines() if line.startswith("History list length")]
            value = int(found[0].split()[-1]) if found else None
    except sa.exc.DBAPIError:
        conn.rollback()
        return None
    conn.commit()
    return None if value is None else int(value)


__all__ = ["Pace", "Running", "check_where", "resume", "start", "target"]
