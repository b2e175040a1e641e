"""relay.retention: keep moves delivered events to <events>_delivered, purges them later, and replays them."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from outbox_triggers import commands, database
from outbox_triggers.publishers.stub import StubPublisher
from outbox_triggers.relay import Relay

from .conftest import ORDERS, ORDERS_SPEC, Project

pytestmark = pytest.mark.integration


@pytest.fixture
def keeping(project: Project) -> Project:
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC + "relay:\n  retention: {keep: 1h}\n")
    project.migrate()
    return project


def relay_once(project: Project, sink: StubPublisher, keep_s: int | None = 3600) -> Relay:
    relay = Relay(database.engine(project.url), "outbox_events", {"*": [sink]}, keep_delivered_s=keep_s)
    relay.run(once=True)
    return relay


def test_keep_moves_delivered_events_to_the_delivered_table(keeping: Project) -> None:
    keeping.sql("INSERT INTO orders (total) VALUES (1), (2)")
    relay_once(keeping, StubPublisher())
    assert keeping.scalar("SELECT COUNT(*) FROM outbox_events") == 0
    assert keeping.scalar("SELECT COUNT(*) FROM outbox_events_delivered WHERE delivered_at IS NOT NULL") == 2


def test_purge_removes_only_expired_events_in_bounded_chunks(keeping: Project) -> None:
    keeping.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_25")
    relay_once(keeping, StubPublisher())
    keeping.sql("UPDATE outbox_events_delivered SET delivered_at = NOW(6) - INTERVAL 2 HOUR WHERE seq <= 20")
    from outbox_triggers.events import EventsTable

    with keeping.engine.connect() as conn:
        assert EventsTable("outbox_events").purge_delivered(conn, 3600, chunk=7) == 20
    assert keeping.scalar("SELECT COUNT(*) FROM outbox_events_delivered") == 5


def test_replay_since_publishes_kept_events_again(keeping: Project) -> None:
    keeping.sql("INSERT INTO orders (total) VALUES (1), (2), (3)")
    first = StubPublisher()
    relay_once(keeping, first)
    keeping.sql("UPDATE outbox_events_delivered SET delivered_at = NOW(6) - INTERVAL 3 HOUR WHERE seq = 1")
    assert (
        commands.replay(keeping.spec_path, datetime.now(timezone.utc) - timedelta(hours=1), keeping.url) == 2
    )
    again = StubPublisher()
    relay_once(keeping, again)
    assert sorted(m.body for m in again.sent) == sorted(m.body for m in first.sent[1:])


def test_replay_cli_accepts_a_duration(keeping: Project) -> None:
    keeping.sql("INSERT INTO orders (total) VALUES (1)")
    relay_once(keeping, StubPublisher())
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "outbox_triggers",
            "replay",
            "--since",
            "2h",
            "--spec",
            str(keeping.spec_path),
            "--database-url",
            keeping.url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1 kept event(s) back" in done.stdout


def test_default_retention_deletes(project: Project) -> None:
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC)
    project.migrate()
    project.sql("INSERT INTO orders (total) VALUES (1)")
    relay_once(project, StubPublisher(), keep_s=None)
    assert project.scalar("SELECT COUNT(*) FROM outbox_events_delivered") == 0
