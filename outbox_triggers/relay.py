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
empty it waits 1 ms, then doubles the wait up to ``poll_interval``. Delivered
events are deleted in the background (:mod:`outbox_triggers.deleting`), a
batch or 50 ms' worth at a time, while reads go on.

A database that is down is retried about once a second, so publishing
resumes within about a second of it coming back; events that were delivered
but not yet deleted are deleted first, never sent again. Outages are logged
as one line when they start, a summary every 30 s, and one line when they
end (:mod:`outbox_triggers.outages`). A request that waits longer than
``stall_after_s`` for its answer is logged and reported to observers (metrics,
``/healthz``).

The first SIGTERM or SIGINT starts no new event; for up to ``finish_s`` it
sends the events some destination already accepted to the destinations still
missing them, then lets the requests in flight come back, deletes what they
delivered and ends the loop. A second signal raises :class:`ColdShutdown` at
once: requests in flight are abandoned and their events stay in the table.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from outbox_triggers import captures, lock, stopping
from outbox_triggers.database import error_code, translate_errors
from outbox_triggers.defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_STALL_AFTER,
)
from outbox_triggers.deleting import Batch, Deleter
from outbox_triggers.dispatch import Dispatcher, Finished, backoff
from outbox_triggers.errors import DestinationError, OutboxError
from outbox_triggers.events import Event, EventsTable, burial
from outbox_triggers.outages import Outage
from outbox_triggers.publishers import Publisher, PublishResult
from outbox_triggers.publishers.base import without_urls
from outbox_triggers.routing import Router
from outbox_triggers.stopping import ColdShutdown

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_POLL_INTERVAL",
    "ColdShutdown",
    "Relay",
    "RelayObserver",
    "RelayStats",
]
log = logging.getLogger(__name__)
MIN_POLL_INTERVAL = 0.001
DB_RETRY_S = 1.0
ONCE_GIVE_UP_S = 10.0
ONCE_GIVE_UP_ATTEMPTS = 3
PURGE_EVERY_S = 60.0
SETTLE_EVERY_S = 0.05
WATCH_EVERY_S = 0.25


