"""Publish one batch of events: route, split into requests, send concurrently, keep each key's order.

For every destination, a batch's messages are dealt into *lanes* by key hash,
so all events of one key share a lane, in ``seq`` order. Lanes run
concurrently (at most ``max_in_flight`` requests at once over reused
connections); within a lane, requests go one after another. When an entry for
key K fails, K's later messages in the batch are held back, so a key is never
published out of order; other keys proceed.

An event is done when every destination it routes to has accepted it. A
destination that accepted an event is not sent it again while another
destination retries.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from outbox_triggers import envelopes
from outbox_triggers.events import Event
from outbox_triggers.publishers import Message, Publisher, PublishResult

DEFAULT_MAX_IN_FLIGHT = 16
HELD_BACK = "held back: an earlier event with the same key is not delivered yet"


class Dispatcher:
    """Sends batches of events to the publishers their tables route to."""

    def __init__(
        self,
        routes: Mapping[str, Sequence[Publisher]],
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        database: str = "",
    ) -> None:
        self._routes = routes
        self._formatters = {
            p.name: envelopes.formatter(p.format, database) for ps in routes.values() for p in ps
        }
        self._max_in_flight = max_in_flight
        self._pool = ThreadPoolExecutor(max_in_flight, thread_name_prefix="outbox-publish")
        self._accepted: set[tuple[int, str]] = set()
        self.rejected_by: dict[int, str] = {}

    def publish(self, events: Sequence[Event]) -> PublishResult:
        """Publish ``events``; ``accepted`` lists the seqs every destination has taken."""
        unrouted, by_publisher = self._route(events)
        futures = [
            (publisher.name, self._pool.submit(_send_lane, publisher, lane))
            for publisher, messages in by_publisher
            for lane in self._lanes(publisher, messages)
        ]
        outcome = PublishResult(failed=dict(unrouted))
        for name, future in futures:
            lane = future.result()
            self._accepted.update((seq, name) for seq in lane.accepted)
            outcome.failed.update(lane.failed)
            outcome.rejected.update(lane.rejected)
            self.rejected_by.update(dict.fromkeys(lane.rejected, name))
        outcome.accepted = [e.seq for e in events if self._done(e)]
        return outcome

    def forget(self, seqs: Sequence[int]) -> None:
        """Drop the memory of events that are gone from the events table."""
        gone = set(seqs)
        self._accepted = {pair for pair in self._accepted if pair[0] not in gone}
        for seq in gone:
            self.rejected_by.pop(seq, None)

    def close(self) -> None:
        """Stop the request threads."""
        self._pool.shutdown(wait=True)

    def _route(self, events: Sequence[Event]) -> tuple[dict[int, str], list[tuple[Publisher, list[Message]]]]:
        unrouted: dict[int, str] = {}
        queues: dict[int, tuple[Publisher, list[Message]]] = {}
        for event in events:
            publishers = self._routes.get(event.table) or self._routes.get("*") or ()
            if not publishers:
                unrouted[event.seq] = f"no destination routes table {event.table!r}"
            for publisher in publishers:
                if (event.seq, publisher.name) not in self._accepted:
                    message = self._message(publisher, event)
                    queues.setdefault(id(publisher), (publisher, []))[1].append(message)
        return unrouted, list(queues.values())

    def _message(self, publisher: Publisher, event: Event) -> Message:
        """The event as this publisher sends it: native bytes untouched, or re-enveloped."""
        shape = self._formatters.get(publisher.name)
        if shape is None:
            return Message(event.seq, event.table, event.key_hash, event.body)
        return Message(event.seq, event.table, event.key_hash, shape(event.body), event.body)

    def _lanes(self, publisher: Publisher, messages: list[Message]) -> list[list[Message]]:
        count = min(self._max_in_flight, max(1, math.ceil(len(messages) / publisher.max_entries)))
        lanes: list[list[Message]] = [[] for _ in range(count)]
        for message in messages:
            lanes[message.key_hash % count].append(message)
        return [lane for lane in lanes if lane]

    def _done(self, event: Event) -> bool:
        """True once every destination the event routes to has accepted it."""
        publishers = self._routes.get(event.table) or self._routes.get("*") or ()
        return bool(publishers) and all((event.seq, p.name) in self._accepted for p in publishers)


def _send_lane(publisher: Publisher, messages: list[Message]) -> PublishResult:
    """Send one lane's messages in order, request by request, holding back keys that failed."""
    result = PublishResult()
    blocked: set[int] = set()
    pending = list(messages)
    while pending:
        request, pending = _take_request(publisher, pending, blocked, result)
        if not request:
            continue
        outcome = publisher.send(request)
        result.merge(outcome)
        blocked.update(m.key_hash for m in request if m.seq in outcome.failed)
    return result


def _take_request(
    publisher: Publisher, pending: list[Message], blocked: set[int], result: PublishResult
) -> tuple[list[Message], list[Message]]:
    """The next request's messages (by count and bytes) and what remains.

    A destination that orders by key (Kinesis, FIFO queues and topics) gets at
    most one event per key in a request: a partly failed request can then never
    deliver a key's later event before its earlier one.
    """
    request: list[Message] = []
    keys: set[int] = set()
    one_per_key = getattr(publisher, "ordered", False)
    size = 0
    for index, message in enumerate(pending):
        if message.key_hash in blocked:
            result.failed[message.seq] = HELD_BACK
            continue
        if message.size > publisher.max_message_bytes:
            result.rejected[message.seq] = (
                f"message is {message.size} bytes; destination {publisher.name!r} accepts at most "
                f"{publisher.max_message_bytes}"
            )
            continue
        full = len(request) == publisher.max_entries or size + message.size > publisher.max_request_bytes
        if request and (full or (one_per_key and message.key_hash in keys)):
            return request, pending[index:]
        request.append(message)
        keys.add(message.key_hash)
        size += message.size
    return request, []
