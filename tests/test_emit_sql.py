"""The plain SQL form of emit(), run from raw SQL through PyMySQL as a service in another language would."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from outbox_triggers import commands, emit_sql
from outbox_triggers.cli import main
from outbox_triggers.emitting import key_hash
from tests.conftest import Project, drain_queue


@pytest.fixture
def raw(orders: Project) -> Iterator[Any]:
    url = make_url(orders.url)
    conn = pymysql.connect(
        host=url.host,
        port=url.port or 3306,
        user=url.username,
        password=url.password or "",
        database=url.database,
        charset="utf8mb4",
    )
    yield conn
    conn.close()


def _events(project: Project) -> list[tuple[str, int, dict[str, Any]]]:
    with project.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT table_name, key_hash, payload FROM outbox_events ORDER BY seq"
        ).all()
    return [(t, k, json.loads(p)) for t, k, p in rows]


def test_the_sql_form_writes_what_emit_writes(orders: Project, raw: Any) -> None:
    event_id = str(uuid.uuid4())
    payload = json.dumps({"order_id": 42, "amount": "12.50", "lines": [{"sku": "ü"}]})
    with raw.cursor() as cursor:
        cursor.execute(
            emit_sql.statement(paramstyle="format"),
            (event_id, "order", 42, "OrderPaid", payload, json.dumps({"trace_id": "t-1"})),
        )
    raw.commit()
    [(table, hashed, event)] = _events(orders)
    assert (table, hashed) == ("order", key_hash("order", 42))
    assert {k: v for k, v in event.items() if k != "ts"} == {
        "id": event_id,
        "op": "event",
        "event_type": "OrderPaid",
        "aggregate_type": "order",
        "aggregate_id": "42",
        "payload": {"order_id": 42, "amount": "12.50", "lines": [{"sku": "ü"}]},
        "headers": {"trace_id": "t-1"},
    }


def test_a_rollback_discards_it_and_defaults_fill_in(orders: Project, raw: Any) -> None:
    with raw.cursor() as cursor:
        cursor.execute(emit_sql.statement(paramstyle="format"), (None, "order", "a", "E", "null", None))
        raw.rollback()
        cursor.execute(emit_sql.statement(paramstyle="format"), (None, "order", "a", "E", "[1]", None))
    raw.commit()
    [(_, _, event)] = _events(orders)
    assert uuid.UUID(event["id"]) and event["payload"] == [1] and event["headers"] == {}


def test_sql_form_events_are_relayed(live: Project, raw: Any, sqs: Any, queue_url: str) -> None:
    with raw.cursor() as cursor:
        cursor.execute(emit_sql.statement(paramstyle="format"), ("e-1", "order", "7", "Placed", "{}", None))
    raw.commit()
    commands.relay(live.spec_path, live.url, once=True)
    assert [b["id"] for b in drain_queue(sqs, queue_url, expected=1, timeout=5)] == ["e-1"]


def test_emit_sql_prints_the_statement() -> None:
    result = CliRunner().invoke(main, ["emit-sql", "--events-table", "my events"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("INSERT INTO `my events`") and result.output.count("?") == 6
    numbered = emit_sql.statement(paramstyle="numeric")
    assert [f"${i}" in numbered for i in range(1, 7)] == [True] * 6


def test_sqs_messages_of_application_events_carry_attributes(
    live: Project, raw: Any, sqs: Any, queue_url: str
) -> None:
    with raw.cursor() as cursor:
        cursor.execute(
            emit_sql.statement(paramstyle="format"),
            ("e-1", "order", "7", "Placed", "{}", '{"tenant": "acme"}'),
        )
    raw.commit()
    live.sql("INSERT INTO orders (total) VALUES (1)")
    commands.relay(live.spec_path, live.url, once=True)
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    labels = {
        json.loads(m["Body"])["op"]: {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()}
        for m in got["Messages"]
    }
    assert labels == {
        "event": {"op": "event", "event_type": "Placed", "aggregate_type": "order", "tenant": "acme"},
        "insert": {},
    }