class RelayObserver(Protocol):
    """Hooks for metrics, progress and logs; every method is called from the relay's loop thread."""

    def lock_changed(self, held: bool, name: str) -> None:
        """The relay took (True) or lost/released (False) its lock."""

    def batch_done(self, events: Sequence[Event], result: PublishResult, seconds: float) -> None:
        """Finished events were deleted or dead-lettered; ``seconds`` since the previous such delete."""

    def idle(self) -> None:
        """A read found nothing to relay."""

    def requests_waiting(self, oldest: Mapping[str, float]) -> None:
        """Per destination with requests in flight, how long the oldest has waited for its answer (s)."""


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
        stall_after_s: float = DEFAULT_STALL_AFTER,
        finish_s: float = DEFAULT_REQUEST_TIMEOUT,
        router: Router | None = None,
        format_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._engine = engine
        self._observers = tuple(observers)
        self._keep_s = keep_delivered_s
        self._purged_at = 0.0
        self._events = EventsTable(events_table, lag=bool(observers))
        self._dispatcher = Dispatcher(
            routes,
            max_in_flight,
            database=engine.url.database or "",
            router=router,
            captures=captures.Registry(engine, events_table),
            format_options=format_options,
        )
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._lock = lock.for_relay(engine, events_table, partitions)
        self._stop = threading.Event()
        self._conn: Connection | None = None
        self._unsettled: Batch = {}
        self._unsettled_since = 0.0
        self._guard = threading.Lock()
        self._deleter = Deleter(engine, self._events, keep_delivered_s is not None, self._guard)
        self._held = _Held(self._dispatcher, self._unsettled, self._deleter)
        self._finished = Finished()
        self._settled_at = time.monotonic()
        self._stall_after_s = stall_after_s
        self._finish_s = finish_s
        self._database = Outage("database", "unreachable", "reachable again")
        self._failing: dict[str, Outage] = {}
        self._stalled: set[str] = set()
        self._watched_at = 0.0
        self._holding = False
        self._cold = False
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
        except ColdShutdown:
            self._cold = True
            raise
        finally:
            self._teardown()
            restore()
        return self.stats

    def _loop(self, once: bool) -> None:
        high = self._high_water() if once else None
        empty = db_failures = 0
        while not self._stop.is_set():
            self._watch()
            if self._dispatcher.holding() > self._batch_size:  # full: let requests come back first
                self._record(self._collect(self._poll_interval))
                continue
            read = self._read(high)
            if read is None:  # the database failed: try again within about a second
                db_failures += 1
                self._stop.wait(backoff(db_failures, base=0.05, cap=DB_RETRY_S))
                continue
            db_failures, empty = 0, 0 if read else empty + 1
            wait = 0.0 if read == self._batch_size else idle_wait(empty, self._poll_interval)
            self._record(self._collect(wait))
            if once and self._once_over(read):
                return
            if not read:
                self._settle()
            if not read and not self._dispatcher.holding():
                self._notify("idle")
                self._purge_kept()
        self._record(self._dispatcher.drain(self._finish_s if self._lock.held() else 0.0))
        self._settle()
        self._report_failing()  # close the outages that ended meanwhile

    def _high_water(self) -> int:
        with translate_errors(self._engine.url):
            return self._events.high_water(self._connection())

    def _watch(self) -> None:
        """About four times a second: report stalled requests and failing destinations."""
        now = time.monotonic()
        if now - self._watched_at < WATCH_EVERY_S:
            return
        self._watched_at = now
        waiting = self._dispatcher.outstanding()
        self._report_stalls(waiting)
        self._report_failing()
        self._notify("requests_waiting", waiting)

    def _report_stalls(self, waiting: Mapping[str, float]) -> None:
        threshold = self._stall_after_s
        for name, age in waiting.items():
            if age >= threshold and name not in self._stalled:
                self._stalled.add(name)
                log.warning(
                    "destination %r: a request has waited %.1f s for its answer (stall threshold %.0f s)",
                    name,
                    age,
                    threshold,
                )
        for name in [n for n in self._stalled if waiting.get(n, 0.0) < threshold]:
            self._stalled.discard(name)
            log.info("destination %r: no request waits longer than %.0f s any more", name, threshold)

    def _report_failing(self) -> None:
        """Log destinations' outages: start, a summary now and then, end (a brief one in one line)."""
        for name, episode in self._dispatcher.recovered().items():
            outage = self._failing.pop(name, None)
            if outage is not None:
                outage.ended()
            else:
                log.warning(
                    "destination %r failed for %.1f s (%d failed attempts; last error: %s); accepting again",
                    name,
                    time.monotonic() - episode.since,
                    episode.attempts,
                    episode.error,
                )
        for name, state in self._dispatcher.failing().items():
            if name not in self._failing:
                self._failing[name] = Outage(f"destination {name!r}", "failing", "accepting events again")
            waiting = f"{state.queued:,} event(s) waiting for it"
            self._failing[name].failed(state.error, state.attempts, waiting)

    def _read(self, high: int | None) -> int | None:
        """Start a delete when due, then add the next events to the pipeline: how many; None on failure."""
        self._delete_in_background()
        try:
            if not self._keep_lock():
                return 0
            with self._guard:
                events = self._events.fetch(
                    self._connection(),
                    self._batch_size,
                    self._lock.partitions,
                    self._lock.owned,
                    self._held,
                )
        except (sa.exc.DBAPIError, OutboxError) as exc:
            self._database_failed(exc)
            return None
        self._database.ended()
        fresh = [e for e in events if high is None or e.seq <= high][: self._batch_size]
        self._dispatcher.add(fresh)
        return len(fresh)

    def _database_failed(self, exc: Exception) -> None:
        """Count and log (as an outage) a failed database statement, and drop the connection."""
        self.stats.db_errors += 1
        unsettled = len(self._unsettled)
        waiting = f"{unsettled:,} delivered event(s) wait to be deleted" if unsettled else ""
        self._database.failed(_describe(exc), waiting=waiting)
        self._drop_connection()

    def _keep_lock(self) -> bool:
        """True while this relay may read; drains the pipeline first when partitions are due to rebalance."""
        if self._lock.rebalance_due():
            self._record(self._dispatcher.drain())
            self._settle()
            self._lock.rebalance()
        if self._lock.held():
            return True
        if self._holding:  # once per loss: stop publishing, keep what is delivered to delete it later
            self._holding = False
            log.warning(
                "relay lock %s lost (its connection dropped, or it was released); taking it again",
                self._lock.name,
            )
            self._notify("lock_changed", False, self._lock.name)
            self._record(self._dispatcher.drain())
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
        if not self._unsettled and (result.accepted or result.rejected):
            self._unsettled_since = time.monotonic()
        for seq in result.accepted:
            self._unsettled[seq] = None
        if result.rejected:
            self._bury(finished)
        self._finished.fold(finished)
        self.stats.published += len(result.accepted)
        self.stats.dead_lettered += len(result.rejected)
        self.stats.failed_attempts += len(result.failed)
        if result.failed:
            self.stats.errors = dict(result.failed)
        if result.failed and not self._unsettled:
            self._report()  # nothing to delete: report the failed attempts now, not at the next delete

    def _bury(self, finished: Finished) -> None:
        """Queue rejected events for the dead letters (with their body when it isn't UTF-8); log each."""
        bodies = {e.seq: e.body for e in finished.events if e.seq in finished.result.rejected}
        for seq, reason in finished.result.rejected.items():
            destination = finished.rejected_by.get(seq, "?")
            self._unsettled[seq] = burial(destination, reason, bodies.get(seq, ""))
            log.error("event %s dead-lettered (destination %r): %s", seq, destination, reason)

    def _report(self) -> None:
        """Tell the observers what finished (and failed) since the last report."""
        finished, self._finished = self._finished, Finished()
        now = time.monotonic()
        self._notify("batch_done", finished.events, finished.result, now - self._settled_at)
        self._settled_at = now

    def _delete_in_background(self) -> None:
        """Collect a finished background delete; hand the delivered events to a new one when due.

        A full batch waiting behind a delete still under way waits for it: what a
        crash would send again, and what the relay keeps in memory, stay bounded.
        """
        if self._deleter.busy() and len(self._unsettled) < self._batch_size:
            return
        self._collect_delete()
        if self._settle_due():
            batch = dict(self._unsettled)
            self._unsettled.clear()
            self._deleter.start(batch)

    def _collect_delete(self) -> bool:
        """Wait for the background delete, if any, and report it; False if it failed (events wait again)."""
        outcome = self._deleter.finish()
        if outcome is None:
            return True
        failed, error = outcome
        if error is None:
            self.stats.batches += 1
            self._report()
            return True
        self._unsettled.update(failed)
        self._database_failed(error if isinstance(error, Exception) else RuntimeError(str(error)))
        return False

    def _settle_due(self) -> bool:
        """Delete delivered events once a batch of them waits, or the oldest has waited 50 ms.

        Until then they stay in the table, and reads count them as held, so a
        read never waits for a delete (and its commit) unless one is due.
        """
        if not self._unsettled:
            return False
        full = len(self._unsettled) >= self._batch_size
        return full or time.monotonic() - self._unsettled_since >= SETTLE_EVERY_S

    def _settle(self) -> bool:
        """Delete what every destination accepted and dead-letter what one rejected, in one transaction.

        False when the database failed: the events stay in the table, and out of
        the pipeline's reads, until a later call records them.
        """
        if not self._collect_delete():
            return False
        if not self._unsettled:
            return True
        delivered = [seq for seq, refused in self._unsettled.items() if refused is None]
        dead = {seq: refused for seq, refused in self._unsettled.items() if refused is not None}
        try:
            self._events.settle(self._connection(), delivered, dead, keep=self._keep_s is not None)
        except sa.exc.DBAPIError as exc:
            self._database_failed(exc)
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
            if self._hopeless():
                raise DestinationError(self._give_up_message())
            return False
        self._settle()
        if self._dispatcher.unrouted() or self._unsettled:
            raise DestinationError(self._give_up_message())
        return True

    def _hopeless(self) -> bool:
        """With ``--once``: a destination has failed every attempt (at least 3) for ``ONCE_GIVE_UP_S``."""
        now = time.monotonic()
        return any(
            now - state.since >= ONCE_GIVE_UP_S and state.attempts >= ONCE_GIVE_UP_ATTEMPTS
            for state in self._dispatcher.failing().values()
        )

    def _purge_kept(self) -> None:
        """With retention keep, delete expired delivered events about once a minute, in small transactions."""
        if self._keep_s is None or time.monotonic() - self._purged_at < PURGE_EVERY_S:
            return
        self._purged_at = time.monotonic()
        try:
            purged = self._events.purge_delivered(self._connection(), self._keep_s)
        except sa.exc.DBAPIError as exc:
            self._database_failed(exc)
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
                self._holding = True
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
        if self._cold:  # no waiting, no statements: the server frees the lock when the process is gone
            self._dispatcher.close(wait=False)
            self._deleter.close(wait=False)
            return
        self._deleter.close()
        self._drop_connection()
        if self._lock.name:
            self._notify("lock_changed", False, self._lock.name)
        self._lock.release()
        self._dispatcher.close()

    def _notify(self, hook: str, *args: object) -> None:
        for observer in self._observers:
            method = getattr(observer, hook, None)
            if method is None:  # an observer written before this hook existed
                continue
            try:
                method(*args)
            except Exception:
                log.exception("relay observer %r failed in %s", observer, hook)

    def _give_up_message(self) -> str:
        reasons = "; ".join(f"event {seq}: {why}" for seq, why in list(self.stats.errors.items())[:3])
        return f"--once gave up: a destination failed every attempt for {ONCE_GIVE_UP_S:.0f} s ({reasons})"

    def _install_signals(self) -> Callable[[], None]:
        def cold(signum: int, frame: FrameType | None) -> None:
            log.warning(
                "%s received again: stopping at once; events in flight stay in the table",
                stopping.name(signum),
            )
            stopping.cold(signum, frame)

        def warm(signum: int, frame: FrameType | None) -> None:
            log.info(
                "%s received: finishing what is in flight (at most about %.0f s); send it again to stop now",
                stopping.name(signum),
                2 * self._finish_s,
            )
            self.request_stop()
            stopping.install(cold)

        return stopping.install(warm)


