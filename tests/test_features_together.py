"""Features built apart, tried together: backfills and application events through every envelope."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from outbox_triggers import backfill, commands, emit
from outbox_triggers.spec import load

from .conftest import ORDERS, Project

pytestmark = pytest.mark.integration

SPEC = """\
version: 1
tables:
  orders:
    exclude_columns: [secret]
    destination: [as_maxwell, as_debezium, as_cloudevents]
destinations:
  as_maxwell: {{type: sqs, queue_url: "{maxwell}", format: maxwell}}
  as_debezium: {{type: sqs, queue_url: "{debezium}", format: debezium}}
  as_cloudevents: {{type: sqs, queue_url: "{cloudevents}", format: cloudevents}}
  default: {{type: sqs, queue_url: "{debezium}", format: debezium}}
"""


@pytest.fixture
def queues(sqs: Any) -> Any:
    urls = {f: sqs.create_queue(QueueName=f"together-{f}-{time.monotonic_ns()}")["QueueUrl"] for f in FORMATS}
    yield urls
    for url in urls.values():
        sqs.delete_queue(QueueUrl=url)


FORMATS = ("maxwell", "debezium", "cloudevents")


def receive(sqs: Any, url: str, expected: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every message on ``url``, in arrival order, once ``expected`` arrived (or ``timeout`` passed)."""
    got: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        for m in batch:
            attributes = {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()}
            got.append({"body": json.loads(m["Body"]), "attributes": attributes})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if not batch:
            time.sleep(0.05)
    return got


def test_a_backfill_reaches_maxwell_debezium_and_cloudevents_consumers(
    project: Project, sqs: Any, queues: dict[str, str]
) -> None:
    project.sql(ORDERS)
    project.write_spec(SPEC.format(**queues))
    project.migrate()
    project.sql(
        "INSERT INTO orders (total, note) VALUES (1.50, 'a'), (2.50, 'b')", "DELETE FROM outbox_events"
    )
    with project.engine.connect() as conn:
        done = backfill.start(conn, load(project.spec_path), "orders")
    assert done.state == "done"
    commands.relay(project.spec_path, project.url, once=True)

    maxwell = [m["body"] for m in receive(sqs, queues["maxwell"], 4)]
    assert [m["type"] for m in maxwell] == [
        "bootstrap-start",
        "bootstrap-insert",
        "bootstrap-insert",
        "bootstrap-complete",
    ]
    assert [m["data"].get("id") for m in maxwell[1:3]] == [1, 2]
    assert maxwell[1]["data"]["total"] == 1.5  # Maxwell's DECIMAL is a JSON number

    debezium = [m["body"] for m in receive(sqs, queues["debezium"], 2)]
    assert [(d["op"], d["source"]["snapshot"], d["after"]["id"]) for d in debezium] == [
        ("r", "true", 1),
        ("r", "true", 2),
    ], "one read per row, and no message for the markers"

    cloud = [m["body"] for m in receive(sqs, queues["cloudevents"], 4)]
    reads = [c for c in cloud if c["data"]["op"] == "read"]
    assert [c["specversion"] for c in reads] == ["1.0", "1.0"] and len(cloud) == 4


def test_an_application_event_through_each_envelope(
    project: Project, sqs: Any, queues: dict[str, str]
) -> None:
    project.sql(ORDERS)
    project.write_spec(SPEC.format(**queues).replace("default: {type: sqs", "unused: {type: sqs") + ROUTING)
    project.migrate()
    with project.engine.begin() as conn:
        event_id = emit(
            conn, aggregate_type="order", aggregate_id=7, event_type="OrderPaid", payload={"n": 1}
        )
    commands.relay(project.spec_path, project.url, once=True)

    [debezium] = receive(sqs, queues["debezium"], 1)
    assert debezium["body"] == {"n": 1}, "the Outbox Event Router sends the payload as the message"
    assert debezium["attributes"]["id"] == event_id and debezium["attributes"]["eventType"] == "OrderPaid"
    [maxwell] = receive(sqs, queues["maxwell"], 1)
    assert maxwell["body"]["op"] == "event" and maxwell["body"]["id"] == event_id
    [cloud] = receive(sqs, queues["cloudevents"], 1)
    assert (cloud["body"]["type"], cloud["body"]["subject"], cloud["body"]["id"]) == (
        "OrderPaid",
        "7",
        event_id,
    )


ROUTING = """\
routing:
  by: aggregate_type
  map:
    order: [as_maxwell, as_debezium, as_cloudevents]
"""
