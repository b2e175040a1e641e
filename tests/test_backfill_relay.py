"""A backfill through the relay: ``--destination`` reaches that destination alone; native bodies pass."""

from __future__ import annotations

import json

import pytest

from outbox_triggers import restricted
from outbox_triggers.dispatch import Dispatcher
from outbox_triggers.events import Event
from outbox_triggers.publishers.stub import StubPublisher
from outbox_triggers.relay import Relay

from .conftest import Project
from .test_backfill import fill_orders, run, shop  # noqa: F401 - the fixture is used by name
from .test_dispatch import run as dispatch

pytestmark = pytest.mark.integration


def test_an_event_naming_a_destination_goes_there_alone() -> None:
    default, search = StubPublisher("default"), StubPublisher("search")
    dispatcher = Dispatcher({"orders": [default, search]})
    bodies = [
        '{"id": "a", "op": "insert"}',
        '{"id": "b", "op": "read", "backfill": "1", "destination": "search"}',
        '{"id": "c", "op": "insert", "after": {"destination": "default"}}',  # a column, not the field
        '{"id": "d", "op": "read", "backfill": "1", "destination": "gone"}',
    ]
    finished = dispatch(dispatcher, [Event(seq, "orders", seq, b) for seq, b in enumerate(bodies, 1)])
    dispatcher.close()
    assert sorted(m.seq for m in default.sent) == [1, 3]
    assert sorted(m.seq for m in search.sent) == [1, 2, 3]
    assert 4 in dispatcher.unrouted() and 4 not in finished.result.accepted
    assert restricted.only_to(bodies[2]) is None and restricted.only_to("not json") is None


def test_backfill_to_one_destination_through_the_relay(shop: Project) -> None:  # noqa: F811
    fill_orders(shop, 120)
    done = run(shop, "orders", destination="search")
    shop.sql("UPDATE orders SET status = 'paid' WHERE id = 7")  # a live change goes everywhere
    default, search = StubPublisher("default"), StubPublisher("search")
    routes = {"orders": [default, search]}
    relay = Relay(shop.engine, "outbox_events", routes, batch_size=50, poll_interval=0.01)
    relay.run(once=True)
    to_search = [json.loads(m.body) for m in search.sent]
    to_default = [json.loads(m.body) for m in default.sent]
    assert [e["op"] for e in to_default] == ["update"]
    ops = [e["op"] for e in sorted(to_search, key=lambda e: e["ts"])]
    assert ops.count("read") == 120 and ops[0] == "snapshot_start" and "snapshot_end" in ops
    assert {e.get("backfill") for e in to_search if e["op"] != "update"} == {str(done.id)}
    assert shop.events() == []  # all delivered and deleted
