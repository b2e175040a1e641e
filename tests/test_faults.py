"""Fault injection: destination outages and database restarts lose nothing."""

from __future__ import annotations

import logging
import threading
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy.engine import make_url

from outbox_triggers import database
from outbox_triggers.publishers.aws import client
from outbox_triggers.publishers.sqs import SqsPublisher
from outbox_triggers.publishers.stub import StubPublisher
from outbox_triggers.relay import Relay

from .conftest import ORDERS, ORDERS_SPEC, Project, drain_queue, wait_for
from .proxy import TcpProxy

pytestmark = pytest.mark.integration


@pytest.fixture
def tracked(project: Project, queue_url: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv("QUEUE_URL", queue_url)
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC)
    project.migrate()
    return project


def test_destination_down_for_a_while_then_back_loses_nothing(
    tracked: Project,
    moto_endpoint: str,
    sqs: Any,
    queue_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="outbox_triggers")
    endpoint = urlparse(moto_endpoint)
    with TcpProxy(endpoint.hostname or "127.0.0.1", endpoint.port or 80) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        publisher = SqsPublisher("default", queue_url, client("sqs", 4))
        publisher.check()
        relay = Relay(tracked.engine, "outbox_events", {"*": [publisher]}, batch_size=10, poll_interval=0.02)
        worker = threading.Thread(target=relay.run)
        worker.start()
        try:
            proxy.down()
            tracked.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_30")
            wait_for(  # an outage the relay has logged, not one that ends before its next report
                lambda: "destination 'default' failing:" in caplog.text, timeout=20, what="the outage logged"
            )
            assert tracked.scalar("SELECT COUNT(*) FROM outbox_events") == 30, "nothing deleted while down"
            proxy.up()
            wait_for(  # the probe finds it back within about a second, not at the end of a long backoff
                lambda: tracked.scalar("SELECT COUNT(*) FROM outbox_events") == 0, timeout=10, what="recovery"
            )
            wait_for(
                lambda: "accepting events again" in caplog.text, timeout=5, what="the outage's end logged"
            )
        finally:
            relay.request_stop()
            worker.join(30)
    received = {m["key"]["id"] for m in drain_queue(sqs, queue_url, expected=30)}
    assert received == set(range(1, 31))
    lines = [r.getMessage() for r in caplog.records if r.name == "outbox_triggers.relay"]
    assert sum("destination 'default' failing:" in line for line in lines) == 1, lines
    assert sum("accepting events again" in line for line in lines) == 1, lines


def test_database_restart_mid_run_loses_nothing(project: Project, server_url: str) -> None:
    server = make_url(server_url)
    with TcpProxy(server.host or "127.0.0.1", server.port or 3306) as proxy:
        url = (
            make_url(project.url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        )
        project.sql(ORDERS)
        project.write_spec(ORDERS_SPEC)
        project.migrate()
        project.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_2000")
        expected = {e["seq_id"] for e in _ids(project)}
        sink = StubPublisher("default", latency=0.003)
        relay = Relay(database.engine(url), "outbox_events", {"*": [sink]}, batch_size=50, poll_interval=0.02)
        worker = threading.Thread(target=relay.run)
        worker.start()
        try:
            wait_for(lambda: len(sink.sent) > 200, what="relay under way")
            proxy.down()  # the "restart": every connection drops, new ones are refused for a while
            wait_for(
                lambda: relay.stats.failed_attempts >= 0 and not relay._lock.held(),
                timeout=10,
                what="loss seen",
            )
            proxy.up()
            wait_for(
                lambda: project.scalar("SELECT COUNT(*) FROM outbox_events") == 0, timeout=60, what="drained"
            )
        finally:
            relay.request_stop()
            worker.join(30)
    delivered = [m.seq for m in sink.sent]
    assert set(delivered) == expected, f"{len(expected - set(delivered))} event(s) lost"
    assert len(delivered) - len(expected) <= 50, "duplicates stay within one batch"


def _ids(project: Project) -> list[dict[str, int]]:
    with project.engine.connect() as conn:
        return [{"seq_id": int(r[0])} for r in conn.exec_driver_sql("SELECT seq FROM outbox_events")]
