"""The consumer's inbox: a duplicate delivery runs the handler once; a failed handler leaves no record."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from outbox_triggers import inbox
from outbox_triggers.cli import main
from outbox_triggers.errors import EmitError
from tests.conftest import Project

LEDGER = "CREATE TABLE ledger (event_id VARCHAR(64) NOT NULL, amount INT NOT NULL)"


@pytest.fixture
def consumer(project: Project) -> Project:
    result = CliRunner().invoke(main, ["inbox", "create", "--database-url", project.url])
    assert result.exit_code == 0, result.output
    project.sql(LEDGER)
    return project


def _apply(conn: Any, event: dict[str, Any]) -> None:
    conn.execute(
        sa.text("INSERT INTO ledger VALUES (:id, :amount)"), {"id": event["id"], "amount": event["n"]}
    )
    if event.get("fail"):
        raise RuntimeError("handler failed")


def _deliver(project: Project, event: dict[str, Any], consumer: str = "billing") -> bool:
    with project.engine.begin() as conn:
        if not inbox.record(conn, event["id"], consumer):
            return False
        _apply(conn, event)
        return True


def test_a_duplicate_delivery_runs_the_handler_once(consumer: Project) -> None:
    event = {"id": "e-1", "n": 5}
    assert _deliver(consumer, event) is True
    assert _deliver(consumer, event) is False
    assert _deliver(consumer, event, consumer="shipping") is True  # each consumer has its own records
    assert consumer.scalar("SELECT COUNT(*) FROM ledger") == 2


def test_a_failed_handler_leaves_no_record_so_the_retry_runs_it(consumer: Project) -> None:
    with pytest.raises(RuntimeError):
        _deliver(consumer, {"id": "e-1", "n": 5, "fail": True})
    assert consumer.scalar("SELECT COUNT(*) FROM outbox_inbox") == 0
    assert consumer.scalar("SELECT COUNT(*) FROM ledger") == 0
    assert _deliver(consumer, {"id": "e-1", "n": 5}) is True
    assert consumer.scalar("SELECT COUNT(*) FROM ledger") == 1


def test_concurrent_duplicates_are_serialized_by_the_inbox_row(consumer: Project) -> None:
    results: list[bool] = []
    start = threading.Barrier(4)

    def deliver() -> None:
        start.wait()
        results.append(_deliver(consumer, {"id": "e-1", "n": 1}))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    assert consumer.scalar("SELECT COUNT(*) FROM ledger") == 1


def _sqs_event(*bodies: Any, fifo: bool = False) -> dict[str, Any]:
    arn = "arn:aws:sqs:us-east-1:123456789012:q" + (".fifo" if fifo else "")
    return {
        "Records": [
            {"messageId": f"m-{i}", "body": json.dumps(b), "eventSourceARN": arn}
            for i, b in enumerate(bodies)
        ]
    }


@pytest.mark.parametrize("fifo", [False, True])
def test_sqs_batch_reports_partial_failures(consumer: Project, fifo: bool) -> None:
    sns = {"Type": "Notification", "Message": json.dumps({"id": "e-3", "n": 3})}
    event = _sqs_event(
        {"id": "e-1", "n": 1}, {"id": "e-2", "n": 2, "fail": True}, sns, {"id": "e-1", "n": 1}, [1], fifo=fifo
    )
    response = inbox.sqs_batch(event, consumer.engine.begin, _apply, consumer="billing")
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    with consumer.engine.connect() as conn:
        applied = [r[0] for r in conn.exec_driver_sql("SELECT event_id FROM ledger ORDER BY event_id")]
    if fifo:  # after a failure, a FIFO batch stops: the rest comes again, in order
        assert (failed, applied) == (["m-1", "m-2", "m-3", "m-4"], ["e-1"])
    else:
        assert (failed, applied) == (["m-1", "m-4"], ["e-1", "e-3"])


def test_purge_keeps_recent_records(consumer: Project) -> None:
    consumer.sql(
        "INSERT INTO outbox_inbox (consumer, event_id, processed_at) "
        "VALUES ('c', 'old', NOW(6) - INTERVAL 15 DAY)",
        "INSERT INTO outbox_inbox (consumer, event_id) VALUES ('c', 'new')",
    )
    result = CliRunner().invoke(
        main, ["inbox", "purge", "--database-url", consumer.url, "--older-than", "14d"]
    )
    assert result.exit_code == 0, result.output
    assert "1 record(s) purged" in result.output
    assert consumer.scalar("SELECT GROUP_CONCAT(event_id) FROM outbox_inbox") == "new"
    bad = CliRunner().invoke(main, ["inbox", "purge", "--database-url", consumer.url, "--older-than", "soon"])
    assert bad.exit_code == 2 and "not a duration" in bad.output


def test_ids_the_inbox_cannot_hold_are_refused(consumer: Project) -> None:
    with consumer.engine.begin() as conn, pytest.raises(EmitError, match="ASCII string of 1 to 64"):
        inbox.record(conn, "x" * 65)
