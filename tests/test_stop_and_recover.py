"""Stop at any moment, a second stop during a stall, stalls seen early, clean stops, fast recovery."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlalchemy.engine import make_url

from outbox_triggers import database
from outbox_triggers.defaults import Timeouts
from outbox_triggers.metrics import RelayMetrics
from outbox_triggers.publishers.aws import client
from outbox_triggers.publishers.sqs import SqsPublisher
from outbox_triggers.publishers.stub import StubPublisher
from outbox_triggers.relay import Relay

from .conftest import ORDERS, ORDERS_SPEC, Project, drain_queue, wait_for
from .proxy import TcpProxy

pytestmark = pytest.mark.integration


class Lines:
    """Collects a process's stderr lines on a thread, so the test can wait for one."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        assert proc.stderr is not None
        self._thread = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for raw in iter(stream.readline, b""):
            self.lines.append(raw.decode(errors="replace"))

    def has(self, fragment: str) -> bool:
        return any(fragment in line for line in self.lines)

    @property
    def text(self) -> str:
        self._thread.join(5)
        return "".join(self.lines)


def relay_process(project: Project, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    full = {**os.environ, "DATABASE_URL": project.url, "OUTBOX_SPEC": str(project.spec_path), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "outbox_triggers", "relay", "--poll-interval", "0.05", *args],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def seqs_left(project: Project) -> set[int]:
    with project.engine.connect() as conn:
        return {int(r[0]) for r in conn.exec_driver_sql("SELECT seq FROM outbox_events")}


@pytest.mark.parametrize("after_s", [0.1, 0.5, 1.5])
def test_sigterm_at_any_moment_of_startup_exits_zero_and_loses_nothing(
    live: Project, sqs: Any, queue_url: str, after_s: float
) -> None:
    live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_20")
    ids = {e["id"] for e in live.events()}
    proc = relay_process(live, "--batch-size", "5")
    started = time.monotonic()
    wait_for(lambda: time.monotonic() - started >= after_s, interval=0.005, what=f"{after_s} s after start")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()
    assert b"Traceback" not in err
    left = {e["id"] for e in live.events()}
    delivered = {m["id"] for m in drain_queue(sqs, queue_url, expected=len(ids - left), timeout=30)}
    assert delivered | left == ids, "every event was delivered or is still in the table"
    assert not delivered & left, "a delivered event was not left behind"


@pytest.fixture
def stalling_aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TcpProxy]:
    """A proxy in front of moto that the test can stall; boto3 goes through it."""
    endpoint = urlparse(moto_endpoint)
    with TcpProxy(endpoint.hostname or "127.0.0.1", endpoint.port or 80) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{proxy.port}")
        yield proxy


def test_a_second_sigterm_stops_at_once_while_a_destination_stalls(
    live: Project, stalling_aws: TcpProxy
) -> None:
    proc = relay_process(live, "--request-timeout", "120", "--batch-size", "5")
    out = Lines(proc)
    try:
        live.sql("INSERT INTO orders (total) VALUES (1)")
        wait_for(lambda: live.scalar("SELECT COUNT(*) FROM outbox_events") == 0, what="first delivery")
        stalling_aws.stall()
        live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_5")
        wait_for(lambda: out.has("a request has waited"), timeout=30, what="the stall reported")
        proc.send_signal(signal.SIGTERM)
        wait_for(lambda: out.has("finishing what is in flight"), what="the first signal taken")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)  # the stalled request would hold a clean stop for up to 120 s
    finally:
        stalling_aws.flow()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out.text
    assert "stopped at once" in out.text and "Traceback" not in out.text
    assert live.scalar("SELECT COUNT(*) FROM outbox_events") == 5, "abandoned events stay in the table"