class _Held:
    """What reads must skip: events in the pipeline, delivered ones not deleted yet, and those being deleted.

    Read under the relay's guard, so a background delete's commit can't change it mid-read.
    """

    def __init__(self, dispatcher: Dispatcher, unsettled: Mapping[int, object], deleter: Deleter) -> None:
        self._dispatcher = dispatcher
        self._unsettled = unsettled
        self._deleter = deleter

    def holding(self) -> int:
        """How many events are held (all still in the table)."""
        return self._dispatcher.holding() + len(self._unsettled) + len(self._deleter.settling)

    def highest(self) -> int:
        """At least the newest ``seq`` held."""
        settling = self._deleter.settling
        return max(self._dispatcher.highest(), max(self._unsettled, default=0), max(settling, default=0))

    def holds(self, seq: int) -> bool:
        """True if ``seq`` is held."""
        return seq in self._unsettled or seq in self._deleter.settling or self._dispatcher.holds(seq)


def _describe(exc: Exception) -> str:
    """One line for a failed statement: the error number and the driver's message, no URL."""
    cause = exc.__cause__ if isinstance(exc, OutboxError) else exc
    if not isinstance(cause, sa.exc.DBAPIError):
        return without_urls(str(exc))
    orig = cause.orig
    detail = str(orig.args[1]) if orig is not None and len(orig.args) > 1 else str(orig)
    code = error_code(cause)
    return without_urls(f"error {code}: {detail}" if code else detail)
