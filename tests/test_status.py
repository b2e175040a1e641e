"""``outbox-triggers status`` against the live MariaDB: backlog, age, dead letters, lock holders."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from outbox_triggers import commands, identifiers, lock, status
from outbox_triggers.publishers.stub import StubPublisher
from outbox_triggers.relay import Relay

from .conftest import ORDERS, Project, wait_for

pytestmark = pytest.mark.integration

SPEC = """\
version: 1
tables:
  orders: {}
  customers:
    destination: [crm, default]
destinations:
  default:
    type: sqs
    queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/orders
  crm:
    type: sqs
    queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/crm
"""
CUSTOMERS = "CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(50) NOT NULL)"


@pytest.fixture
def shop(project: Project) -> Project:
    """``orders`` → default, ``customers`` → crm and default; migrated, with a small backlog."""
    project.sql(ORDERS, CUSTOMERS)
    project.write_spec(SPEC)
    project.migrate()
    project.sql(
        "INSERT INTO orders (total) VALUES (1), (2), (3)",
        "INSERT INTO customers (name) VALUES ('ada'), ('bob')",
    )
    return project


def cli(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outbox_triggers", "status", *args],
        env={**os.environ, "DATABASE_URL": project.url, "OUTBOX_SPEC": str(project.spec_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def running_relay(shop: Project) -> Iterator[Relay]:
    """A relay in a thread, holding the lock, publishing to in-memory stubs."""
    stub = StubPublisher("default")
    relay = Relay(
        shop.engine,
        "outbox_events",
        {"orders": [stub], "customers": [stub]},
        batch_size=10,
        poll_interval=0.01,
    )
    thread = threading.Thread(target=relay.run)
    thread.start()
    yield relay
    relay.request_stop()
    thread.join(10)
    assert not thread.is_alive()


def test_backlog_per_table_and_destination_with_the_oldest_age(shop: Project) -> None:
    shop.sql(
        "UPDATE outbox_events SET created_at = created_at - INTERVAL 90 SECOND WHERE table_name = 'orders'"
    )

    report = commands.status(shop.spec_path, shop.url)

    assert report.backlog == 5
    assert {t.table: t.events for t in report.tables} == {"orders": 3, "customers": 2}
    assert report.destinations == {"default": 5, "crm": 2}
    ages = {t.table: t.oldest_age_s for t in report.tables}
    assert 90 <= ages["orders"] < 150 and ages["customers"] < 60
    assert report.oldest_age_s == ages["orders"]
    assert report.locks == ()

    text = cli(shop)
    assert text.returncode == 0, text.stderr
    assert re.search(r"backlog: 5 event\(s\) in outbox_events, oldest 1\.[5-9] min old", text.stdout), (
        text.stdout
    )
    assert "destination crm: 2" in text.stdout and "table orders: 3" in text.stdout
    assert "relay lock: free (no relay is running)" in text.stdout


def test_dead_letters_counted_and_absent_table_reported_as_none(shop: Project) -> None:
    dead = identifiers.dead_letters_table("outbox_events")
    shop.sql(
        f"CREATE TABLE IF NOT EXISTS {identifiers.quote(dead)} "
        "(seq BIGINT UNSIGNED PRIMARY KEY, table_name VARCHAR(64), key_hash INT UNSIGNED, payload LONGTEXT, "
        "created_at TIMESTAMP(6), failed_at TIMESTAMP(6) DEFAULT CURRENT_TIMESTAMP(6), "
        "destination VARCHAR(64), error TEXT)",
        f"INSERT INTO {identifiers.quote(dead)} (seq, table_name, key_hash, payload, created_at, "
        "destination, error) VALUES (900, 'orders', 1, '{}', NOW(6), 'default', 'too big')",
    )
    assert commands.status(shop.spec_path, shop.url).dead_letters == 1

    shop.sql(f"DROP TABLE {identifiers.quote(dead)}")
    report = commands.status(shop.spec_path, shop.url)
    assert report.dead_letters is None
    assert "dead letters: none (no dead-letter table)" in report.as_text()
    assert json.loads(cli(shop, "--format", "json").stdout)["dead_letters"] is None


def test_shows_the_relay_holding_the_lock(shop: Project, running_relay: Relay) -> None:
    wait_for(lambda: shop.scalar("SELECT COUNT(*) FROM outbox_events") == 0, what="relay drained the backlog")
    name = lock.lock_name(shop.engine.url.database or "", "outbox_events")
    holder = shop.scalar("SELECT IS_USED_LOCK(:name)", {"name": name})

    result = cli(shop, "--format", "json")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["backlog"] == 0 and report["oldest_age_s"] is None
    assert report["locks_checked"] == [name]
    (held,) = report["locks"]
    assert held["name"] == name and held["role"] == "relay" and held["connection_id"] == holder
    assert held["user"] == "root" and held["host"] and held["in_command_s"] < 10
    text = cli(shop).stdout
    assert f"relay lock {name} (relay): held by connection {holder} (root@" in text


def test_lists_partition_and_member_locks(shop: Project) -> None:
    database = shop.engine.url.database or ""
    names = status.lock_names(database, "outbox_events", partitions=2)
    assert list(names.values()) == ["relay", "partition 0", "partition 1", "member 0", "member 1"]
    partition_1 = next(n for n, role in names.items() if role == "partition 1")
    assert partition_1 == lock.lock_name(database, "outbox_events") + ".p1"
    with shop.engine.connect() as conn:
        conn.exec_driver_sql("SELECT GET_LOCK(%s, 0)", (partition_1,))
        with shop.engine.connect() as other:
            (held,) = status.lock_holders(other, names)
    assert (held.name, held.role) == (partition_1, "partition 1")
