"""Scale-out: relays share partitions through named locks, rebalance on their own, keep per-key order."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from outbox_triggers import database
from outbox_triggers.lock import PartitionLocks
from outbox_triggers.publishers import Message
from outbox_triggers.publishers.stub import StubPublisher
from outbox_triggers.relay import Relay

from .conftest import ORDERS, ORDERS_SPEC, Project, wait_for

pytestmark = pytest.mark.integration


class Ledger:
    """Every delivery, in the order the destination saw it, across relays."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, int, int]] = []

    def sink(self, relay: str) -> StubPublisher:
        def record(messages: Sequence[Message]) -> None:
            with self.lock:
                self.seen.extend((relay, m.key_hash, m.seq) for m in messages)

        return StubPublisher("default", on_send=record, latency=0.002)


@pytest.fixture
def tracked(project: Project) -> Project:
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC + "relay:\n  partitions: 3\n")
    project.migrate()
    return project


def start(project: Project, ledger: Ledger, name: str) -> tuple[Relay, threading.Thread]:
    relay = Relay(
        database.engine(project.url),
        "outbox_events",
        {"*": [ledger.sink(name)]},
        batch_size=20,
        poll_interval=0.02,
        partitions=3,
    )
    thread = threading.Thread(target=relay.run, name=f"relay-{name}")
    thread.start()
    return relay, thread


def owned(relay: Relay) -> frozenset[int]:
    return relay._lock.owned  # the partitions this relay holds right now


def test_three_relays_share_partitions_rebalance_and_keep_per_key_order(tracked: Project) -> None:
    ledger = Ledger()
    relays = {"a": start(tracked, ledger, "a")}
    try:
        wait_for(lambda: owned(relays["a"][0]) == {0, 1, 2}, what="a alone holds every partition")
        relays["b"] = start(tracked, ledger, "b")
        relays["c"] = start(tracked, ledger, "c")
        wait_for(
            lambda: all(len(owned(r)) == 1 for r, _ in relays.values()), timeout=30, what="one partition each"
        )
        assert set().union(*(owned(r) for r, _ in relays.values())) == {0, 1, 2}

        for _ in range(4):
            tracked.sql(
                "INSERT INTO orders (total) SELECT seq FROM seq_1_to_100",
                "UPDATE orders SET total = total + 1",
            )
        wait_for(
            lambda: tracked.scalar("SELECT COUNT(*) FROM outbox_events") == 0, timeout=60, what="drained"
        )
        assert {relay for relay, _, _ in ledger.seen} == {"a", "b", "c"}, "every relay published its share"

        relays["b"][0].request_stop()
        relays["b"][1].join(10)
        wait_for(lambda: len(owned(relays["a"][0]) | owned(relays["c"][0])) == 3, timeout=30, what="takeover")
        tracked.sql("UPDATE orders SET total = total + 1")
        wait_for(
            lambda: tracked.scalar("SELECT COUNT(*) FROM outbox_events") == 0,
            timeout=60,
            what="drained again",
        )
    finally:
        for relay, thread in relays.values():
            relay.request_stop()
            thread.join(10)

    # 4 rounds of 100 inserts plus an update of every row so far, then one more update of all 400 rows
    expected = 400 + 100 * (1 + 2 + 3 + 4) + 400
    delivered = [seq for _, _, seq in ledger.seen]
    assert len(set(delivered)) == expected, "every event delivered"
    assert len(delivered) - expected <= 20, "duplicates stay within one batch"
    by_key: dict[int, list[int]] = {}
    for _, key, seq in ledger.seen:
        by_key.setdefault(key, []).append(seq)
    assert all(seqs == sorted(seqs) for seqs in by_key.values()), "a key's events arrived out of order"


def test_partition_locks_release_everything_on_close(tracked: Project) -> None:
    locks = PartitionLocks(database.engine(tracked.url), "outbox_events", 4)
    assert locks.rebalance() == {0, 1, 2, 3} and locks.member == 0
    other = PartitionLocks(database.engine(tracked.url), "outbox_events", 4)
    assert other.rebalance() == frozenset(), "the first member still holds everything"
    assert locks.rebalance() == {0, 1}, "a second member appeared: give up half"
    assert other.rebalance() == {2, 3}
    locks.release()
    assert other.rebalance() == {0, 1, 2, 3}
    other.release()
