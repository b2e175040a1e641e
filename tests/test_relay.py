"""The relay against the live MariaDB and moto's HTTP SQS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from outbox_triggers import commands, database
from outbox_triggers.events import EventsTable
from outbox_triggers.publishers import Message, PublishResult
from outbox_triggers.publishers.stub import StubPublisher
from outbox_triggers.relay import Relay

from .conftest import ORDERS, ORDERS_SPEC, Project, drain_queue, wait_for

pytestmark = pytest.mark.integration


def test_relay_delivers_to_sqs_then_deletes(live: Project, sqs: Any, queue_url: str) -> None:
    live.sql("INSERT INTO orders (total) VALUES (1), (2), (3)", "UPDATE orders SET status = 'paid'")
    live.sql("DELETE FROM orders WHERE id = 2")
    expected = [e["id"] for e in live.events()]

    stats = commands.relay(live.spec_path, live.url, once=True, batch_size=4)

    # deletes go out once a batch (4) waits or the oldest delivered event has waited 50 ms: one or two
    assert stats.published == 7 and stats.batches in (1, 2)
    received = drain_queue(sqs, queue_url, expected=7)
    assert sorted(m["id"] for m in received) == sorted(expected)
    assert live.scalar("SELECT COUNT(*) FROM outbox_events") == 0


def test_failed_entries_stay_for_the_next_attempt(live: Project) -> None:
    live.sql("INSERT INTO orders (total) VALUES (1), (2), (3), (4)")
    flaky = StubPublisher("default", reject=lambda m: "throttled" if m.body.count('"id": 2,') else None)
    relay = Relay(live.engine, "outbox_events", {"orders": [flaky]}, batch_size=10, poll_interval=0.01)
    thread = threading.Thread(target=relay.run)
    thread.start()
    try:
        wait_for(lambda: len(flaky.sent) >= 3, what="three accepted events")
        wait_for(lambda: live.scalar("SELECT COUNT(*) FROM outbox_events") == 1, what="accepted rows deleted")
        (left,) = live.events()
        assert left["key"] == {"id": 2}
    finally:
        relay.request_stop()
        thread.join(10)
    assert not thread.is_alive()


class SlowRecorder(StubPublisher):
    """Records when each publish call ran, and takes a little while."""

    def __init__(self, name: str, intervals: list[tuple[str, float, float]]) -> None:
        super().__init__(name)
        self.intervals = intervals

    def send(self, messages: Sequence[Message]) -> PublishResult:
        start = time.monotonic()
        time.sleep(0.005)
        result = super().send(messages)
        self.intervals.append((self.name, start, time.monotonic()))
        return result


def test_two_relays_started_together_never_publish_at_the_same_time(live: Project) -> None:
    live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_400")
    intervals: list[tuple[str, float, float]] = []
    relays, threads = [], []
    for name in ("a", "b"):
        engine = database.engine(live.url)
        relay = Relay(
            engine,
            "outbox_events",
            {"orders": [SlowRecorder(name, intervals)]},
            batch_size=20,
            poll_interval=0.01,
        )
        relays.append(relay)
        threads.append(threading.Thread(target=relay.run))
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: live.scalar("SELECT COUNT(*) FROM outbox_events") == 0, what="backlog drained")
        first = {name for name, _, _ in intervals}
        assert len(first) == 1, "only the relay holding the lock publishes"
        relays[0 if "a" in first else 1].request_stop()
        live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_50")
        wait_for(lambda: live.scalar("SELECT COUNT(*) FROM outbox_events") == 0, what="takeover drained")
    finally:
        for relay in relays:
            relay.request_stop()
        for thread in threads:
            thread.join(10)
    assert {name for name, _, _ in intervals} == {"a", "b"}, "the waiting relay took over"
    for name_a, start_a, end_a in intervals:
        for name_b, start_b, end_b in intervals:
            if name_a != name_b:
                assert end_a <= start_b or end_b <= start_a, "two relays published at the same time"


def _relay_process(project: Project, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": project.url, "OUTBOX_SPEC": str(project.spec_path)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "outbox_triggers",
            "relay",
            "--batch-size",
            "10",
            "--poll-interval",
            "0.05",
            *args,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sigkill_mid_stream_then_takeover_loses_nothing(live: Project, sqs: Any, queue_url: str) -> None:
    live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_600")
    expected = {e["id"] for e in live.events()}

    first = _relay_process(live)
    wait_for(
        lambda: live.scalar("SELECT COUNT(*) FROM outbox_events") < 580, timeout=60, what="relay started"
    )
    second = _relay_process(live)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    try:
        wait_for(lambda: live.scalar("SELECT COUNT(*) FROM outbox_events") == 0, timeout=120, what="takeover")
    finally:
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=30)
    assert second.returncode == 0, err.decode()
    received = drain_queue(sqs, queue_url, expected=len(expected), timeout=60)
    ids = [m["id"] for m in received]
    assert set(ids) == expected, f"{len(expected - set(ids))} event(s) lost"
    duplicates = len(ids) - len(expected)
    assert duplicates <= 40, f"{duplicates} duplicates: more than two batches held and two to delete"


def test_sigterm_finishes_the_batch_and_exits_zero(live: Project) -> None:
    proc = _relay_process(live)
    live.sql("INSERT INTO orders (total) VALUES (1)")
    wait_for(lambda: live.scalar("SELECT COUNT(*) FROM outbox_events") == 0, what="delivery")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err.decode()
    assert b"1 event(s) delivered" in err


def test_second_signal_stops_at_once(live: Project) -> None:
    live.sql("INSERT INTO orders (total) VALUES (1)")
    proc = _relay_process(live)
    wait_for(lambda: live.scalar("SELECT COUNT(*) FROM outbox_events") == 0, what="delivery")
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, 130), err.decode()


def test_an_events_table_named_with_percents_colons_and_backticks_relays(project: Project) -> None:
    name = "out%s`box :x 100%"
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC.replace("version: 1\n", f"version: 1\nevents_table: '{name}'\n"))
    project.migrate()
    project.sql("INSERT INTO orders (total) VALUES (1), (2)")
    stub = StubPublisher("default")

    stats = Relay(project.engine, name, {"orders": [stub]}).run(once=True)

    assert stats.published == 2 and len(stub.sent) == 2
    assert project.scalar("SELECT COUNT(*) FROM `out%s``box \\:x 100%`") == 0


class Holding:
    """A pipeline that holds these seqs."""

    def __init__(self, seqs: set[int]) -> None:
        self.seqs = seqs

    def holding(self) -> int:
        return len(self.seqs)

    def highest(self) -> int:
        return max(self.seqs)

    def holds(self, seq: int) -> bool:
        return seq in self.seqs


def test_the_claim_reads_past_what_the_relay_holds(orders: Project) -> None:
    orders.sql("INSERT INTO orders (total) VALUES (1), (2), (3)")
    with orders.engine.connect() as relay:
        after = EventsTable("outbox_events").fetch(relay, 10, pipeline=Holding({1, 2}))
    assert [e.seq for e in after] == [3]


def test_a_late_commit_below_what_the_relay_holds_is_read_with_its_body(orders: Project) -> None:
    table = EventsTable("outbox_events")
    with orders.engine.connect() as late:
        late.exec_driver_sql("INSERT INTO orders (total) VALUES (1)")  # seq 1, not committed yet
        orders.sql("INSERT INTO orders (total) VALUES (2)")  # seq 2, committed
        with orders.engine.connect() as relay:
            (first,) = table.fetch(relay, 10)
            assert first.seq == 2
            late.commit()
            orders.sql("INSERT INTO orders (total) VALUES (3)")  # seq 3, past what the relay holds
            again = table.fetch(relay, 10, pipeline=Holding({2}))
    assert [(e.seq, e.table) for e in again] == [(1, "orders"), (3, "orders")]
    assert json.loads(again[0].body)["after"]["total"] == "1.00"


def test_a_late_commit_is_published_before_the_next_change_to_its_row(orders: Project) -> None:
    orders.sql("INSERT INTO orders (id, total) VALUES (1, 1), (2, 2)", "DELETE FROM outbox_events")
    gate, sent = threading.Event(), []

    def hold_order_2(messages: Sequence[Message]) -> None:
        sent.extend(json.loads(m.body) for m in messages)
        if any(json.loads(m.body)["key"] == {"id": 2} for m in messages):
            gate.wait(10)  # order 2's event stays in flight, so the relay reads past it

    relay = Relay(
        orders.engine,
        "outbox_events",
        {"orders": [StubPublisher("default", on_send=hold_order_2)]},
        batch_size=10,
        poll_interval=0.01,
    )
    thread = threading.Thread(target=relay.run)
    with orders.engine.connect() as late:
        late.exec_driver_sql("UPDATE orders SET status = 'late' WHERE id = 1")  # gets its seq now
        orders.sql("UPDATE orders SET status = 'held' WHERE id = 2")
        thread.start()
        try:
            wait_for(lambda: sent, what="order 2's event in flight")
            late.commit()  # commits below the event the relay holds
            orders.sql("UPDATE orders SET status = 'next' WHERE id = 1")
            wait_for(lambda: len(sent) >= 3, what="the late event and the next one")
        finally:
            gate.set()
            relay.request_stop()
            thread.join(10)
    order_1 = [e["after"]["status"] for e in sent if e["key"] == {"id": 1}]
    assert order_1 == ["late", "next"]


class Reports:
    """A relay observer that keeps what each report said failed."""

    def __init__(self) -> None:
        self.failed: list[int] = []

    def lock_changed(self, held: bool, name: str) -> None:
        pass

    def batch_done(self, events: Sequence[Any], result: PublishResult, seconds: float) -> None:
        self.failed.append(len(result.failed))

    def idle(self) -> None:
        pass


def test_a_destination_that_is_down_is_reported_on_every_retry_round(orders: Project) -> None:
    orders.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_10")
    down, reports = StubPublisher("default", reject=lambda m: "503 Service Unavailable"), Reports()
    relay = Relay(
        orders.engine,
        "outbox_events",
        {"orders": [down]},
        batch_size=2,
        poll_interval=0.01,
        observers=[reports],
    )
    thread = threading.Thread(target=relay.run)
    thread.start()
    try:
        wait_for(lambda: len([n for n in reports.failed if n]) >= 2, what="two reported retry rounds")
    finally:
        relay.request_stop()
        thread.join(10)
    assert orders.scalar("SELECT COUNT(*) FROM outbox_events") == 10, "nothing is deleted while it fails"
