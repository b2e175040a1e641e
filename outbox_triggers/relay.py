"""The relay worker: events table → pipeline → publishers → delete.

One relay at a time holds the events table's named lock (or, with
partitions, a fair share of them). It reads the oldest events in ``seq``
order and adds them to the dispatcher's pipeline
(:mod:`outbox_triggers.dispatch`), which keeps requests flowing to every
destination while the relay reads the next events and deletes, by exact
``seq``, the ones every destination accepted. Failed entries stay in the
pipeline, behind an exponential, jittered backoff; the pipeline holds at most
two batches, so a destination that is down costs no memory.

Each read takes the oldest events not already in the pipeline. It starts
after the newest one held, unless a count in the same statement shows a
transaction committed late below it; then it starts from the beginning of the
table, so a key's events are never read out of order.

Polling adapts: after a full batch it reads again at once; when the table is
empty it waits 1 ms, then doubles the wait up to ``poll_interval``.

The first SIGTERM or SIGINT lets the requests in flight finish and deletes
what they delivered, then the loop ends; a second one stops the process at once.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from outbox_triggers import lock
from outbox_triggers.database import describe as describe_db_error
from outbox_triggers.dispatch import DEFAULT_MAX_IN_FLIGHT, Dispatcher, Finished, backoff
from outbox_triggers.errors import DestinationError, OutboxError
from outbox_triggers.events import Event, EventsTable
from outbox_triggers.publishers import Publisher, PublishResult

log = logging.getLogger(__name__)
DEFAULT_BATCH_SIZE = 500
DEFAULT_POLL_INTERVAL = 0.2
MIN_POLL_INTERVAL = 0.001
ONCE_GIVE_UP_ROUNDS = 6
PURGE_EVERY_S = 60.0


class RelayObserver(Protocol):
    """Hooks for metrics, progress and logs; every method is called from the relay's loop thread."""

    def lock_changed(self, held: bool, name: str) -> None:
        """The relay took (True) or lost/released (False) its lock."""

    def batch_done(self, events: Sequence[Event], result: PublishResult, seconds: float) -> None:
        """Finished events were deleted or dead-lettered; ``seconds`` since the previous such delete."""

    def idle(self) -> None:
        """A read found nothing to relay."""


class ColdShutdown(BaseException):
    """A second stop signal: leave now, without finishing the batch."""


@dataclass
class RelayStats:
    """What a relay run did."""

    published: int = 0
    dead_lettered: int = 0
    failed_attempts: int = 0
    db_errors: int = 0
    batches: int = 0
    errors: dict[int, str] = field(default_factory=dict)


def idle_wait(empty_polls: int, ceiling: float) -> float:
    """How long to wait after ``empty_polls`` empty reads in a row: 1 ms, doubling, capped."""
    return min(ceiling, MIN_POLL_INTERVAL * 2.0 ** min(empty_polls, 20))


