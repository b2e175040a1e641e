"""Dispatching a batch: lanes, concurrency, per-key order under partial failure, fan-out."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from outbox_triggers.dispatch import HELD_BACK, Dispatcher
from outbox_triggers.events import Event
from outbox_triggers.publishers import Message
from outbox_triggers.publishers.stub import StubPublisher


def events(*keys: int, table: str = "orders") -> list[Event]:
    return [Event(seq, table, key, f'{{"seq": {seq}}}') for seq, key in enumerate(keys, start=1)]


def test_every_event_is_sent_once_in_requests_of_at_most_max_entries() -> None:
    stub = StubPublisher(max_entries=10)
    result = Dispatcher({"orders": [stub]}, max_in_flight=4).publish(events(*range(95)))
    assert sorted(result.accepted) == list(range(1, 96))
    assert sorted(m.seq for m in stub.sent) == list(range(1, 96))
    assert stub.requests >= 10


def test_one_keys_events_keep_their_order_across_concurrent_lanes() -> None:
    stub = StubPublisher(max_entries=3, latency=0.002)
    batch = events(*[k % 7 for k in range(200)])
    Dispatcher({"orders": [stub]}, max_in_flight=8).publish(batch)
    for key in range(7):
        seqs = [m.seq for m in stub.sent if m.key_hash == key]
        assert seqs == sorted(seqs)


def test_a_failed_entry_holds_back_later_events_of_its_key_only() -> None:
    stub = StubPublisher(max_entries=2, reject=lambda m: "throttled" if m.seq == 2 else None)
    batch = events(1, 7, 1, 7, 7, 1)  # seq 2 is key 7
    result = Dispatcher({"orders": [stub]}, max_in_flight=1).publish(batch)
    assert sorted(result.accepted) == [1, 3, 6]
    assert result.failed[2] == "throttled"
    assert result.failed[4] == result.failed[5] == HELD_BACK
    assert [m.seq for m in stub.sent] == [1, 3, 6]


def test_requests_run_concurrently_up_to_max_in_flight() -> None:
    active = peak = 0
    guard = threading.Lock()

    def track(_: Sequence[Message]) -> None:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with guard:
            active -= 1

    stub = StubPublisher(max_entries=10, on_send=track)
    Dispatcher({"orders": [stub]}, max_in_flight=4).publish(events(*range(400)))
    assert peak == 4


def test_fan_out_needs_every_destination_and_never_resends_to_one_that_accepted() -> None:
    flaky_calls = {"n": 0}

    def once_failing(message: Message) -> str | None:
        flaky_calls["n"] += 1
        return "5xx" if flaky_calls["n"] == 1 else None

    steady, flaky = StubPublisher("steady"), StubPublisher("flaky", reject=once_failing)
    dispatcher = Dispatcher({"orders": [steady, flaky]}, max_in_flight=2)
    batch = events(1)
    assert dispatcher.publish(batch).accepted == []
    assert dispatcher.publish(batch).accepted == [1]
    assert len(steady.sent) == 1 and len(flaky.sent) == 1


def test_oversize_message_is_rejected_for_good_with_its_size() -> None:
    stub = StubPublisher(max_bytes=100)
    big = Event(1, "orders", 1, "x" * 101)
    result = Dispatcher({"orders": [stub]}).publish([big, *events(2)[1:]])
    assert "101 bytes" in result.rejected[1] and "at most 100" in result.rejected[1]
    assert stub.sent == []


def test_unrouted_table_fails_without_being_lost() -> None:
    result = Dispatcher({"orders": [StubPublisher()]}).publish(events(1, table="other"))
    assert result.accepted == [] and "no destination routes table 'other'" in result.failed[1]


def test_wildcard_route_catches_tables_no_longer_in_the_spec() -> None:
    stub = StubPublisher()
    result = Dispatcher({"*": [stub]}).publish(events(1, table="retired"))
    assert result.accepted == [1]


def test_ordered_destinations_get_one_event_per_key_per_request() -> None:
    calls: list[list[int]] = []
    stub = StubPublisher(max_entries=10, on_send=lambda ms: calls.append([m.key_hash for m in ms]))
    stub.ordered = True  # type: ignore[attr-defined]
    Dispatcher({"orders": [stub]}, max_in_flight=1).publish(events(1, 2, 1, 3, 1))
    assert calls == [[1, 2], [1, 3], [1]]
    assert all(len(set(keys)) == len(keys) for keys in calls)
