"""The relay worker: events table → batch → publishers → delete.

One relay at a time holds the events table's named lock. It reads the oldest
events in ``seq`` order, publishes each to every destination its table routes
to (:mod:`outbox_triggers.dispatch`), and deletes exactly the rows every
destination accepted. Rows that failed stay for the next attempt, after an
exponential, jittered backoff.

Polling adapts: after a batch it reads again at once; when the table is
empty it waits 1 ms, then doubles the wait up to ``poll_interval``.

The first SIGTERM or SIGINT lets the batch in hand finish (publish and
delete), then the loop ends; a second one stops the process at once.
"""

from __future__ import annotations

import logging
import random
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
from outbox_triggers.dispatch import DEFAULT_MAX_IN_FLIGHT, Dispatcher
from outbox_triggers.errors import DestinationError, OutboxError
from outbox_triggers.events import Event, EventsTable
from outbox_triggers.publishers import Publisher, PublishResult

log = logging.getLogger(__name__)
DEFAULT_BATCH_SIZE = 500
DEFAULT_POLL_INTERVAL = 0.2
MIN_POLL_INTERVAL = 0.001
MAX_BACKOFF_S = 30.0
ONCE_GIVE_UP_ROUNDS = 6
PURGE_EVERY_S = 60.0


class RelayObserver(Protocol):
    """Hooks for metrics, progress and logs; every method is called from the relay's loop thread."""

    def lock_changed(self, held: bool, name: str) -> None:
        """The relay took (True) or lost/released (False) its lock."""

    def batch_done(self, events: Sequence[Event], result: PublishResult, seconds: float) -> None:
        """A batch was published and its accepted events deleted; ``seconds`` is publish + delete time."""

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


def backoff(attempt: int, base: float = 0.2, cap: float = MAX_BACKOFF_S) -> float:
    """Full-jitter exponential backoff for the ``attempt``-th consecutive failure."""
    return random.uniform(0, min(cap, base * 2.0 ** min(attempt, 20)))


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
        failures = empty = 0
        while not self._stop.is_set():
            events = self._next_batch(high)
            if events is None or (events and not self._deliver(events)):
                failures += 1
                if once and failures >= ONCE_GIVE_UP_ROUNDS:
                    raise DestinationError(self._give_up_message())
                self._stop.wait(backoff(failures))
            elif not events:
                if once:
                    return
                self._notify("idle")
                self._purge_kept()
                self._stop.wait(idle_wait(empty, self._poll_interval))
                empty += 1
            else:
                failures = empty = 0

    def _next_batch(self, high: int | None) -> list[Event] | None:
        """The next events, or None when the database failed."""
        try:
            if not self._lock.held():
                log.warning("relay lock lost; waiting to take it again")
                self._notify("lock_changed", False, self._lock.name)
                self._drop_connection()
                if not self._take_lock():
                    return []
            events = self._events.fetch(
                self._connection(), self._batch_size, self._lock.partitions, self._lock.owned
            )
        except (sa.exc.DBAPIError, OutboxError) as exc:
            self.stats.db_errors += 1
            log.error("reading events failed: %s", _describe(exc, self._engine))
            self._drop_connection()
            return None
        return [e for e in events if high is None or e.seq <= high]

    def _deliver(self, events: list[Event]) -> bool:
        """Publish a batch; delete what all destinations took, dead-letter rejects; True if none failed."""
        started = time.monotonic()
        result = self._dispatcher.publish(events)
        rejected_by = self._dispatcher.rejected_by
        dead = {seq: (rejected_by.get(seq, "?"), why) for seq, why in result.rejected.items()}
        self._settle(result.accepted, dead)
        self._notify("batch_done", events, result, time.monotonic() - started)
        self.stats.batches += 1
        self.stats.published += len(result.accepted)
        self.stats.dead_lettered += len(dead)
        self._note_failures(result, dead)
        return not result.failed

    def _note_failures(self, result: PublishResult, dead: Mapping[int, tuple[str, str]]) -> None:
        self.stats.failed_attempts += len(result.failed)
        self.stats.errors = dict(result.failed)
        for seq, reason in list(result.failed.items())[:3]:
            log.warning("event %s not delivered yet: %s", seq, reason)
        for seq, (destination, reason) in dead.items():
            log.error("event %s dead-lettered (destination %r): %s", seq, destination, reason)

    def _settle(self, delivered: list[int], dead: Mapping[int, tuple[str, str]]) -> None:
        try:
            self._events.settle(self._connection(), delivered, dead, keep=self._keep_s is not None)
        except sa.exc.DBAPIError as exc:
            self.stats.db_errors += 1
            log.error("recording delivered events failed (they will be sent again): %s", exc.orig)
            self._drop_connection()
            return
        self._dispatcher.forget([*delivered, *dead])

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