class Relay:
    """Moves events from one events table to their destinations."""

    def __init__(
        self,
        engine: Engine,
        events_table: str,
        routes: Mapping[str, Sequence[Publisher]],
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        observers: Sequence[RelayObserver] = (),
        partitions: int = 1,
        keep_delivered_s: int | None = None,
    ) -> None:
        self._engine = engine
        self._observers = tuple(observers)
        self._keep_s = keep_delivered_s
        self._purged_at = 0.0
        self._events = EventsTable(events_table)
        self._dispatcher = Dispatcher(routes, max_in_flight, database=engine.url.database or "")
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._lock = lock.for_relay(engine, events_table, partitions)
        self._stop = threading.Event()
        self._conn: Connection | None = None
        self._unsettled: dict[int, tuple[str, str] | None] = {}
        self._finished = Finished()
        self._settled_at = time.monotonic()
        self.stats = RelayStats()

    def request_stop(self) -> None:
        """Finish the batch in hand, then return from :meth:`run`."""
        self._stop.set()

    def run(self, once: bool = False) -> RelayStats:
        """Relay until stopped; with ``once``, until the events present at start are delivered."""
        restore = self._install_signals()
        try:
            if self._take_lock():
                self._loop(once)
        finally:
            self._teardown()
            restore()
        return self.stats

    def _loop(self, once: bool) -> None:
        high = self._events.high_water(self._connection()) if once else None
        empty = db_failures = 0
        while not self._stop.is_set():
            if self._dispatcher.holding() > self._batch_size:  # full: let requests come back first
                self._record(self._collect(self._poll_interval))
                continue
            read = self._read(high)
            if read is None:
                db_failures += 1
                self._stop.wait(backoff(db_failures))
                continue
            db_failures, empty = 0, 0 if read else empty + 1
            wait = 0.0 if read == self._batch_size else idle_wait(empty, self._poll_interval)
            self._record(self._collect(wait))
            if once and self._once_over(read):
                return
            if not read and not self._dispatcher.holding():
                self._notify("idle")
                self._purge_kept()
        self._record(self._dispatcher.drain())
        self._settle()

    def _read(self, high: int | None) -> int | None:
        """Settle, then add the next events to the pipeline; how many, or None if the database failed."""
        if not self._settle():
            return None
        try:
            if not self._keep_lock():
                return 0
            events = self._events.fetch(
                self._connection(),
                self._batch_size,
                self._lock.partitions,
                self._lock.owned,
                self._dispatcher,
            )
        except (sa.exc.DBAPIError, OutboxError) as exc:
            self.stats.db_errors += 1
            log.error("reading events failed: %s", _describe(exc, self._engine))
            self._drop_connection()
            return None
        fresh = [e for e in events if high is None or e.seq <= high][: self._batch_size]
        self._dispatcher.add(fresh)
        return len(fresh)

    def _keep_lock(self) -> bool:
        """True while this relay may read; drains the pipeline first when partitions are due to rebalance."""
        if self._lock.rebalance_due():
            self._record(self._dispatcher.drain())
            self._settle()
            self._lock.rebalance()
        if self._lock.held():
            return True
        log.warning("relay lock lost; waiting to take it again")
        self._notify("lock_changed", False, self._lock.name)
        self._record(self._dispatcher.reset())
        self._settle()
        self._unsettled.clear()
        self._finished = Finished()
        self._drop_connection()
        return self._take_lock()

    def _collect(self, timeout: float) -> Finished:
        """What finished, waiting up to ``timeout`` for a request (or a destination's backoff)."""
        finished = self._dispatcher.collect()  # also starts what may start now, e.g. after a backoff
        if not self._dispatcher.in_flight():
            resume = self._dispatcher.backing_off()
            self._stop.wait(timeout if resume is None else min(timeout, resume))
        finished.fold(self._dispatcher.collect(timeout))
        return finished

    def _record(self, finished: Finished) -> None:
        """Count what finished and queue it for deletion; log failures."""
        result = finished.result
        for seq in result.accepted:
            self._unsettled[seq] = None
        for seq, why in result.rejected.items():
            self._unsettled[seq] = (finished.rejected_by.get(seq, "?"), why)
        self._finished.fold(finished)
        self.stats.published += len(result.accepted)
        self.stats.dead_lettered += len(result.rejected)
        self.stats.failed_attempts += len(result.failed)
        if result.failed:
            self.stats.errors = dict(result.failed)
        for seq, reason in list(result.failed.items())[:3]:
            log.warning("event %s not delivered yet: %s", seq, reason)
        for seq, reason in result.rejected.items():
            log.error(
                "event %s dead-lettered (destination %r): %s", seq, finished.rejected_by.get(seq), reason
            )
        if result.failed and not self._unsettled:
            self._report()  # nothing to delete: report the failed attempts now, not at the next delete

    def _report(self) -> None:
        """Tell the observers what finished (and failed) since the last report."""
        finished, self._finished = self._finished, Finished()
        now = time.monotonic()
        self._notify("batch_done", finished.events, finished.result, now - self._settled_at)
        self._settled_at = now

    def _settle(self) -> bool:
        """Delete what every destination accepted and dead-letter what one rejected, in one transaction.

        False when the database failed: the events stay in the table, and out of
        the pipeline's reads, until a later call records them.
        """
        if not self._unsettled:
            return True
        delivered = [seq for seq, refused in self._unsettled.items() if refused is None]
        dead = {seq: refused for seq, refused in self._unsettled.items() if refused is not None}
        try:
            self._events.settle(self._connection(), delivered, dead, keep=self._keep_s is not None)
        except sa.exc.DBAPIError as exc:
            self.stats.db_errors += 1
            log.error("recording delivered events failed (retrying; a crash now resends them): %s", exc.orig)
            self._drop_connection()
            return False
        self._unsettled.clear()
        self.stats.batches += 1
        self._report()
        return True

    def _once_over(self, read: int) -> bool:
        """With ``--once``, after a read: True when all there at the start is out; raise if it can't be."""
        if read or self._dispatcher.in_flight():
            return False
        if self._dispatcher.holding() > len(self._dispatcher.unrouted()):
            if self._dispatcher.most_failures() >= ONCE_GIVE_UP_ROUNDS:
                raise DestinationError(self._give_up_message())
            return False
        self._settle()
        if self._dispatcher.unrouted() or self._unsettled:
            raise DestinationError(self._give_up_message())
        return True

    def _purge_kept(self) -> None:
        """With retention keep, delete expired delivered events about once a minute, in small transactions."""
        if self._keep_s is None or time.monotonic() - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = time.monotonic()
        try:
            purged = self._events.purge_delivered(self._connection(), self._keep_s)
        except sa.exc.DBAPIError as exc:
            self.stats.db_errors += 1
            log.error("purging kept events failed: %s", exc.orig)
            self._drop_connection()
            return
        if purged:
            log.info("purged %d delivered event(s) older than %d s", purged, self._keep_s)

    def _take_lock(self) -> bool:
        waiting_logged = False
        while not self._stop.is_set():
            if self._lock.acquire(wait_s=1):
                log.info(
                    "relay lock %s taken (partitions %s); relaying %s",
                    self._lock.name,
                    sorted(self._lock.owned),
                    self._events.name,
                )
                self._notify("lock_changed", True, self._lock.name)
                return True
            if not waiting_logged:
                log.info(
                    "another relay (connection %s) holds %s; waiting", self._lock.holder(), self._lock.name
                )
                waiting_logged = True
        return False

    def _connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(isolation_level="READ COMMITTED")
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                conn.invalidate()
                conn.close()
            except Exception:
                log.debug("closing a broken connection failed", exc_info=True)

    def _teardown(self) -> None:
        self._drop_connection()
        if self._lock.name:
            self._notify("lock_changed", False, self._lock.name)
        self._lock.release()
        self._dispatcher.close()

    def _notify(self, hook: str, *args: object) -> None:
        for observer in self._observers:
            try:
                getattr(observer, hook)(*args)
            except Exception:
                log.exception("relay observer %r failed in %s", observer, hook)

    def _give_up_message(self) -> str:
        reasons = "; ".join(f"event {seq}: {why}" for seq, why in list(self.stats.errors.items())[:3])
        return f"--once gave up after {ONCE_GIVE_UP_ROUNDS} rounds without delivering everything ({reasons})"

    def _install_signals(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

        def cold(signum: int, frame: FrameType | None) -> None:
            raise ColdShutdown(signum)

        def warm(signum: int, frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            log.info("%s received: finishing the batch in hand; send it again to stop at once", name)
            self.request_stop()
            for sig in previous:
                signal.signal(sig, cold)

        for sig in previous:
            signal.signal(sig, warm)

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore


def _describe(exc: Exception, engine: Engine) -> str:
    return describe_db_error(exc, engine.url) if isinstance(exc, sa.exc.DBAPIError) else str(exc)
