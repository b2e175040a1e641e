"""The Lambda handler run locally: MariaDB, moto's SQS and Secrets Manager, a fake context."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import boto3
import pytest

from outbox_triggers import aws_lambda, lock

from .conftest import ORDERS, ORDERS_SPEC, Project, drain_queue, wait_for

pytestmark = pytest.mark.integration


class FakeContext:
    """What Lambda passes the handler, as far as the handler looks: the time left."""

    def __init__(self, seconds: float) -> None:
        self._ends = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


@pytest.fixture
def live(project: Project, queue_url: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    """``orders`` tracked to a moto queue; the handler's environment points at the test database."""
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC)
    project.migrate()
    monkeypatch.setenv("QUEUE_URL", queue_url)
    monkeypatch.setenv("OUTBOX_SPEC", str(project.spec_path))
    monkeypatch.setenv("DATABASE_URL", project.url)
    monkeypatch.setenv("OUTBOX_POLL_INTERVAL", "0.02")
    monkeypatch.setenv("OUTBOX_LAMBDA_MARGIN_S", "10")
    return project


def waiting(project: Project) -> int:
    return int(project.scalar("SELECT COUNT(*) FROM outbox_events"))


def ids(project: Project) -> set[str]:
    return {e["id"] for e in project.events()}


def in_thread(fn: Callable[[], dict[str, Any]]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run an invocation in a thread; its summary lands in the returned dict."""
    out: dict[str, Any] = {}
    thread = threading.Thread(target=lambda: out.update(fn()))
    thread.start()
    return thread, out


def test_relays_until_shortly_before_the_timeout(live: Project, sqs: Any, queue_url: str) -> None:
    live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_20")
    expected = ids(live)
    started = time.monotonic()

    summary = aws_lambda.handler({"source": "aws.events"}, FakeContext(2.5))

    took = time.monotonic() - started
    assert summary["delivered"] == 20 and summary["stopped_because"] == "deadline"
    assert summary["lock"] == {
        "name": lock.lock_name(live.engine.url.database or "", "outbox_events"),
        "held": True,
    }
    assert 1.5 < took < 2.5, f"stopped {took:.2f} s after start: margin is 20% of 2.5 s"
    assert {m["id"] for m in drain_queue(sqs, queue_url, expected=20)} == expected
    assert waiting(live) == 0


@pytest.mark.parametrize("shape", ["plain", "json"])
def test_database_url_from_secrets_manager(
    live: Project, monkeypatch: pytest.MonkeyPatch, shape: str, sqs: Any, queue_url: str
) -> None:
    secret = live.url if shape == "plain" else json.dumps({"url": live.url, "note": "rotated monthly"})
    arn = boto3.client("secretsmanager").create_secret(
        Name=f"outbox-{secrets.token_hex(4)}", SecretString=secret
    )["ARN"]
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("DATABASE_URL_SECRET_ARN", arn)
    monkeypatch.setenv("OUTBOX_LAMBDA_STOP_WHEN_DRAINED", "1")
    live.sql("INSERT INTO orders (total) VALUES (1), (2), (3)")

    summary = aws_lambda.handler({}, FakeContext(30))

    assert summary["delivered"] == 3 and summary["stopped_because"] == "drained"
    assert len(drain_queue(sqs, queue_url, expected=3)) == 3


def test_missing_secret_is_a_database_error(live: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv(
        "DATABASE_URL_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    )
    with pytest.raises(aws_lambda.DatabaseError, match="cannot read the database URL from secret"):
        aws_lambda.handler({}, FakeContext(5))


def test_hand_over_between_invocations_loses_nothing(live: Project, sqs: Any, queue_url: str) -> None:
    name = lock.lock_name(live.engine.url.database or "", "outbox_events")
    settings = aws_lambda.Settings.from_env()
    live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_40")
    expected = ids(live)

    # A: runs until its deadline, 3.2 s from now (4 s less the 20% margin).
    a_thread, a = in_thread(lambda: aws_lambda.handler({}, FakeContext(4)))
    wait_for(lambda: live.scalar("SELECT IS_USED_LOCK(:n)", {"n": name}), what="A holds the lock")
    wait_for(lambda: waiting(live) == 0, what="A delivers the backlog")
    a_connection = live.scalar("SELECT IS_USED_LOCK(:n)", {"n": name})

    # B1: started during A, gives up after waiting half a second, and says who holds the lock.
    b1 = aws_lambda.run(FakeContext(3), replace(settings, lock_wait_s=0.5))
    assert b1["stopped_because"] == "lock held by another relay" and b1["delivered"] == 0
    assert b1["lock"]["name"] == name and b1["lock"]["held"] is False
    assert b1["lock"]["holder"]["connection_id"] == a_connection

    # B2: started during A, waits for the lock longer than A has left, and takes over.
    b2_thread, b2 = in_thread(lambda: aws_lambda.run(FakeContext(6), replace(settings, lock_wait_s=10)))
    live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_30")
    expected |= ids(live)
    wait_for(lambda: waiting(live) == 0, what="A delivers what is written while it runs")
    a_thread.join(10)
    assert a["stopped_because"] == "deadline" and a["delivered"] == 70

    live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_25")
    expected |= ids(live)
    b2_thread.join(10)
    assert b2["stopped_because"] == "deadline" and b2["lock"]["held"] is True
    assert b2["delivered"] == 25, "B2 delivered exactly what A left behind"

    # C: the next scheduled run finds only what was written after B2 stopped.
    live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_10")
    expected |= ids(live)
    c = aws_lambda.run(FakeContext(3), replace(settings, stop_when_drained=True))
    assert c["delivered"] == 10 and c["stopped_because"] == "drained"

    assert waiting(live) == 0
    received = [m["id"] for m in drain_queue(sqs, queue_url, expected=len(expected))]
    assert set(received) == expected and len(expected) == 105
    assert len(received) == 105, "no event was sent twice"
