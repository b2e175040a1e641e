"""Features built apart, tried together: backfills and application events through every envelope."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from outbox_triggers import backfill, commands, emit
from outbox_triggers.spec import load

from .conftest import ORDERS, Project, receive

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

    maxwell = [json.loads(b) for b in receive(sqs, queues["maxwell"], 4)]
    assert [m["type"] for m in maxwell] == [
        "bootstrap-start",
        "bootstrap-insert",
        "bootstrap-insert",
        "bootstrap-complete",
    ]
    assert [m["data"].get("id") for m in maxwell[1:3]] == [1, 2]
    assert maxwell[1]["data"]["total"] == 1.5  # Maxwell's DECIMAL is a JSON number

    debezium = [json.loads(b) for b in receive(sqs, queues["debezium"], 2)]
    assert [(d["op"], d["source"]["snapshot"], d["after"]["id"]) for d in debezium] == [
        ("r", "true", 1),
        ("r", "true", 2),
    ], "one read per row, and no message for the markers"

    cloud = [json.loads(b) for b in receive(sqs, queues["cloudevents"], 4)]
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

    attributes: list[dict[str, str]] = []
    [debezium] = [json.loads(b) for b in receive(sqs, queues["debezium"], 1, attributes=attributes)]
    assert debezium == {"n": 1}, "the Outbox Event Router sends the payload as the message"
    assert attributes[0]["id"] == event_id and attributes[0]["eventType"] == "OrderPaid"
    [maxwell] = [json.loads(b) for b in receive(sqs, queues["maxwell"], 1)]
    assert maxwell["op"] == "event" and maxwell["id"] == event_id
    [cloud] = [json.loads(b) for b in receive(sqs, queues["cloudevents"], 1)]
    assert (cloud["type"], cloud["subject"], cloud["id"]) == (
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
