"""Per-aggregate order across both sources: trigger events and emit() events through one FIFO queue."""

from __future__ import annotations

import json
import random
import secrets
import threading
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from outbox_triggers import commands, database, emit
from tests.conftest import ORDERS, Project, wait_for

AGGREGATES = 4
WRITERS = 4
TRANSACTIONS = 12
SPEC = """\
version: 1
tables:
  orders:
    columns: [id, total]
destinations:
  default:
    type: sqs
    queue_url: ${FIFO_URL}
    group_by: aggregate
"""


@pytest.fixture
def fifo_url(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = sqs.create_queue(
        QueueName=f"agg-{secrets.token_hex(5)}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"},
    )["QueueUrl"]
    monkeypatch.setenv("FIFO_URL", url)
    yield str(url)
    sqs.delete_queue(QueueUrl=url)


def _writer(url: str, seed: int) -> None:
    """Transactions that lock an order, then emit OrderBumped and update it, in either order."""
    engine = database.engine(url)
    chooser = random.Random(seed)
    try:
        for _ in range(TRANSACTIONS):
            order = chooser.randrange(1, AGGREGATES + 1)
            with engine.begin() as conn:
                total = conn.execute(
                    sa.text("SELECT total FROM orders WHERE id = :id FOR UPDATE"), {"id": order}
                ).scalar_one()
                steps = ["emit", "update"]
                chooser.shuffle(steps)
                for step in steps:
                    _step(conn, step, order, int(total) + 1)
    finally:
        engine.dispose()


def _step(conn: sa.Connection, step: str, order: int, total: int) -> None:
    if step == "emit":
        emit(
            conn,
            aggregate_type="orders",
            aggregate_id=order,
            event_type="OrderBumped",
            payload={"total": total},
        )
    else:
        conn.execute(sa.text("UPDATE orders SET total = :t WHERE id = :id"), {"t": total, "id": order})


def _receive(sqs: Any, url: str, expected: int) -> list[tuple[dict[str, Any], str]]:
    """Messages with their FIFO group ids, deleted as they arrive (so each group's next one comes)."""
    got: list[tuple[dict[str, Any], str]] = []

    def more() -> bool:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"])
        for m in answer.get("Messages", []):
            got.append((json.loads(m["Body"]), m["Attributes"]["MessageGroupId"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return len(got) >= expected

    wait_for(more, timeout=60, interval=0.02, what=f"{expected} messages")
    return got


def _total(body: dict[str, Any]) -> int:
    return int(float(body["payload"]["total"] if body["op"] == "event" else body["after"]["total"]))


def test_trigger_and_emit_events_of_one_aggregate_arrive_in_commit_order(
    project: Project, sqs: Any, fifo_url: str
) -> None:
    project.sql(
        ORDERS, *(f"INSERT INTO orders (id, total) VALUES ({i}, 0)" for i in range(1, AGGREGATES + 1))
    )
    project.write_spec(SPEC)
    project.migrate()
    with commands.relay_session(project.spec_path, project.url, batch_size=20) as relay:
        relaying = threading.Thread(target=relay.run)
        relaying.start()
        writers = [threading.Thread(target=_writer, args=(project.url, n)) for n in range(WRITERS)]
        try:
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join()
            received = _receive(sqs, fifo_url, 2 * WRITERS * TRANSACTIONS)
        finally:
            relay.request_stop()
            relaying.join()
    assert len(received) == 2 * WRITERS * TRANSACTIONS
    by_aggregate: dict[int, list[int]] = defaultdict(list)
    for body, group in received:
        assert group == f"orders:{body['aggregate_id']}"
        by_aggregate[int(body["aggregate_id"])].append(_total(body))
    for order, totals in by_aggregate.items():
        assert totals == sorted(totals), f"order {order} arrived out of commit order: {totals}"
        assert totals == [n for n in range(1, len(totals) // 2 + 1) for _ in range(2)]
    assert project.scalar("SELECT COUNT(*) FROM outbox_events") == 0
