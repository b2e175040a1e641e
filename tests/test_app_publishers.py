"""How destinations carry application events (op "event"): group ids, partition keys, attributes, source."""

from __future__ import annotations

import json
from typing import Any

from outbox_triggers.dispatch import Dispatcher
from outbox_triggers.emitting import event_row
from outbox_triggers.events import Event
from outbox_triggers.publishers.aws import ordering_key
from outbox_triggers.publishers.base import Message
from outbox_triggers.publishers.eventbridge import EventBridgePublisher
from outbox_triggers.publishers.kinesis import KinesisPublisher, partition_key
from outbox_triggers.publishers.sns import SnsPublisher, attributes
from outbox_triggers.publishers.sqs import SqsPublisher
from outbox_triggers.publishers.stub import StubPublisher
from tests.conftest import wait_for


def _message(aggregate_id: Any = 42, headers: dict[str, Any] | None = None) -> Message:
    table, key_hash, body, _ = event_row(
        aggregate_type="order",
        aggregate_id=aggregate_id,
        event_type="OrderPaid",
        payload={"n": 1},
        headers=headers,
    )
    return Message(1, table, key_hash, body)


CHANGE = json.dumps(
    {
        "id": "c-1",
        "table": "orders",
        "op": "update",
        "key": {"id": 42},
        "event_type": "update",
        "aggregate_type": "order",
        "aggregate_id": 42,
        "before": {},
        "after": {},
        "ts": "2026-01-01T00:00:00.000000Z",
    }
)


def test_application_events_are_ordered_by_their_aggregate() -> None:
    assert (
        ordering_key("order", _message(42).body) == ordering_key("order", _message("42").body) == "order:42"
    )
    assert ordering_key("orders", CHANGE) == 'orders:{"id":42}'
    assert ordering_key("orders", CHANGE, by_aggregate=True) == "order:42"
    assert partition_key(_message()) == "order:42"
    fifo = SqsPublisher("q", "https://sqs.us-east-1.amazonaws.com/1/q.fifo", None)
    assert fifo._entry(_message())["MessageGroupId"] == "order:42"


def test_sns_attributes_carry_the_aggregate_type_and_headers() -> None:
    message = _message(headers={"trace_id": "t-1", "retry": True, "empty": "", "bad name!": "x", "n": 3})
    assert attributes(json.loads(message.body), message.table) == {
        name: {"DataType": "String", "StringValue": value}
        for name, value in {
            "table": "order",
            "op": "event",
            "event_type": "OrderPaid",
            "aggregate_type": "order",
            "trace_id": "t-1",
            "retry": "true",
            "n": "3",
        }.items()
    }
    many = _message(headers={f"h{i}": "v" for i in range(20)})
    assert len(SnsPublisher("t", "arn:aws:sns:us-east-1:1:t", None)._entry(many)["MessageAttributes"]) == 10


def test_eventbridge_source_and_detail_type_of_an_application_event() -> None:
    entry = EventBridgePublisher("b", None)._entry(_message())
    assert (entry["Source"], entry["DetailType"]) == ("order", "OrderPaid")
    assert json.loads(entry["Detail"])["payload"] == {"n": 1}


def test_kinesis_record_of_an_application_event() -> None:
    record = KinesisPublisher("k", {"StreamName": "s"}, None)._record(_message())
    assert record["PartitionKey"] == "order:42"


def _change(seq: int, order: int) -> Event:
    body = json.loads(CHANGE) | {"id": f"c-{seq}", "aggregate_type": "orders", "aggregate_id": order}
    return Event(seq, "orders", 1000 + seq, json.dumps(body))  # a key hash of its own: not the aggregate's


def test_group_by_aggregate_keeps_one_queue_per_aggregate_in_the_relay() -> None:
    stub = StubPublisher("fifo", max_entries=10)
    stub.ordered = True  # type: ignore[attr-defined]
    stub.by_aggregate = True  # type: ignore[attr-defined]
    app = [
        Event(seq, table, key_hash, body)
        for seq in (2, 4, 6)
        for table, key_hash, body, _ in [
            event_row(aggregate_type="orders", aggregate_id=1, event_type="E", payload={"seq": seq})
        ]
    ]
    events = sorted([_change(1, 1), _change(3, 1), _change(5, 1), *app], key=lambda e: e.seq)
    dispatcher = Dispatcher({"orders": [stub]}, max_in_flight=4)
    try:
        dispatcher.add(events)
        done: list[int] = []
        wait_for(lambda: done.extend(dispatcher.collect(0.1).result.accepted) or len(done) == 6)
    finally:
        dispatcher.close()
    assert [m.seq for m in stub.sent] == [1, 2, 3, 4, 5, 6]
    assert stub.requests == 6  # one event of the aggregate per request, one request at a time


class _Recorder:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries = Entries
        return {"Successful": [{"Id": e["Id"]} for e in Entries]}


def test_sqs_attributes_are_left_off_where_they_would_overflow_the_size_limit() -> None:
    client = _Recorder()
    small = _message(headers={"tenant": "acme"})
    large = _message(headers={"pad": "y" * 1000})
    large.seq = 2
    limit = small.size + large.size + 100  # room for the small one's attributes, not for the large one's too
    publisher = SqsPublisher("q", "https://sqs.us-east-1.amazonaws.com/1/q", client, max_batch_bytes=limit)
    assert publisher.send([small, large]).accepted == [1, 2]
    first, second = client.entries
    assert first["MessageAttributes"]["tenant"] == {"DataType": "String", "StringValue": "acme"}
    assert "MessageAttributes" not in second