def test_a_stall_shows_in_logs_metrics_and_health_before_the_request_times_out(
    live: Project, stalling_aws: TcpProxy, queue_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="outbox_triggers")
    publisher = SqsPublisher("default", queue_url, client("sqs", 4, Timeouts(connect=1, read=4)))
    publisher.check()
    metrics = RelayMetrics({"orders": ["default"]}, stall_after_s=1.0)
    relay = Relay(
        live.engine,
        "outbox_events",
        {"orders": [publisher]},
        poll_interval=0.02,
        observers=[metrics],
        stall_after_s=1.0,
        finish_s=1.0,
    )
    worker = threading.Thread(target=relay.run)
    worker.start()
    try:
        metrics.lock_changed(True, "x")
        live.sql("INSERT INTO orders (total) VALUES (1)")
        wait_for(lambda: live.scalar("SELECT COUNT(*) FROM outbox_events") == 0, what="first delivery")
        stalling_aws.stall()
        live.sql("INSERT INTO orders (total) VALUES (2)")
        wait_for(lambda: not metrics.health()[0], timeout=4, what="/healthz unhealthy before the timeout")
        assert "destination 'default': a request has waited" in metrics.health()[1]
        waited = lambda: metrics.registry.get_sample_value(  # noqa: E731
            "outbox_request_oldest_wait_seconds", {"destination": "default"}
        )
        wait_for(lambda: (waited() or 0.0) >= 1.0, timeout=2, what="the wait in the metrics")
        assert any("a request has waited" in r.getMessage() for r in caplog.records)
        wait_for(lambda: relay.stats.failed_attempts >= 1, timeout=20, what="the request timing out")
        stalling_aws.flow()
        wait_for(lambda: live.scalar("SELECT COUNT(*) FROM outbox_events") == 0, timeout=20, what="recovery")
        wait_for(lambda: metrics.health()[0], timeout=5, what="healthy again")
    finally:
        stalling_aws.flow()
        relay.request_stop()
        worker.join(30)
    lines = [r.getMessage() for r in caplog.records]
    assert any(
        "destination 'default'" in line and "no answer within the request timeout" in line for line in lines
    ), lines
    leaks = [line for line in lines if "http" in line or str(stalling_aws.port) in line or "testing" in line]
    assert not leaks, "no endpoint URL or credentials in any log line"


def test_a_clean_stop_leaves_nothing_that_one_of_two_destinations_already_has(
    live: Project, sqs: Any, queue_url: str
) -> None:
    live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_300")
    seq_of = _seqs_by_id(live)
    fast = SqsPublisher("fast", queue_url, client("sqs", 8))
    fast.check()
    slow = StubPublisher("slow", latency=0.03, max_entries=2)
    relay = Relay(live.engine, "outbox_events", {"orders": [fast, slow]}, batch_size=50, max_in_flight=8)
    worker = threading.Thread(target=relay.run)
    worker.start()
    try:
        wait_for(lambda: len(slow.sent) >= 20, timeout=60, what="both destinations under way")
    finally:
        relay.request_stop()
        worker.join(60)
    left = seqs_left(live)
    in_fast = {seq_of[m["id"]] for m in drain_queue(sqs, queue_url, expected=300 - len(left), timeout=60)}
    in_slow = {m.seq for m in slow.sent}
    assert left, "the stop came mid-stream"
    assert not left & in_fast and not left & in_slow, "no event left behind that a destination has"
    assert in_fast | left == set(seq_of.values()) == in_slow | left, "nothing lost"


def _seqs_by_id(project: Project) -> dict[str, int]:
    with project.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT seq, payload FROM outbox_events").all()
    return {json.loads(payload)["id"]: int(seq) for seq, payload in rows}


def test_publishing_resumes_at_once_after_a_database_restart(
    project: Project, server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="outbox_triggers")
    server = make_url(server_url)
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC)
    project.migrate()
    with TcpProxy(server.host or "127.0.0.1", server.port or 3306) as proxy:
        url = (
            make_url(project.url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        )
        sink = StubPublisher("default")
        relay = Relay(database.engine(url), "outbox_events", {"*": [sink]}, batch_size=50, poll_interval=0.02)
        worker = threading.Thread(target=relay.run)
        worker.start()
        try:
            project.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_10")
            wait_for(lambda: len(sink.sent) == 10, what="delivery before the restart")
            proxy.down()
            project.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_10")
            wait_for(lambda: relay.stats.db_errors >= 3, timeout=20, what="a few failed attempts")
            proxy.up()
            back = time.monotonic()
            wait_for(lambda: len(sink.sent) >= 20, timeout=5, what="publishing again, well within 5 s")
            logging.getLogger("outbox_triggers.tests").info(
                "resumed %.2f s after the database came back", time.monotonic() - back
            )
        finally:
            relay.request_stop()
            worker.join(30)
    assert sorted(m.seq for m in sink.sent) == list(range(1, 21)), "nothing lost, nothing sent twice"
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("outbox_triggers.relay")]
    assert sum("database unreachable" in line for line in lines) == 1, lines
    assert sum("database reachable again" in line for line in lines) == 1, lines
    assert sum("relay lock" in line and " lost " in line for line in lines) <= 1, lines
    assert not any("mysql+pymysql://" in line for line in lines), "no database URL in the relay's log"
    assert not any("crash" in line or "resend" in line for line in lines), lines
