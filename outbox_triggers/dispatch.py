"""Publish events as a continuous pipeline: concurrent requests, each key's order kept.

The relay :meth:`~Dispatcher.add`\\ s events as it reads them and
:meth:`~Dispatcher.collect`\\ s what finished. Requests keep flowing while it
reads the next events and deletes delivered ones, so a slow destination
always has up to ``max_in_flight`` requests working.

For every destination, each key's events wait in a queue of their own, in
``seq`` order, and a key has at most one request in flight: a key's later
event is sent only after its earlier ones came back. A failed entry goes back
to the head of its key's queue, and its destination pauses for an
exponential, jittered backoff; other destinations go on. A destination that
orders by key (Kinesis, FIFO queues and topics) gets at most one event per
key in a request, so a partly failed request can never deliver a key's later
event before its earlier one.

An event is finished when every destination it routes to has accepted it, or
when one rejected it for good (it is then dead-lettered, and not sent to the
others). A destination that accepted an event is not sent it again while
another destination retries. An event that can't be re-encoded for a
destination (invalid JSON or UTF-8, or no envelope can be built from it) is
rejected for good the same way, before anything is sent.

A failing destination sends one request at a time, after a short backoff
(at most :data:`MAX_BACKOFF_S`), until one succeeds: that request is the probe
that finds the destination back, within about a second, at no cost while it
is down. :meth:`Dispatcher.outstanding` tells how long requests have been
waiting for an answer, so the relay can report a stall.

A backfill's start and end markers are fences: a destination sends one once
every older message of its own is out, and holds newer ones until it is.

At a clean stop, :meth:`Dispatcher.drain` first finishes the events some
destination already accepted, by sending them to the destinations still
missing them, so the next relay does not send them again to the first.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import zlib
from collections import OrderedDict, deque
from collections.abc import Container, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from outbox_triggers import envelopes, restricted
from outbox_triggers.defaults import DEFAULT_MAX_IN_FLIGHT
from outbox_triggers.events import Event
from outbox_triggers.publishers import Message, Publisher, PublishResult
from outbox_triggers.publishers.base import UNREADABLE, unreadable, without_urls
from outbox_triggers.routing import DEAD_LETTER_DESTINATION, Router, Unroutable

__all__ = ["DEFAULT_MAX_IN_FLIGHT", "Dispatcher", "Finished", "backoff"]
log = logging.getLogger(__name__)
MAX_BACKOFF_S = 1.0
MAX_REMEMBERED = 100_000
SENDING, FINISHING, HOLDING = "sending", "finishing", "holding"


def backoff(attempt: int, base: float = 0.1, cap: float = MAX_BACKOFF_S) -> float:
    """Exponential backoff with jitter for the ``attempt``-th consecutive failure: half fixed, half random."""
    ceiling = min(cap, base * 2.0 ** min(attempt, 20))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


class Failing(NamedTuple):
    """A destination whose latest requests failed: since when, how many attempts, the last error, queued."""

    since: float
    attempts: int
    error: str
    queued: int


@dataclass
class Finished:
    """Out of the pipeline: events done (accepted everywhere, or dead), and entries failed for now."""

    events: list[Event] = field(default_factory=list)
    result: PublishResult = field(default_factory=PublishResult)
    rejected_by: dict[int, str] = field(default_factory=dict)

    def fold(self, other: Finished) -> None:
        """Add ``other`` to this one."""
        self.events.extend(other.events)
        self.result.merge(other.result)
        self.rejected_by.update(other.rejected_by)


class _Destination:
    """One publisher's side of the pipeline: per-key queues, the keys ready to send, and its backoff."""

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.name = publisher.name
        self.ordered = bool(getattr(publisher, "ordered", False))
        # group_by: aggregate — each key's queue is its aggregate's, not its row's (see Dispatcher._message)
        self.by_aggregate = self.ordered and bool(getattr(publisher, "by_aggregate", False))
        self.queues: dict[int, deque[Message]] = {}
        # an OrderedDict, not a dict: taking from the front of a plain dict rescans the deleted slots
        self.ready: OrderedDict[int, None] = OrderedDict()
        self.busy: set[int] = set()
        self.sending: set[int] = set()
        self.failures = 0
        self.resume_at = 0.0
        self.failing_since: float | None = None
        self.recovered: Failing | None = None  # the last failure episode that ended, until reported
        self.error = ""
        self.started: dict[int, float] = {}  # id of each request in flight → when it started
        # a fence (a backfill's marker) is sent once every older message is out, and newer ones wait for it
        self.fence: Message | None = None
        self.fence_released = False
        self.behind: deque[tuple[Message, bool]] = deque()

    def may_send(self, now: float) -> bool:
        """Past its backoff, and, while failing, with no request out (its next one is the probe)."""
        return now >= self.resume_at and not (self.failures and self.started)

    def enqueue(self, message: Message, fence: bool = False) -> None:
        """Queue a message behind its key's earlier ones (a ``fence``: behind every earlier one)."""
        if self.fence is not None:
            self.behind.append((message, fence))
        elif fence:
            self.fence, self.fence_released = message, False
            self.settle()
        else:
            self._queue(message)

    def _queue(self, message: Message) -> None:
        key = message.key_hash
        messages = self.queues.get(key)
        if messages is None:
            messages = self.queues[key] = deque()
        messages.append(message)
        if key not in self.busy:
            self.ready[key] = None

    def settle(self) -> None:
        """Move the fence along: send it once nothing older is left, lift it once it is out."""
        fence = self.fence
        if fence is None:
            return
        if not self.fence_released:
            if not self._older_than(fence.seq):
                self.fence_released = True
                self._queue(fence)
            return
        if fence.seq in self.sending or any(m.seq == fence.seq for m in self.queues.get(fence.key_hash, ())):
            return
        self.fence, behind, self.behind = None, self.behind, deque()
        for message, is_fence in behind:
            self.enqueue(message, is_fence)

    def _older_than(self, seq: int) -> bool:
        """Whether a message older than ``seq`` is still queued or in flight."""
        return any(s < seq for s in self.sending) or any(q and q[0].seq < seq for q in self.queues.values())

    def take(self, rejected: dict[int, str]) -> list[Message]:
        """The next request from the ready keys' oldest messages; oversize ones go to ``rejected``."""
        self.settle()
        request: list[Message] = []
        limits, ready, queues, ordered = self.publisher, self.ready, self.queues, self.ordered
        most, largest, budget = limits.max_entries, limits.max_message_bytes, limits.max_request_bytes
        size = 0
        while ready and len(request) < most:
            key = next(iter(ready))
            messages, took = queues[key], False
            while messages and len(request) < most and not (took and ordered):
                message = messages[0]
                if message.size > largest:
                    rejected[messages.popleft().seq] = _oversize(message, limits)
                elif request and size + message.size > budget:
                    break
                else:
                    request.append(messages.popleft())
                    size += message.size
                    took = True
            if messages and not took:
                break  # the request is full by bytes
            del ready[key]
            if took:
                self.busy.add(key)
            else:
                del queues[key]
        self.sending.update([m.seq for m in request])
        return request

    def take_accepted(self, accepted: Container[int]) -> list[Message]:
        """At a clean stop: a request of keys whose oldest message another destination accepted, one each."""
        request: list[Message] = []
        size, limits = 0, self.publisher
        for key in list(self.ready):
            if not self.queues.get(key):
                continue
            message = self.queues[key][0]
            if len(request) >= limits.max_entries or (
                request and size + message.size > limits.max_request_bytes
            ):
                break
            if message.seq in accepted and message.size <= limits.max_message_bytes:
                request.append(self.queues[key].popleft())
                size += message.size
                del self.ready[key]
                self.busy.add(key)
        self.sending.update(m.seq for m in request)
        return request

    def returned(self, request: Sequence[Message], failed: Mapping[int, str], now: float) -> None:
        """A request is back: failed messages return to their keys' heads; a failure backs off."""
        self.started.pop(id(request), None)
        queues, ready, busy, sending = self.queues, self.ready, self.busy, self.sending
        if failed:
            for message in reversed([m for m in request if m.seq in failed]):
                queues.setdefault(message.key_hash, deque()).appendleft(message)
        for message in request:
            key = message.key_hash
            sending.discard(message.seq)
            busy.discard(key)
            if queues.get(key):
                ready[key] = None
            else:
                queues.pop(key, None)
        if not failed:
            if self.failing_since is not None:
                self.recovered = Failing(self.failing_since, self.failures, self.error, 0)
            self.failures, self.resume_at, self.failing_since = 0, 0.0, None
        elif now >= self.resume_at:
            self.failures += 1
            self.resume_at = now + backoff(self.failures)
            self.failing_since = self.failing_since or now
            self.error = next(iter(failed.values()))
        self.settle()

    def failing(self) -> Failing | None:
        """How this destination is failing, or None while its requests succeed."""
        if self.failing_since is None:
            return None
        queued = sum(len(messages) for messages in self.queues.values()) + len(self.sending)
        queued += len(self.behind)
        return Failing(self.failing_since, self.failures, self.error, queued)

    def discard(self, seq: int, key: int) -> None:
        """Forget a queued message, e.g. after another destination dead-lettered it."""
        for queued in list(self.queues) if self.by_aggregate else [key]:
            if queued in self.queues:
                self.queues[queued] = deque(m for m in self.queues[queued] if m.seq != seq)
        self.behind = deque(entry for entry in self.behind if entry[0].seq != seq)
        if self.fence is not None and self.fence.seq == seq:
            self.fence_released = True  # gone: lift it
        self.settle()

    def clear(self) -> None:
        """Drop every queued message; keys in flight stay busy until their requests return."""
        for key in [k for k in self.queues if k not in self.busy]:
            del self.queues[key]
        for messages in self.queues.values():
            messages.clear()
        self.ready.clear()
        self.fence, self.behind = None, deque()


