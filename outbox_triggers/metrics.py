"""Prometheus metrics and a liveness check for the relay, served over HTTP.

:class:`RelayMetrics` is a :class:`~outbox_triggers.relay.RelayObserver`: it
counts what each batch did and judges health. :class:`Backlog` looks at the
events table with primary-key-only queries, at most every few seconds.
:class:`MetricsServer` serves ``/metrics`` and ``/healthz`` on a daemon thread.

Health: 200 while the relay waits for its lock (a standby relay is healthy),
and while it holds the lock and has finished a batch or an empty poll within
``stale_after_s``; 503 once it holds the lock but made no progress for that
long, while a request has waited longer than ``stall_after_s`` for its answer
(a stalled destination), or once it has stopped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

import sqlalchemy as sa
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from sqlalchemy.engine import Engine

from outbox_triggers import database, identifiers
from outbox_triggers.backfill_metrics import BackfillCollector
from outbox_triggers.defaults import DEFAULT_POLL_INTERVAL, DEFAULT_STALL_AFTER
from outbox_triggers.dispatch import MAX_BACKOFF_S
from outbox_triggers.errors import OutboxError
from outbox_triggers.events import Event
from outbox_triggers.progress import Progress
from outbox_triggers.publishers import PublishResult
from outbox_triggers.relay import RelayObserver
from outbox_triggers.spec import Spec
from outbox_triggers.status import destinations_of, routes_of

log = logging.getLogger(__name__)
HEALTH_STALE_S = 60.0
BACKLOG_EVERY_S = 5.0
EXACT_COUNT_BELOW = 10_000
MAX_PENDING_RETRIES = 100_000
BATCH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


@dataclass(frozen=True)
class BacklogReading:
    """One look at the events table (``exact`` False: ``events`` is the seq span, an upper bound)."""

    events: int
    exact: bool
    oldest_age_s: float | None
    clock_offset_s: float
    read_at: float


class Backlog:
    """The events table's backlog, read at most every ``every_s`` seconds, from the primary key only.

    The count is ``MAX(seq) - MIN(seq) + 1``: exact while events leave in
    order, an upper bound when failed events or AUTO_INCREMENT gaps sit in
    the span. Below :data:`EXACT_COUNT_BELOW` it is an exact ``COUNT(*)``.
    Each reading also notes the database clock's offset from this host's.
    """

    def __init__(
        self,
        engine: Engine,
        events_table: str,
        every_s: float = BACKLOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        quoted = identifiers.quote_text(events_table)
        self._span = sa.text(
            "SELECT MIN(seq), MAX(seq), UNIX_TIMESTAMP(NOW(6)), "  # noqa: S608
            f"(SELECT UNIX_TIMESTAMP(created_at) FROM {quoted} ORDER BY seq LIMIT 1) FROM {quoted}"
        )
        self._count = sa.text(f"SELECT COUNT(*) FROM {quoted}")  # noqa: S608
        self._engine = engine
        self._every_s = every_s
        self._clock = clock
        self._lock = threading.Lock()
        self._tried_at = -float("inf")
        self.latest: BacklogReading | None = None

    def read(self, max_age_s: float | None = None) -> BacklogReading | None:
        """A reading at most ``max_age_s`` (default ``every_s``) old; else the last good one."""
        limit = self._every_s if max_age_s is None else max_age_s
        with self._lock:
            if self._clock() - self._tried_at >= limit:
                self._tried_at = self._clock()
                try:
                    self.latest = self._query()
                except sa.exc.DBAPIError as exc:
                    log.debug("reading the backlog failed: %s", database.describe(exc, self._engine.url))
            return self.latest

    def _query(self) -> BacklogReading:
        with self._engine.connect() as conn:
            low, high, db_now, oldest = conn.execute(self._span).one()
            local_now = time.time()
            span = 0 if low is None else int(high) - int(low) + 1
            exact = span < EXACT_COUNT_BELOW
            events = int(conn.execute(self._count).scalar() or 0) if exact and span else span
        now = float(db_now)
        age = None if oldest is None else max(0.0, now - float(oldest))
        return BacklogReading(events, exact, age, now - local_now, self._clock())


class RelayMetrics:
    """The relay's Prometheus metrics and liveness; a RelayObserver (``routes``: table → destinations)."""

    def __init__(
        self,
        routes: Mapping[str, Sequence[str]],
        backlog: Backlog | None = None,
        stale_after_s: float = HEALTH_STALE_S,
        clock: Callable[[], float] = time.monotonic,
        registry: CollectorRegistry | None = None,
        stall_after_s: float = DEFAULT_STALL_AFTER,
    ) -> None:
        self.registry = registry or CollectorRegistry()
        self.stale_after_s = stale_after_s
        self.stall_after_s = stall_after_s
        self._waiting: dict[str, float] = {}
        self._waiting_at = clock()
        self._routes = routes
        self._backlog = backlog
        self._clock = clock
        self._pending: set[int] = set()
        self._held = False
        self._finished = False
        self._active_at = clock()
        self._lock = threading.Lock()
        self._define(self.registry)
        self._destinations = sorted({d for names in routes.values() for d in names})
        for name in self._destinations:
            self.published.labels(name)
            self.request_wait.labels(name)

    def _define(self, r: CollectorRegistry) -> None:
        self.published = Counter(
            "outbox_events_published",
            "Events delivered (accepted by every destination of their table), per destination",
            ["destination"],
            registry=r,
        )
        self.failed = Counter(
            "outbox_events_failed",
            "Failed delivery attempts (the event stays); held-back ones excluded",
            registry=r,
        )
        self.retried = Counter(
            "outbox_events_retried", "Events sent again after a failed attempt", registry=r
        )
        self.dead_lettered = Counter(
            "outbox_events_dead_lettered", "Events moved to the dead-letter table", registry=r
        )
        self.batch_seconds = Histogram(
            "outbox_batch_duration_seconds",
            "Time from one delete of delivered events to the next",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.lag = Histogram(
            "outbox_event_lag_seconds",
            "From an event's write (database clock) to its delivery",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.backlog = Gauge("outbox_backlog_events", "Events waiting in the events table", registry=r)
        self.oldest_age = Gauge(
            "outbox_oldest_event_age_seconds",
            "Age of the oldest undelivered event (database clock)",
            registry=r,
        )
        self.lock_held = Gauge("outbox_relay_lock_held", "1 while this relay holds its lock", registry=r)
        self.lock_since = Gauge(
            "outbox_relay_lock_acquired_timestamp_seconds",
            "When this relay took its lock (0: not held)",
            registry=r,
        )
        self.last_progress = Gauge(
            "outbox_relay_last_progress_timestamp_seconds",
            "When the relay last finished a batch or poll",
            registry=r,
        )
        self.request_wait = Gauge(
            "outbox_request_oldest_wait_seconds",
            "Per destination, how long its oldest request in flight has waited for an answer (0: none)",
            ["destination"],
            registry=r,
        )
        self.backlog.set_function(lambda: self._reading("events"))
        self.oldest_age.set_function(lambda: self._reading("oldest_age_s"))
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)

    def lock_changed(self, held: bool, name: str) -> None:
        """Track the lock; a relay without it is a healthy standby."""
        with self._lock:
            self._held = held
            self._touch()
            if not held:
                self._pending.clear()
        self.lock_held.set(1 if held else 0)
        self.lock_since.set(time.time() if held else 0)

    def batch_done(self, events: Sequence[Event], result: PublishResult, seconds: float) -> None:
        """Count a batch: delivered per destination, failures, retries, dead letters, latency and lag."""
        self.batch_seconds.observe(seconds)
        failed = list(result.failed)
        self.failed.inc(len(failed))
        self.dead_lettered.inc(len(result.rejected))
        with self._lock:
            self.retried.inc(sum(1 for e in events if e.seq in self._pending))
            self._remember_failures(result, failed)
            self._touch()
        self._count_delivered(events, result.accepted)

    def idle(self) -> None:
        """An empty poll is progress too."""
        with self._lock:
            self._touch()

    def requests_waiting(self, oldest: Mapping[str, float]) -> None:
        """Note how long each destination's oldest request in flight has waited; a stall turns health 503."""
        with self._lock:
            self._waiting, self._waiting_at = dict(oldest), self._clock()
        for name in {*self._destinations, *oldest}:
            self.request_wait.labels(name).set(oldest.get(name, 0.0))

    def record_dead_letters(self, count: int = 1) -> None:
        """Count events dead-lettered outside :meth:`batch_done`."""
        self.dead_lettered.inc(count)

    def finished(self) -> None:
        """The relay loop has ended: health turns 503."""
        with self._lock:
            self._finished = True

    def health(self) -> tuple[bool, str]:
        """(healthy, why) for a liveness probe."""
        with self._lock:
            if self._finished:
                return False, "the relay has stopped"
            if not self._held:
                return True, "waiting for the relay lock (another relay holds it, or starting)"
            quiet = self._clock() - self._active_at
            stalled = self._stalled()
        if stalled:
            return False, stalled
        if quiet > self.stale_after_s:
            return False, f"holding the relay lock but no batch or poll finished for {quiet:.0f} s"
        return True, f"relaying (last progress {quiet:.1f} s ago)"

    def _stalled(self) -> str:
        """Why health is 503 for a stalled destination ('' when none is); call with the lock held."""
        since = self._clock() - self._waiting_at
        stalled = {n: age + since for n, age in self._waiting.items() if age + since > self.stall_after_s}
        return "; ".join(
            f"destination {name!r}: a request has waited {age:.0f} s for its answer"
            for name, age in stalled.items()
        )

    def _count_delivered(self, events: Sequence[Event], accepted: Sequence[int]) -> None:
        done = set(accepted)
        reading = self._backlog.latest if self._backlog else None
        db_now = time.time() + (reading.clock_offset_s if reading else 0.0)
        per_destination: Tally[str] = Tally()
        for event in events:
            if event.seq in done:
                per_destination.update(destinations_of(event.table, self._routes))
                if event.created:
                    self.lag.observe(max(0.0, db_now - event.created))
        for name, count in per_destination.items():
            self.published.labels(name).inc(count)

    def _remember_failures(self, result: PublishResult, failed: Sequence[int]) -> None:
        self._pending.difference_update(result.accepted, result.rejected)
        if len(self._pending) + len(failed) > MAX_PENDING_RETRIES:
            self._pending.clear()
        self._pending.update(failed)

    def _touch(self) -> None:
        self._active_at = self._clock()
        self.last_progress.set(time.time())

    def _reading(self, attribute: str) -> float:
        reading = self._backlog.read() if self._backlog else None
        value = getattr(reading, attribute, None) if reading else None
        return float("nan") if value is None else float(value)


class MetricsServer:
    """``/metrics`` (Prometheus) and ``/healthz`` (200 or 503, with a JSON reason) on a daemon thread."""

    def __init__(self, metrics: RelayMetrics, port: int, host: str = "0.0.0.0") -> None:
        try:
            self._httpd = ThreadingHTTPServer((host, port), _handler(metrics))
        except OSError as exc:
            raise OutboxError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="outbox-metrics", daemon=True)
        self._thread.start()
        log.info("serving metrics on :%s/metrics and health on :%s/healthz", self.port, self.port)

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._httpd.server_address[1])

    def close(self) -> None:
        """Stop serving."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


def _handler(metrics: RelayMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encode, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._reply(200, content_type, encode(metrics.registry))
            elif path == "/healthz":
                ok, why = metrics.health()
                body = json.dumps({"status": "ok" if ok else "unhealthy", "detail": why}) + "\n"
                self._reply(200 if ok else 503, "application/json", body.encode())
            else:
                self._reply(404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n")

        def _reply(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics request: " + format, *args)

    return Handler


def observers_for(
    engine: Engine,
    spec: Spec,
    stack: ExitStack,
    metrics_port: int | None = None,
    progress: TextIO | None = None,
    poll_interval: float = DEFAULT_POLL_INTERVAL,
    stall_after_s: float = DEFAULT_STALL_AFTER,
) -> list[RelayObserver]:
    """The metrics server and progress line the options ask for, all closed when ``stack`` closes."""
    if metrics_port is None and progress is None:
        return []
    probe = database.engine(engine.url.render_as_string(hide_password=False), pool_size=1, max_overflow=1)
    stack.callback(probe.dispose)
    backlog = Backlog(probe, spec.events_table)
    observers: list[RelayObserver] = []
    if metrics_port is not None:
        stale_after = max(HEALTH_STALE_S, 2 * poll_interval + MAX_BACKOFF_S)
        metrics = RelayMetrics(
            routes_of(spec), backlog, stale_after_s=stale_after, stall_after_s=stall_after_s
        )
        metrics.registry.register(BackfillCollector(probe, spec.events_table))
        stack.callback(MetricsServer(metrics, metrics_port).close)
        stack.callback(metrics.finished)
        observers.append(metrics)
    if progress is not None:
        line = Progress(progress, lambda max_age_s: _events(backlog.read(max_age_s)))
        stack.callback(line.attach())
        observers.append(line)
    return observers


def _events(reading: BacklogReading | None) -> int | None:
    return reading.events if reading else None
