"""Application events from Python: emit() in the caller's transaction, its encodings and refusals."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from outbox_triggers import commands, emit
from outbox_triggers.emitting import event_row, key_hash
from outbox_triggers.errors import EmitError
from tests.conftest import Project, drain_queue


def _rows(project: Project) -> list[tuple[str, int, dict[str, Any]]]:
    with project.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT table_name, key_hash, payload FROM outbox_events ORDER BY seq"
        ).all()
    return [(t, k, json.loads(p)) for t, k, p in rows]


@pytest.fixture
def raw(orders: Project) -> Iterator[pymysql.connections.Connection[Any]]:
    url = make_url(orders.url)
    conn = pymysql.connect(
        host=url.host,
        port=url.port or 3306,
        user=url.username,
        password=url.password or "",
        database=url.database,
    )
    yield conn
    conn.close()


def test_emit_from_a_connection_commits_with_the_transaction(orders: Project) -> None:
    with orders.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO orders (id, total) VALUES (42, 12.50)")
        event_id = emit(
            conn,
            aggregate_type="orders",
            aggregate_id=42,
            event_type="OrderPaid",
            payload={"order_id": 42, "amount": Decimal("12.50")},
            headers={"trace_id": "abc"},
        )
    (_, trigger_hash, change), (table, app_hash, event) = _rows(orders)
    assert change["op"] == "insert"
    assert (table, app_hash) == ("orders", trigger_hash) == ("orders", key_hash("orders", 42))
    assert event["id"] == event_id and str(uuid.UUID(event_id)) == event_id
    assert {k: v for k, v in event.items() if k not in ("id", "ts")} == {
        "op": "event",
        "event_type": "OrderPaid",
        "aggregate_type": "orders",
        "aggregate_id": 42,
        "payload": {"order_id": 42, "amount": "12.50"},
        "headers": {"trace_id": "abc"},
    }
    assert datetime.strptime(event["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")


def test_emit_from_a_connection_is_discarded_by_a_rollback(orders: Project) -> None:
    with orders.engine.connect() as conn:
        emit(conn, aggregate_type="order", aggregate_id="a-1", event_type="OrderPaid")
        conn.rollback()
    assert _rows(orders) == []


@pytest.mark.parametrize("commit", [True, False])
def test_emit_from_a_session(orders: Project, commit: bool) -> None:
    with Session(orders.engine) as session:
        session.execute(sa.text("INSERT INTO orders (total) VALUES (1)"))
        emit(session, aggregate_type="order", aggregate_id=uuid.UUID(int=7), event_type="Placed", payload=[1])
        session.commit() if commit else session.rollback()
    rows = _rows(orders)
    assert len(rows) == (2 if commit else 0)
    if commit:
        assert rows[1][2]["aggregate_id"] == str(uuid.UUID(int=7))


@pytest.mark.parametrize("commit", [True, False])
def test_emit_from_a_dbapi_connection(orders: Project, raw: Any, commit: bool) -> None:
    emit(raw, aggregate_type="order", aggregate_id=1, event_type="Placed", payload={"x": "ü"})
    raw.commit() if commit else raw.rollback()
    assert [r[2]["payload"] for r in _rows(orders)] == ([{"x": "ü"}] if commit else [])


def test_values_json_cannot_hold_are_encoded_as_the_triggers_encode_columns() -> None:
    aware = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    payload = {
        "decimal": Decimal("0.10"),
        "aware": aware,
        "naive": datetime(2026, 1, 2, 3, 4, 5),
        "date": date(2026, 1, 2),
        "time": time(3, 4, 5, 600),
        "uuid": uuid.UUID(int=1),
        "bytes": b"\x00\xff",
        "tuple": (1, None, True, 1.5),
    }
    _, _, body, _ = event_row(aggregate_type="t", aggregate_id=1, event_type="E", payload=payload)
    assert json.loads(body)["payload"] == {
        "decimal": "0.10",
        "aware": "2026-01-02T01:04:05.123456Z",
        "naive": "2026-01-02T03:04:05",
        "date": "2026-01-02",
        "time": "03:04:05.000600",
        "uuid": "00000000-0000-0000-0000-000000000001",
        "bytes": "AP8=",
        "tuple": [1, None, True, 1.5],
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"payload": {"items": [1, {1, 2}]}}, "payload.items[1]: a set is not JSON"),
        ({"payload": {"x": float("nan")}}, "payload.x: nan is not a JSON number"),
        ({"payload": {"x": Decimal("Infinity")}}, "payload.x: Decimal Infinity"),
        ({"payload": {1: "a"}}, "payload: key 1 is a int"),
        ({"payload": object()}, "payload: a object is not JSON"),
        ({"headers": {"h": {"nested": 1}}}, "headers.h: a header is a single value"),
        ({"aggregate_id": 1.5}, "aggregate_id: expected a string, an integer or a UUID"),
        ({"aggregate_id": True}, "aggregate_id: expected"),
        ({"event_type": ""}, "event_type: expected a non-empty string"),
        ({"aggregate_type": "x" * 65}, "aggregate_type:"),
        ({"payload": "x" * 2000, "max_event_bytes": 1000}, "more than max_event_bytes (1000)"),
    ],
)
def test_what_cannot_be_written_is_refused_before_anything_is_written(
    orders: Project, kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"aggregate_type": "order", "aggregate_id": 1, "event_type": "E", **kwargs}
    with orders.engine.begin() as conn, pytest.raises(EmitError, match=re.escape(message)):
        emit(conn, **arguments)
    assert _rows(orders) == []


def test_the_default_limit_is_the_triggers_default() -> None:
    with pytest.raises(EmitError, match="1044480"):
        event_row(aggregate_type="t", aggregate_id=1, event_type="E", payload="x" * 1_100_000)


def test_a_committed_event_is_published_once_and_a_rolled_back_one_never(
    live: Project, sqs: Any, queue_url: str
) -> None:
    with live.engine.begin() as conn:
        kept = emit(conn, aggregate_type="order", aggregate_id=5, event_type="OrderPaid", payload={"n": 1})
    with live.engine.connect() as conn:
        emit(conn, aggregate_type="order", aggregate_id=5, event_type="OrderCancelled")
        conn.rollback()
    commands.relay(live.spec_path, live.url, once=True)
    bodies = drain_queue(sqs, queue_url, expected=1, timeout=5)
    assert [b["id"] for b in bodies] == [kept]
    assert bodies[0]["payload"] == {"n": 1}
    assert live.scalar("SELECT COUNT(*) FROM outbox_events") == 0