class Dispatcher:
    """Sends events to the publishers their tables route to, as a pipeline of concurrent requests.

    A request thread that gets its answer starts the next request itself, so
    requests keep flowing while the relay's thread reads or deletes. All state
    is guarded by one lock.
    """

    def __init__(
        self,
        routes: Mapping[str, Sequence[Publisher]],
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        database: str = "",
        router: Router | None = None,
        captures: envelopes.Captures | None = None,
        format_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """``router`` (the spec's ``routing``) picks the publishers of the events it decides, by a field;
        ``captures`` finds each event's column types; ``format_options`` are per destination name."""
        self._routes = routes
        self._router = router
        self._database = database
        self._captures = captures
        options = format_options or {}
        self._formatters = {
            p.name: envelopes.formatter(p.format, database, options.get(p.name), captures)
            for ps in routes.values()
            for p in ps
        }
        self._destinations = {p.name: _Destination(p) for ps in routes.values() for p in ps}
        self._turns = deque(self._destinations.values())
        self._routed: dict[str, tuple[Sequence[Publisher], frozenset[str]]] = {}
        self._max_in_flight = max_in_flight
        self._pool = ThreadPoolExecutor(max_in_flight, thread_name_prefix="outbox-publish")
        self._lock = threading.Condition(threading.RLock())
        self._events: dict[int, Event] = {}
        self._waiting: dict[int, set[str]] = {}
        self._accepted_by: dict[int, set[str]] = {}
        self._dead: dict[int, tuple[str, str]] = {}
        self._unrouted: dict[int, str] = {}
        self._failed: dict[int, str] = {}
        self._done: list[int] = []
        self._highest = 0
        self._in_flight = 0
        self._mode = SENDING
        for publisher in router.publishers() if router else ():
            self._adopt(publisher)

    def add(self, events: Iterable[Event]) -> None:
        """Take new events (in ``seq`` order, none already held) and start sending them."""
        with self._lock:
            for event in events:
                self._add(event)
            self._send()

    def collect(self, timeout: float = 0.0) -> Finished:
        """Wait up to ``timeout`` (only while a request is in flight) for something to finish; return it."""
        with self._lock:
            self._send()
            if timeout > 0 and self._in_flight and not (self._done or self._failed):
                self._lock.wait(timeout)
            finished = Finished()
            finished.result.failed, self._failed = self._failed, {}
            self._finish(finished)
            return finished

    def drain(self, finish_s: float = 0.0) -> Finished:
        """Wait for the requests in flight; release the rest (it stays in the events table).

        For up to ``finish_s`` seconds, first send the events some destination
        already accepted to the destinations still missing them (not to one
        that fails meanwhile), so they leave the table now rather than go out
        twice from the next relay.
        """
        finished = Finished()
        deadline = time.monotonic() + finish_s
        with self._lock:
            self._mode = FINISHING if finish_s > 0 else HOLDING
            while True:
                if self._mode == FINISHING and time.monotonic() >= deadline:
                    self._mode = HOLDING
                finished.fold(self.collect(min(0.5, max(0.01, deadline - time.monotonic()))))
                if not self._in_flight:
                    break
            self._release()
        return finished

    def _release(self) -> None:
        """Forget every event held (they stay in the table), then send again."""
        for destination in self._destinations.values():
            destination.clear()
        for pending in (self._events, self._waiting, self._dead, self._unrouted):
            pending.clear()
        self._highest = 0
        if len(self._accepted_by) > MAX_REMEMBERED:
            self._accepted_by.clear()
        self._mode = SENDING

    def holding(self) -> int:
        """How many events are in the pipeline: queued, in flight, or parked because nothing routes them."""
        with self._lock:
            return len(self._events)

    def holds(self, seq: int) -> bool:
        """True if ``seq`` is in the pipeline, so the relay must not add it again."""
        with self._lock:
            return seq in self._events

    def highest(self) -> int:
        """At least the newest ``seq`` held: every event up to it was added, unless it came late."""
        with self._lock:
            return self._highest

    def in_flight(self) -> int:
        """Requests on their way."""
        with self._lock:
            return self._in_flight

    def backing_off(self) -> float | None:
        """Seconds until a paused destination with queued events may send again; None if none waits."""
        now = time.monotonic()
        with self._lock:
            waits = [d.resume_at - now for d in self._destinations.values() if d.ready and d.resume_at > now]
        return min(waits) if waits else None

    def failing(self) -> dict[str, Failing]:
        """The destinations whose latest requests failed, and how."""
        with self._lock:
            states = {d.name: d.failing() for d in self._destinations.values()}
        return {name: state for name, state in states.items() if state is not None}

    def recovered(self) -> dict[str, Failing]:
        """The failure episodes that ended since the last call (each reported once)."""
        with self._lock:
            ended = {d.name: d.recovered for d in self._destinations.values() if d.recovered}
            for destination in self._destinations.values():
                destination.recovered = None
        return ended

    def outstanding(self) -> dict[str, float]:
        """Per destination, how long its oldest request in flight has waited for an answer, in seconds."""
        now = time.monotonic()
        with self._lock:
            return {d.name: now - min(d.started.values()) for d in self._destinations.values() if d.started}

    def unrouted(self) -> dict[int, str]:
        """Events no destination routes, parked until a relay starts with a spec that routes them."""
        with self._lock:
            return dict(self._unrouted)

    def close(self, wait: bool = True) -> None:
        """Start nothing new, and stop the request threads once the requests in flight return.

        With ``wait`` False, return at once: requests in flight are abandoned.
        """
        with self._lock:
            self._mode = HOLDING
        self._pool.shutdown(wait=wait, cancel_futures=True)

    def _add(self, event: Event) -> None:
        seq = event.seq
        self._events[seq] = event
        if seq > self._highest:
            self._highest = seq
        if self._router is not None and self._router.decides(event.table):
            if (routed := self._route_by_field(event)) is None:
                return  # no route matches it: dead-lettered
            publishers, names = routed
        else:
            publishers, names = self._route(event.table)
        backfilled = restricted.read(event.body)
        publishers, names = restricted.restrict(backfilled.only_to, publishers, names)
        if not publishers:
            self._unrouted[seq] = self._failed[seq] = f"no destination routes table {event.table!r}"
            return
        took = self._accepted_by.get(seq) if self._accepted_by else None
        waiting = self._waiting[seq] = set(names) - took if took else set(names)
        messages = []
        try:
            for publisher in publishers:
                if publisher.name in waiting:
                    message = self._message(publisher, event)
                    if message is None:  # the format has no message for this event: nothing to send
                        waiting.discard(publisher.name)
                    else:
                        messages.append((publisher.name, message))
        except Unpublishable as exc:
            self._dead[seq] = (exc.destination, exc.reason)
            waiting.clear()
        if not waiting:
            self._done.append(seq)
            return
        for name, message in messages:
            self._destinations[name].enqueue(message, backfilled.fence)

    def _route(self, table: str) -> tuple[Sequence[Publisher], frozenset[str]]:
        """The publishers a table's events go to, and their names; remembered per table."""
        route = self._routed.get(table)
        if route is None:
            publishers = self._routes.get(table) or self._routes.get("*") or ()
            route = self._routed[table] = (publishers, frozenset(p.name for p in publishers))
        return route

    def _route_by_field(self, event: Event) -> tuple[Sequence[Publisher], frozenset[str]] | None:
        """The publishers the router picks for ``event``; None (and the event dead) when it picks none."""
        try:
            publishers = self._router.route(event) if self._router else ()
        except Unroutable as exc:
            self._dead[event.seq] = (DEAD_LETTER_DESTINATION, exc.reason)
            self._waiting[event.seq] = set()
            self._done.append(event.seq)
            return None
        for publisher in publishers:
            self._adopt(publisher)
        return publishers, frozenset(p.name for p in publishers)

    def _adopt(self, publisher: Publisher) -> None:
        """Send to ``publisher`` from now on too (a routing destination, maybe made for a new value)."""
        if publisher.name not in self._destinations:
            self._formatters[publisher.name] = envelopes.formatter(
                publisher.format, self._database, None, self._captures
            )
            self._destinations[publisher.name] = destination = _Destination(publisher)
            self._turns.append(destination)

    def _send(self) -> None:
        """Start requests, up to ``max_in_flight``, each on a request thread."""
        while (work := self._next()) is not None:
            self._pool.submit(self._request, *work).add_done_callback(_report_crash)

    def _next(self) -> tuple[_Destination, list[Message]] | None:
        """The next request to send, from the destinations in turn; None when none may send now."""
        if self._mode == HOLDING or self._in_flight >= self._max_in_flight:
            return None
        now, rejected = time.monotonic(), dict[int, str]()
        for _ in range(len(self._turns)):
            destination = self._turns[0]
            self._turns.rotate(-1)
            request = self._take(destination, now, rejected)
            for seq, why in rejected.items():
                self._reject(seq, destination.name, why)
            rejected.clear()
            if request:
                self._in_flight += 1
                destination.started[id(request)] = now
                return destination, request
        return None

    def _take(self, destination: _Destination, now: float, rejected: dict[int, str]) -> list[Message]:
        if not destination.may_send(now):
            return []
        if self._mode == FINISHING:
            return destination.take_accepted(self._accepted_by)
        return destination.take(rejected)

    def _request(self, destination: _Destination, request: list[Message]) -> None:
        """On a request thread: send, record the answer, and go on with the next request, if any."""
        work: tuple[_Destination, list[Message]] | None = (destination, request)
        while work is not None:
            destination, request = work
            try:
                outcome = destination.publisher.send(request)
            except Exception as exc:  # a publisher's bug must not lose the messages
                why = without_urls(f"{type(exc).__name__}: {exc}")
                outcome = PublishResult(failed={m.seq: why for m in request})
            with self._lock:
                try:
                    self._returned(destination, request, outcome)
                    work = self._next()
                    self._send()
                finally:
                    self._lock.notify_all()

    def _returned(self, destination: _Destination, request: list[Message], outcome: PublishResult) -> None:
        self._in_flight -= 1
        name = destination.name
        clean = len(outcome.accepted) == len(request) and not outcome.failed and not outcome.rejected
        if clean:
            self._all_took(outcome.accepted, name)
            destination.returned(request, {}, 0.0)
            return
        failed = {m.seq: outcome.failed.get(m.seq, "no answer for it") for m in request}
        for seq in outcome.accepted:
            failed.pop(seq, None)
            if self._took(seq, name):
                self._accepted_by.setdefault(seq, set()).add(name)
        for seq, why in outcome.rejected.items():
            del failed[seq]
            self._reject(seq, name, why)
        for seq in [s for s in failed if s in self._dead]:
            del failed[seq]
            self._took(seq, name)
        destination.returned(request, failed, time.monotonic())
        self._failed.update(failed)

    def _all_took(self, accepted: Sequence[int], name: str) -> None:
        """``name`` accepted every one of ``accepted`` (the common case, inlined)."""
        all_waiting, done = self._waiting, self._done
        for seq in accepted:
            waiting = all_waiting[seq]
            waiting.discard(name)
            if waiting:
                self._accepted_by.setdefault(seq, set()).add(name)
            else:
                done.append(seq)

    def _took(self, seq: int, name: str) -> bool:
        """``name`` is done with ``seq``; the event is done when no destination is left. True if some are."""
        waiting = self._waiting[seq]
        if name in waiting:
            waiting.discard(name)
            if not waiting:
                self._done.append(seq)
        return bool(waiting)

    def _reject(self, seq: int, name: str, why: str) -> None:
        """Dead-letter ``seq``: destinations that have not started sending it will not."""
        self._dead.setdefault(seq, (name, why))
        self._took(seq, name)
        for other in [n for n in self._waiting[seq] if seq not in self._destinations[n].sending]:
            self._destinations[other].discard(seq, self._events[seq].key_hash)
            self._took(seq, other)

    def _finish(self, finished: Finished) -> None:
        done, self._done = self._done, []
        events, waiting, dead, accepted_by = self._events, self._waiting, self._dead, self._accepted_by
        finished.events.extend([events.pop(seq) for seq in done])
        for seq in done:
            waiting.pop(seq, None)
        if not (dead or accepted_by or self._unrouted):
            finished.result.accepted.extend(done)
            return
        for seq in done:
            if seq in dead:
                finished.rejected_by[seq], finished.result.rejected[seq] = dead.pop(seq)
            else:
                finished.result.accepted.append(seq)
            accepted_by.pop(seq, None)
            self._unrouted.pop(seq, None)

    def _message(self, publisher: Publisher, event: Event) -> Message | None:
        """The event as this publisher sends it: native bytes, re-enveloped, or None (nothing to send).

        Raises :class:`Unpublishable` when the event can't be re-encoded (not
        UTF-8) or re-enveloped (not JSON, or not a change event).
        """
        shape = self._formatters.get(publisher.name)
        try:
            key = event.key_hash
            if self._destinations[publisher.name].by_aggregate:
                key = _aggregate_hash(event)
            if shape is None:
                return Message(event.seq, event.table, key, event.body)
            if not event.body.isascii():
                event.body.encode("utf-8")  # a body that is not UTF-8 says so, before the envelope tries it
            body = shape(event.body)
            return None if body is None else Message(event.seq, event.table, key, body, event.body)
        except UNREADABLE as exc:
            envelope = f" into a {publisher.format} envelope" if shape else ""
            raise Unpublishable(publisher.name, f"cannot re-encode{envelope}: {unreadable(exc)}") from None


class Unpublishable(Exception):
    """An event that can't be re-encoded for a destination: it goes to the dead letters with ``reason``."""

    def __init__(self, destination: str, reason: str) -> None:
        super().__init__(reason)
        self.destination = destination
        self.reason = reason


def _aggregate_hash(event: Event) -> int:
    """The queue key of an event on a ``group_by: aggregate`` destination: its aggregate's."""
    from outbox_triggers.publishers.aws import ordering_key  # boto3: only where a destination needs it

    return zlib.crc32(ordering_key(event.table, event.body, by_aggregate=True).encode())


def _report_crash(future: Future[None]) -> None:
    """Log a request thread that died of a bug, which would otherwise vanish with its future."""
    if not future.cancelled() and future.exception() is not None:
        log.error("a request thread failed; the relay may stall", exc_info=future.exception())


def _oversize(message: Message, publisher: Publisher) -> str:
    return (
        f"message is {message.size} bytes; destination {publisher.name!r} accepts at most "
        f"{publisher.max_message_bytes}"
    )
