"""Observability and Lambda pieces that need no database: log formats, progress, health, deadlines."""

from __future__ import annotations

import io
import json
import logging
import sys
import time

import pytest

from outbox_triggers import aws_lambda, logs
from outbox_triggers.errors import DatabaseError
from outbox_triggers.events import Event
from outbox_triggers.metrics import RelayMetrics
from outbox_triggers.progress import ERASE, Progress
from outbox_triggers.publishers import PublishResult


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("outbox_triggers.relay", logging.WARNING, __file__, 1, message, args, None)
    rec.__dict__.update(extra)
    return rec


def test_json_log_line_has_the_fields_and_the_extras() -> None:
    line = logs.JsonFormatter().format(record("event %s not delivered", 7, seq=7, destination="crm"))
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "outbox_triggers.relay"
    assert entry["message"] == "event 7 not delivered"
    assert entry["seq"] == 7 and entry["destination"] == "crm"
    assert entry["ts"].endswith("Z") and "T" in entry["ts"]
    assert "\n" not in line


def test_logs_never_show_a_password() -> None:
    url = "mysql+pymysql://relay:s3cr3t@db.example.com:3306/shop"
    rec = record("cannot reach %s", url, password="hunter2", target=url)
    json_line = logs.JsonFormatter().format(rec)
    text_line = logs.TextFormatter().format(rec)
    for line in (json_line, text_line):
        assert "s3cr3t" not in line and "mysql+pymysql://relay:***@db.example.com:3306/shop" in line
    assert "hunter2" not in json_line and json.loads(json_line)["password"] == "***"


def test_json_log_carries_the_traceback() -> None:
    try:
        raise ValueError("mysql://u:pw@h/db is gone")
    except ValueError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(logs.JsonFormatter().format(rec))
    assert "ValueError" in entry["exc_info"] and "pw@" not in entry["exc_info"]


def batch(
    seqs: range, accepted: int, failed: int = 0, rejected: int = 0
) -> tuple[list[Event], PublishResult]:
    events = [Event(s, "orders", s, "{}", created=1.0) for s in seqs]
    result = PublishResult(
        accepted=[e.seq for e in events[:accepted]],
        failed={e.seq: "throttled" for e in events[accepted : accepted + failed]},
        rejected={e.seq: "too big" for e in events[accepted + failed : accepted + failed + rejected]},
    )
    return events, result


def test_progress_shows_only_long_drains_and_ends_the_line() -> None:
    clock, out = Clock(), io.StringIO()
    line = Progress(out, lambda max_age_s: 42, clock=clock)
    line.batch_done(*batch(range(1, 11), 10), seconds=0.1)
    line.idle()
    assert out.getvalue() == "", "a short burst shows nothing"

    for _ in range(12):
        clock.now += 0.2
        line.batch_done(*batch(range(1, 101), 100), seconds=0.2)
    assert out.getvalue().startswith(ERASE + "relayed ")
    assert "backlog 42" in out.getvalue() and " ev/s" in out.getvalue()
    line.idle()
    assert out.getvalue().endswith("relayed 1,210 events, backlog 42, 500 ev/s\n")


def test_progress_line_is_erased_before_a_log_record() -> None:
    clock, out = Clock(), io.StringIO()
    handler = logging.StreamHandler(out)
    logger = logging.getLogger("test_progress_erase")
    logger.addHandler(handler)
    logger.propagate = False
    line = Progress(out, clock=clock, show_after_s=0)
    detach = line.attach(logger)
    try:
        line.batch_done(*batch(range(1, 6), 5), seconds=0.1)
        logger.warning("something happened")
    finally:
        detach()
        logger.removeHandler(handler)
    assert out.getvalue() == ERASE + "relayed 5 events, backlog ?, 0 ev/s" + ERASE + "something happened\n"


