"""The dispatcher's pipeline: requests, concurrency, per-key order under partial failure, fan-out, backoff."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from outbox_triggers.dispatch import Dispatcher, Finished
from outbox_triggers.events import Event
from outbox_triggers.publishers import Message
from outbox_triggers.publishers.stub import StubPublisher

from .conftest import wait_for


def events(*keys: int, table: str = "orders", first: int = 1) -> list[Event]:
    return [Event(seq, table, key, f'{{"seq": {seq}}}') for seq, key in enumerate(keys, start=first)]


def run(dispatcher: Dispatcher, *batches: list[Event], timeout: float = 10.0) -> Finished:
    """Add the batches, then collect until the pipeline is empty (or only parked events remain)."""
    finished = Finished()
    deadline = time.monotonic() + timeout
    for batch in batches:
        dispatcher.add(batch)
    while dispatcher.holding() > len(dispatcher.unrouted()) and time.monotonic() < deadline:
        if not dispatcher.in_flight():
            threading.Event().wait(min(0.05, dispatcher.backing_off() or 0.0))
        finished.fold(dispatcher.collect(0.05))
    finished.fold(dispatcher.collect())
    return finished


def until_idle(dispatcher: Dispatcher) -> Finished:
    """Collect until no request is in flight (a destination may be backing off)."""
    finished = Finished()
    while dispatcher.in_flight():
        finished.fold(dispatcher.collect(1.0))
    finished.fold(dispatcher.collect())
    return finished


def attempts(log: list[list[int]]) -> list[int]:
    return [seq for request in log for seq in request]


def test_every_event_is_sent_once_in_requests_of_at_most_max_entries() -> None:
    stub = StubPublisher(max_entries=10)
    finished = run(Dispatcher({"orders": [stub]}, max_in_flight=4), events(*range(95)))
    assert sorted(finished.result.accepted) == list(range(1, 96))
    assert sorted(m.seq for m in stub.sent) == list(range(1, 96))
    assert sorted(e.seq for e in finished.events) == sorted(finished.result.accepted)
    assert stub.requests >= 10


def test_one_keys_events_keep_their_order_across_concurrent_requests_and_batches() -> None:
    stub = StubPublisher(max_entries=3, latency=0.002)
    dispatcher = Dispatcher({"orders": [stub]}, max_in_flight=8)
    first, second = events(*[k % 7 for k in range(100)]), events(*[k % 7 for k in range(100)], first=101)
    run(dispatcher, first, second)
    for key in range(7):
        seqs = [m.seq for m in stub.sent if m.key_hash == key]
        assert seqs == sorted(seqs) and len(seqs) == len([e for e in first + second if e.key_hash == key])


def test_a_failed_entry_holds_back_later_events_of_its_key_only() -> None:
    sent: list[list[int]] = []
    failures = {2}

    def throttle_once(message: Message) -> str | None:
        if message.seq in failures:
            failures.discard(message.seq)
            return "throttled"
        return None

    stub = StubPublisher(
        max_entries=2, reject=throttle_once, on_send=lambda ms: sent.append([m.seq for m in ms])
    )
    stub.ordered = True  # type: ignore[attr-defined]
    dispatcher = Dispatcher({"orders": [stub]}, max_in_flight=1)
    dispatcher.add(events(1, 7, 1, 7, 7, 1))  # seqs 2, 4, 5 are key 7
    first = until_idle(dispatcher)
    assert first.result.failed == {2: "throttled"}
    assert 4 not in attempts(sent) and 5 not in attempts(sent)
    rest = run(dispatcher)
    order = attempts(sent)
    assert sorted(first.result.accepted + rest.result.accepted) == [1, 2, 3, 4, 5, 6]
    assert order.index(4) > len(order) - 1 - order[::-1].index(2)  # 4 only after 2's last attempt
    assert [m.seq for m in stub.sent if m.key_hash == 7] == [2, 4, 5]


def test_requests_run_concurrently_up_to_max_in_flight() -> None:
    active = peak = 0
    guard = threading.Lock()

    def track(_: Sequence[Message]) -> None:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)  # the destination's latency
        with guard:
            active -= 1

    stub = StubPublisher(max_entries=10, on_send=track)
    run(Dispatcher({"orders": [stub]}, max_in_flight=4), events(*range(400)))
    assert peak == 4


def test_new_events_join_requests_while_earlier_ones_are_in_flight() -> None:
    gate = threading.Event()
    stub = StubPublisher(max_entries=1, on_send=lambda _: gate.wait(5))
    dispatcher = Dispatcher({"orders": [stub]}, max_in_flight=4)
    dispatcher.add(events(1))
    dispatcher.add(events(2, 3, first=2))
    assert dispatcher.in_flight() == 3
    gate.set()
    finished = run(dispatcher)
    assert sorted(finished.result.accepted) == [1, 2, 3]


def test_a_keys_later_event_waits_for_the_request_in_flight() -> None:
    gate = threading.Event()
    stub = StubPublisher(max_entries=10, on_send=lambda _: gate.wait(5))
    dispatcher = Dispatcher({"orders": [stub]}, max_in_flight=4)
    dispatcher.add(events(5))
    dispatcher.add(events(5, first=2))
    assert dispatcher.in_flight() == 1
    gate.set()
    run(dispatcher)
    assert [m.seq for m in stub.sent] == [1, 2] and stub.requests == 2


def test_fan_out_needs_every_destination_and_never_resends_to_one_that_accepted() -> None:
    fails = {"left": 1}

    def once_failing(message: Message) -> str | None:
        if fails["left"]:
            fails["left"] -= 1
            return "5xx"
        return None

    steady, flaky = StubPublisher("steady"), StubPublisher("flaky", reject=once_failing)
    dispatcher = Dispatcher({"orders": [steady, flaky]}, max_in_flight=2)
    dispatcher.add(events(1))
    first = until_idle(dispatcher)
    assert first.result.accepted == [] and first.result.failed == {1: "5xx"}
    assert run(dispatcher).result.accepted == [1]
    assert len(steady.sent) == 1 and len(flaky.sent) == 1


def test_a_failing_destination_backs_off_while_the_other_goes_on() -> None:
    down, up = StubPublisher("down", reject=lambda m: "503"), StubPublisher("up")
    dispatcher = Dispatcher({"orders": [down], "users": [up]}, max_in_flight=4)
    dispatcher.add(events(1))
    until_idle(dispatcher)
    assert dispatcher.backing_off() is not None and dispatcher.failing()["down"].attempts == 1
    finished = run(dispatcher, events(2, table="users", first=2), timeout=0.5)
    assert finished.result.accepted == [2] and dispatcher.holds(1)
    assert down.requests <= 4  # retried after a backoff (at most a second), not in a busy loop


def test_oversize_message_is_rejected_for_good_with_its_size() -> None:
    stub = StubPublisher(max_bytes=100)
    finished = run(Dispatcher({"orders": [stub]}), [Event(1, "orders", 1, "x" * 101), *events(2, first=2)])
    assert "101 bytes" in finished.result.rejected[1] and "at most 100" in finished.result.rejected[1]
    assert finished.rejected_by == {1: "stub"} and finished.result.accepted == [2]
    assert [m.seq for m in stub.sent] == [2]


def test_an_event_one_destination_rejects_is_not_sent_to_the_others() -> None:
    small, large = StubPublisher("small", max_bytes=50), StubPublisher("large", latency=0.05)
    dispatcher = Dispatcher({"orders": [small, large]}, max_in_flight=1)
    finished = run(dispatcher, [Event(1, "orders", 1, "x" * 60)])
    assert finished.result.rejected == {1: "message is 60 bytes; destination 'small' accepts at most 50"}
    assert small.sent == [] and large.sent == []


def test_unrouted_table_is_parked_and_reported_without_being_lost() -> None:
    dispatcher = Dispatcher({"orders": [StubPublisher()]})
    finished = run(dispatcher, events(1, table="other"))
    assert (
        finished.result.accepted == [] and "no destination routes table 'other'" in finished.result.failed[1]
    )
    assert dispatcher.holds(1) and list(dispatcher.unrouted()) == [1]


def test_wildcard_route_catches_tables_no_longer_in_the_spec() -> None:
    stub = StubPublisher()
    assert run(Dispatcher({"*": [stub]}), events(1, table="retired")).result.accepted == [1]


def test_ordered_destinations_get_one_event_per_key_per_request() -> None:
    calls: list[list[int]] = []
    stub = StubPublisher(max_entries=10, on_send=lambda ms: calls.append([m.key_hash for m in ms]))
    stub.ordered = True  # type: ignore[attr-defined]
    run(Dispatcher({"orders": [stub]}, max_in_flight=1), events(1, 2, 1, 3, 1))
    assert calls == [[1, 2, 3], [1], [1]]


def test_drain_waits_for_requests_in_flight_and_releases_the_rest() -> None:
    stub = StubPublisher(max_entries=1, latency=0.05)
    dispatcher = Dispatcher({"orders": [stub]}, max_in_flight=2)
    dispatcher.add(events(*range(10)))
    finished = dispatcher.drain()
    assert sorted(finished.result.accepted) == [1, 2]
    assert dispatcher.holding() == 0 and dispatcher.in_flight() == 0
    assert sorted(m.seq for m in stub.sent) == [1, 2]


def test_a_clean_stop_finishes_what_another_destination_already_accepted() -> None:
    fast, slow = StubPublisher("fast"), StubPublisher("slow", latency=0.02, max_entries=1)
    dispatcher = Dispatcher({"orders": [fast, slow]}, max_in_flight=2)
    dispatcher.add(events(*range(40)))
    deadline = time.monotonic() + 10
    while len(fast.sent) < 40 and time.monotonic() < deadline:
        dispatcher.collect(0.05)
    finished = dispatcher.drain(finish_s=10)
    done = set(finished.result.accepted)
    assert {m.seq for m in fast.sent} <= done | {m.seq for m in slow.sent}
    assert {m.seq for m in slow.sent} == {m.seq for m in fast.sent} == set(range(1, 41))


def test_without_time_to_finish_a_stop_only_waits_for_what_is_in_flight() -> None:
    fast, slow = StubPublisher("fast"), StubPublisher("slow", latency=0.02, max_entries=1)
    dispatcher = Dispatcher({"orders": [fast, slow]}, max_in_flight=2)
    dispatcher.add(events(*range(40)))
    deadline = time.monotonic() + 10
    while len(fast.sent) < 40 and time.monotonic() < deadline:
        dispatcher.collect(0.05)
    dispatcher.drain()
    assert len(slow.sent) < 40 and dispatcher.holding() == 0


def test_a_failing_destination_sends_one_request_at_a_time_until_one_succeeds() -> None:
    concurrent, peak, lock = [0], [0], threading.Lock()
    failing = [True]

    def track(messages: Sequence[Message]) -> None:
        with lock:
            concurrent[0] += 1
            peak[0] = max(peak[0], concurrent[0])
        time.sleep(0.01)
        with lock:
            concurrent[0] -= 1

    stub = StubPublisher(max_entries=1, on_send=track, reject=lambda m: "503" if failing[0] else None)
    dispatcher = Dispatcher({"orders": [stub]}, max_in_flight=8)
    dispatcher.add(events(*range(20)))
    until_idle(dispatcher)
    peak[0], first_round = 0, stub.requests
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and stub.requests < first_round + 4:
        dispatcher.collect(0.05)
    assert stub.requests >= first_round + 4 and peak[0] == 1, "while failing, only the probe is out"
    failing[0] = False
    finished = run(dispatcher, timeout=5)
    assert len(finished.result.accepted) == 20, "the first success lets everything go"


def test_outstanding_tells_how_long_the_oldest_request_has_waited() -> None:
    gate = threading.Event()
    stub = StubPublisher(on_send=lambda ms: gate.wait(5))
    dispatcher = Dispatcher({"orders": [stub]})
    dispatcher.add(events(1))
    assert wait_for(lambda: dispatcher.outstanding().get("stub", 0.0) >= 0.05, timeout=5)
    gate.set()
    until_idle(dispatcher)
    assert dispatcher.outstanding() == {}


def test_an_event_no_envelope_can_be_built_from_is_rejected_before_anything_is_sent() -> None:
    native, shaped = StubPublisher("native"), StubPublisher("shaped")
    shaped.format = "debezium"
    finished = run(Dispatcher({"orders": [native, shaped]}), [Event(1, "orders", 1, "{not json")])
    assert finished.rejected_by == {1: "shaped"}
    assert "not valid JSON" in finished.result.rejected[1] and "debezium" in finished.result.rejected[1]
    assert native.sent == [] and shaped.sent == []


def test_an_event_that_is_not_utf8_is_rejected_for_every_destination() -> None:
    stub = StubPublisher()
    body = b'{"x": "\xc3("}'.decode("utf-8", "surrogateescape")
    finished = run(Dispatcher({"orders": [stub]}), [Event(1, "orders", 1, body), *events(2, first=2)])
    assert "not valid UTF-8 (byte 0xC3" in finished.result.rejected[1]
    assert finished.result.accepted == [2]


def marker(seq: int, op: str) -> Event:
    return Event(seq, "orders", 0, f'{{"id": "m{seq}", "table": "orders", "op": "{op}", "key": null}}')


def test_a_backfills_markers_are_fences_that_every_key_respects() -> None:
    """The start marker goes before any later event, the end marker after every earlier one, any key."""
    flaky = {"left": 2}

    def reject(message: Message) -> str | None:  # key 3's first event fails twice: the end marker must wait
        if message.seq == 4 and flaky["left"]:
            flaky["left"] -= 1
            return "ServiceUnavailable"
        return None

    stub = StubPublisher(max_entries=10, reject=reject)
    batch = [marker(1, "snapshot_start"), *events(1, 2, 3, 4, 5, first=2), marker(7, "snapshot_end")]
    batch += events(6, 7, first=8)  # live changes after the backfill
    finished = run(Dispatcher({"orders": [stub]}, max_in_flight=8), batch)
    assert sorted(finished.result.accepted) == list(range(1, 10))
    order = [m.seq for m in stub.sent]
    assert order[0] == 1, "nothing overtakes the start marker"
    assert order.index(7) > max(order.index(s) for s in range(2, 7)), (
        "the end marker waits for every earlier event"
    )
    assert order.index(7) < min(order.index(s) for s in (8, 9)), "and later events wait for it"


def test_a_column_named_op_does_not_make_a_fence() -> None:
    stub = StubPublisher(max_entries=10)
    body = '{"id": "x", "op": "insert", "after": {"op": "snapshot_end"}}'
    finished = run(Dispatcher({"orders": [stub]}), [Event(1, "orders", 1, body), *events(2, first=2)])
    assert sorted(finished.result.accepted) == [1, 2]
