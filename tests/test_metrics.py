"""Metrics, health, JSON logs and the progress line, against the live MariaDB and moto's SQS."""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from outbox_triggers import local_server, lock
from outbox_triggers.metrics import EXACT_COUNT_BELOW, Backlog

from .conftest import Project, wait_for

pytestmark = pytest.mark.integration


def _relay(project: Project, *args: str, stderr: Any = subprocess.PIPE) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": project.url, "OUTBOX_SPEC": str(project.spec_path)}
    return subprocess.Popen(
        [sys.executable, "-m", "outbox_triggers", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=stderr,
    )


@pytest.fixture
def relay_with_metrics(live: Project) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = local_server.free_port()
    proc = _relay(live, "relay", "--poll-interval", "0.05", "--metrics-port", str(port))
    yield proc, port
    proc.terminate()
    proc.communicate(timeout=30)


def get(port: int, path: str) -> tuple[int, str]:
    """Status and body of GET http://127.0.0.1:<port><path>; (0, reason) if nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


def metric(port: int, name: str, **labels: str) -> float | None:
    """The value of one sample on /metrics, or None when it is not there."""
    status, body = get(port, "/metrics")
    if status != 200:
        return None
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def test_counters_move_as_events_are_delivered(
    live: Project, relay_with_metrics: tuple[subprocess.Popen[bytes], int]
) -> None:
    _, port = relay_with_metrics
    wait_for(lambda: metric(port, "outbox_relay_lock_held") == 1, what="relay holds its lock")
    assert metric(port, "outbox_events_published_total", destination="default") == 0
    status, body = get(port, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"

    live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_25", "UPDATE orders SET status = 'paid'")

    wait_for(
        lambda: metric(port, "outbox_events_published_total", destination="default") == 50,
        what="50 events counted as published",
    )
    assert metric(port, "outbox_event_lag_seconds_count") == 50
    assert (metric(port, "outbox_batch_duration_seconds_count") or 0) >= 1
    assert metric(port, "outbox_events_failed_total") == 0
    assert metric(port, "outbox_events_dead_lettered_total") == 0
    assert metric(port, "outbox_backlog_events") is not None
    assert (metric(port, "outbox_relay_lock_acquired_timestamp_seconds") or 0) > 0
    assert get(port, "/healthz")[0] == 200
    assert get(port, "/nothing")[0] == 404


def test_a_relay_waiting_for_the_lock_is_healthy(live: Project) -> None:
    name = lock.lock_name(live.engine.url.database or "", "outbox_events")
    holder = live.engine.connect()
    try:
        assert holder.exec_driver_sql("SELECT GET_LOCK(%s, 0)", (name,)).scalar() == 1
        port = local_server.free_port()
        proc = _relay(live, "relay", "--poll-interval", "0.05", "--metrics-port", str(port))
        try:
            status, body = wait_for(lambda: (r := get(port, "/healthz"))[0] and r, what="/healthz answers")
            assert status == 200 and "waiting" in json.loads(body)["detail"]
            assert metric(port, "outbox_relay_lock_held") == 0

            holder.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (name,))
            wait_for(lambda: metric(port, "outbox_relay_lock_held") == 1, what="the standby takes over")
            assert get(port, "/healthz")[0] == 200
        finally:
            proc.terminate()
            proc.communicate(timeout=30)
    finally:
        holder.close()


def test_backlog_is_exact_when_small_and_a_cheap_bound_when_large(live: Project) -> None:
    backlog = Backlog(live.engine, "outbox_events", every_s=0)
    empty = backlog.read()
    assert empty is not None and empty.events == 0 and empty.oldest_age_s is None

    live.sql("INSERT INTO orders (total) VALUES (1), (2), (3)")
    small = backlog.read()
    assert small is not None and (small.events, small.exact) == (3, True)
    assert small.oldest_age_s is not None and 0 <= small.oldest_age_s < 60
    assert abs(small.clock_offset_s) < 5, "the test server runs on this host's clock"

    far = EXACT_COUNT_BELOW * 2
    live.sql(
        f"INSERT INTO outbox_events (seq, table_name, key_hash, payload) VALUES ({far}, 'orders', 0, '{{}}')"
    )
    large = backlog.read()
    assert large is not None and large.exact is False
    assert large.events == far - live.scalar("SELECT MIN(seq) FROM outbox_events") + 1


def test_no_metrics_server_unless_asked(live: Project) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "outbox_triggers", "relay", "--once"],
        env={**os.environ, "DATABASE_URL": live.url, "OUTBOX_SPEC": str(live.spec_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "metrics" not in result.stderr


def test_json_logs_are_one_object_per_line(live: Project) -> None:
    live.sql("INSERT INTO orders (total) VALUES (1), (2)")
    result = subprocess.run(
        [sys.executable, "-m", "outbox_triggers", "--log-format", "json", "relay", "--once"],
        env={**os.environ, "DATABASE_URL": live.url, "OUTBOX_SPEC": str(live.spec_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert records, result.stderr
    for record in records:
        assert {"ts", "level", "logger", "message"} <= record.keys()
        assert record["ts"].endswith("Z")
    taken = [r for r in records if "relay lock" in r["message"]]
    assert taken and taken[0]["logger"] == "outbox_triggers.relay" and taken[0]["level"] == "INFO"
    assert "relayed" not in result.stderr, "no progress line when stderr is not a terminal"


def test_progress_line_on_a_terminal(live: Project) -> None:
    live.sql("INSERT INTO orders (total) SELECT seq FROM seq_1_to_100")
    middle = live.scalar("SELECT MIN(seq) + 50 FROM outbox_events")
    blocker = live.engine.connect()
    blocker.exec_driver_sql(f"SELECT seq FROM outbox_events WHERE seq = {middle} FOR UPDATE")
    leader, follower = pty.openpty()
    proc = _relay(live, "relay", "--once", "--batch-size", "5", stderr=follower)
    os.close(follower)
    chunks: list[bytes] = []
    reader = threading.Thread(target=_read_all, args=(leader, chunks))
    reader.start()
    try:
        # The drain is long once the relay's DELETE has waited on the locked row for over a second.
        wait_for(lambda: _delete_waiting_ms(live) > 1200, what="the relay blocked on the locked event")
    finally:
        blocker.rollback()
        blocker.close()
    proc.wait(60)
    reader.join(30)
    os.close(leader)
    output = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, output
    assert "\r\x1b[Krelayed " in output and " ev/s" in output, output[-2000:]
    assert "relayed 100 events, backlog 0, " in output, output[-2000:]


def _delete_waiting_ms(project: Project) -> int:
    value = project.scalar(
        "SELECT MAX(TIME_MS) FROM information_schema.PROCESSLIST "
        "WHERE DB = DATABASE() AND INFO LIKE 'DELETE FROM `outbox_events`%'"
    )
    return int(value or 0)


def _read_all(fd: int, into: list[bytes]) -> None:
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            return
        if not chunk:
            return
        into.append(chunk)


def test_metrics_port_in_use_is_a_one_line_error(live: Project) -> None:
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "outbox_triggers", "relay", "--once", "--metrics-port", str(port)],
            env={**os.environ, "DATABASE_URL": live.url, "OUTBOX_SPEC": str(live.spec_path)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2, result.stderr
    assert f"FAILED: cannot serve metrics on 0.0.0.0:{port}" in result.stderr