def test_metrics_count_per_destination_failures_retries_and_dead_letters() -> None:
    metrics = RelayMetrics({"orders": ("default", "audit"), "*": ("default",)})
    events, result = batch(range(1, 12), 6, failed=3, rejected=1)
    metrics.batch_done(events, result, seconds=0.05)
    metrics.batch_done(*batch(range(7, 10), 3), seconds=0.05)
    metrics.record_dead_letters(2)

    def value(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert value("outbox_events_published_total", destination="default") == 9
    assert value("outbox_events_published_total", destination="audit") == 9
    assert value("outbox_events_failed_total") == 3
    assert value("outbox_events_retried_total") == 3
    assert value("outbox_events_dead_lettered_total") == 3
    assert value("outbox_batch_duration_seconds_count") == 2
    assert value("outbox_event_lag_seconds_count") == 9


def test_health_waiting_for_the_lock_is_fine_a_stuck_holder_is_not() -> None:
    clock = Clock()
    metrics = RelayMetrics({}, stale_after_s=60, clock=clock)
    clock.now += 600
    assert metrics.health()[0], "a standby relay waiting for the lock is alive"

    metrics.lock_changed(True, "outbox_triggers.shop.outbox_events")
    assert metrics.registry.get_sample_value("outbox_relay_lock_held") == 1
    clock.now += 59
    metrics.idle()
    clock.now += 59
    assert metrics.health() == (True, "relaying (last progress 59.0 s ago)")
    clock.now += 2
    healthy, why = metrics.health()
    assert not healthy and "no batch or poll finished for 61 s" in why

    metrics.lock_changed(False, "outbox_triggers.shop.outbox_events")
    assert metrics.health()[0] and metrics.registry.get_sample_value("outbox_relay_lock_held") == 0
    metrics.finished()
    assert metrics.health() == (False, "the relay has stopped")


def test_deadline_stops_when_the_time_is_up_or_the_lock_never_comes() -> None:
    clock, stops = Clock(), []
    deadline = aws_lambda.Deadline(stop_at=clock.now + 5, lock_wait_s=1, clock=clock)
    deadline._stop = lambda: stops.append(clock.now)
    deadline.lock_changed(True, "lock")
    deadline.batch_done(*batch(range(1, 3), 2), seconds=0.1)
    assert stops == [] and deadline.reason is None
    clock.now += 5
    deadline.idle()
    assert stops and deadline.reason == "deadline"

    waiting = aws_lambda.Deadline(stop_at=time.monotonic() + 30, lock_wait_s=0.05)
    stopped: list[bool] = []
    waiting.watch(lambda: stopped.append(True))
    waiting._thread.join(5)  # type: ignore[union-attr]
    assert stopped and waiting.reason == "lock held by another relay"


def test_margin_is_ten_seconds_but_at_most_a_fifth() -> None:
    assert aws_lambda.margin(70) == 10
    assert aws_lambda.margin(4) == pytest.approx(0.8)
    assert aws_lambda.margin(0) == 0


def test_settings_from_the_environment() -> None:
    settings = aws_lambda.Settings.from_env(
        {"LAMBDA_TASK_ROOT": "/var/task", "OUTBOX_LAMBDA_LOCK_WAIT_S": "3"}
    )
    assert settings.spec_path == "/var/task/outbox.yaml" and settings.lock_wait_s == 3
    assert settings.database_url is None and settings.secret_arn is None


@pytest.mark.parametrize(
    ("secret", "url"),
    [
        ("mysql+pymysql://relay:pw@db:3306/shop\n", "mysql+pymysql://relay:pw@db:3306/shop"),
        ('{"url": "mysql+pymysql://relay:pw@db/shop"}', "mysql+pymysql://relay:pw@db/shop"),
        (
            '{"username": "relay", "password": "p@ss", "host": "db", "port": 3307, "dbname": "shop"}',
            "mysql+pymysql://relay:p%40ss@db:3307/shop",
        ),
    ],
)
def test_url_from_secret(secret: str, url: str) -> None:
    assert aws_lambda.url_from_secret(secret) == url


def test_url_from_a_secret_without_one_is_refused() -> None:
    with pytest.raises(DatabaseError, match="without a 'url' key") as caught:
        aws_lambda.url_from_secret('{"password": "hunter2"}')
    assert "hunter2" not in str(caught.value)
