"""Events no destination accepts move to the dead-letter table; the relay keeps going."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from outbox_triggers import commands
from outbox_triggers.errors import DatabaseError

from .conftest import ORDERS, ORDERS_SPEC, Project, drain_queue

pytestmark = pytest.mark.integration


@pytest.fixture
def small_queue(sqs: Any) -> Any:
    url = sqs.create_queue(
        QueueName=f"small-{secrets.token_hex(5)}", Attributes={"MaximumMessageSize": "1024"}
    )["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def tracked(project: Project, small_queue: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("QUEUE_URL", small_queue)
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC)
    project.migrate()
    return project


def test_oversize_event_is_dead_lettered_and_the_relay_continues(
    tracked: Project, sqs: Any, small_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    tracked.sql("INSERT INTO orders (total, note) VALUES (1, 'small'), (2, REPEAT('x', 3000)), (3, 'small')")
    stats = commands.relay(tracked.spec_path, tracked.url, once=True)

    assert (stats.published, stats.dead_lettered) == (2, 1)
    assert tracked.scalar("SELECT COUNT(*) FROM outbox_events") == 0
    assert [m["key"]["id"] for m in drain_queue(sqs, small_queue, expected=2)] in ([1, 3], [3, 1])
    (dead,) = commands.dead_letters(tracked.spec_path, "list", database_url=tracked.url)  # type: ignore[misc]
    assert dead.table == "orders" and dead.destination == "default" and dead.size > 3000
    assert "bytes" in dead.error and "at most 1024" in dead.error
    assert any("dead-lettered" in r.message and "at most 1024" in r.message for r in caplog.records)


def test_retry_puts_dead_letters_back_under_their_seq_and_purge_removes_them(tracked: Project) -> None:
    tracked.sql("INSERT INTO orders (total, note) VALUES (1, REPEAT('x', 3000)), (2, REPEAT('y', 3000))")
    commands.relay(tracked.spec_path, tracked.url, once=True)
    seqs = [d.seq for d in commands.dead_letters(tracked.spec_path, "list", database_url=tracked.url)]  # type: ignore[union-attr]
    assert len(seqs) == 2

    assert commands.dead_letters(tracked.spec_path, "retry", [seqs[0]], tracked.url) == 1
    assert tracked.scalar("SELECT GROUP_CONCAT(seq) FROM outbox_events") == str(seqs[0])
    with pytest.raises(DatabaseError, match=f"no dead letter with seq {seqs[0]}"):
        commands.dead_letters(tracked.spec_path, "purge", [seqs[0]], tracked.url)
    assert commands.dead_letters(tracked.spec_path, "purge", (), tracked.url) == 1
    assert commands.dead_letters(tracked.spec_path, "list", database_url=tracked.url) == []
