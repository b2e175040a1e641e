"""AWS Lambda entry point: relay during one scheduled invocation, then hand over to the next.

An EventBridge rule invokes :func:`handler` every minute. The invocation takes
the relay lock (waiting up to ``OUTBOX_LAMBDA_LOCK_WAIT_S``; if another
invocation still holds it, it returns at once saying so), relays until a
safety margin before its timeout, finishes the batch in hand, releases the
lock and returns a summary. The next invocation picks up where it stopped.

Settings come from the environment:

- ``OUTBOX_SPEC``: the spec (default ``outbox.yaml`` in ``LAMBDA_TASK_ROOT``);
- ``DATABASE_URL``, or ``DATABASE_URL_SECRET_ARN``: a Secrets Manager secret
  holding the URL, JSON with a ``url`` key, or an RDS-style JSON secret
  (``username``, ``password``, ``host``, ``port``, ``dbname``);
- ``OUTBOX_LAMBDA_MARGIN_S`` (10, and at most 20% of the time left),
  ``OUTBOX_LAMBDA_LOCK_WAIT_S`` (10), ``OUTBOX_LAMBDA_STOP_WHEN_DRAINED`` (off),
  ``OUTBOX_BATCH_SIZE``, ``OUTBOX_POLL_INTERVAL``, ``OUTBOX_LOG_LEVEL``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import boto3
from sqlalchemy.engine import URL

from outbox_triggers import database, relaying, spec, status
from outbox_triggers.defaults import DEFAULT_BATCH_SIZE, DEFAULT_POLL_INTERVAL
from outbox_triggers.errors import DatabaseError
from outbox_triggers.events import Event
from outbox_triggers.publishers import PublishResult
from outbox_triggers.publishers.aws import describe

log = logging.getLogger(__name__)
DEFAULT_MARGIN_S = 10.0
MARGIN_FRACTION = 0.2
DEFAULT_LOCK_WAIT_S = 10.0
DEADLINE = "deadline"
LOCK_HELD = "lock held by another relay"
DRAINED = "drained"
STOPPED = "stopped"


class LambdaContext(Protocol):
    """The part of Lambda's context object the handler uses."""

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before Lambda stops this invocation."""


@dataclass(frozen=True)
class Settings:
    """What one invocation needs, read from the environment."""

    spec_path: str
    database_url: str | None = None
    secret_arn: str | None = None
    margin_s: float = DEFAULT_MARGIN_S
    lock_wait_s: float = DEFAULT_LOCK_WAIT_S
    stop_when_drained: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    poll_interval: float = DEFAULT_POLL_INTERVAL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``environ`` (default: the process environment)."""
        env = os.environ if environ is None else environ
        root = Path(env.get("LAMBDA_TASK_ROOT", "."))
        return cls(
            spec_path=env.get("OUTBOX_SPEC") or str(root / spec.DEFAULT_SPEC_PATH),
            database_url=env.get("DATABASE_URL") or None,
            secret_arn=env.get("DATABASE_URL_SECRET_ARN") or None,
            margin_s=float(env.get("OUTBOX_LAMBDA_MARGIN_S", DEFAULT_MARGIN_S)),
            lock_wait_s=float(env.get("OUTBOX_LAMBDA_LOCK_WAIT_S", DEFAULT_LOCK_WAIT_S)),
            stop_when_drained=env.get("OUTBOX_LAMBDA_STOP_WHEN_DRAINED", "").lower() in ("1", "true", "yes"),
            batch_size=int(env.get("OUTBOX_BATCH_SIZE", DEFAULT_BATCH_SIZE)),
            poll_interval=float(env.get("OUTBOX_POLL_INTERVAL", DEFAULT_POLL_INTERVAL)),
        )


class Deadline:
    """Stops a relay at ``stop_at``, or after ``lock_wait_s`` without the lock; a RelayObserver.

    A watcher thread calls ``stop`` on time even while the relay waits for its
    lock (when no hook runs); the hooks also check, so a stop lands between batches.
    """

    def __init__(
        self,
        stop_at: float,
        lock_wait_s: float,
        stop_when_drained: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stop_at = stop_at
        self.reason: str | None = None
        self.lock_name = ""
        self.got_lock = False
        self._lock_wait_s = lock_wait_s
        self._stop_when_drained = stop_when_drained
        self._clock = clock
        self._stop: Callable[[], None] = lambda: None
        self._locked = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, stop: Callable[[], None]) -> None:
        """Start watching; ``stop`` asks the relay to finish the batch in hand and return."""
        self._stop = stop
        self._thread = threading.Thread(target=self._watch, name="outbox-deadline", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the watcher thread."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(5)

    def lock_changed(self, held: bool, name: str) -> None:
        """Note the lock; its first taking ends the wait for it."""
        if held:
            self.got_lock, self.lock_name = True, name
            self._locked.set()

    def batch_done(self, events: Sequence[Event], result: PublishResult, seconds: float) -> None:
        """Stop after this batch if the time is up."""
        self._check()

    def idle(self) -> None:
        """Stop if the time is up, or (when asked to) because the backlog is drained."""
        if self._stop_when_drained:
            self._finish(DRAINED)
        self._check()

    def requests_waiting(self, oldest: Mapping[str, float]) -> None:
        """Stop if the time is up (a stalled destination must not hold the invocation past it)."""
        self._check()

    def _check(self) -> None:
        if self._clock() >= self.stop_at:
            self._finish(DEADLINE)

    def _watch(self) -> None:
        wait = min(self._lock_wait_s, self.stop_at - self._clock())
        if not self._locked.wait(max(0.0, wait)):
            self._finish(LOCK_HELD if self._clock() < self.stop_at else DEADLINE)
            return
        if not self._done.wait(max(0.0, self.stop_at - self._clock())):
            self._finish(DEADLINE)

    def _finish(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
            log.info("stopping the relay: %s", reason)
        self._stop()


def handler(event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Relay until shortly before this invocation's timeout; return what happened."""
    _quiet_libraries()
    return run(context, Settings.from_env())


def run(context: LambdaContext, settings: Settings) -> dict[str, Any]:
    """One invocation with explicit ``settings``."""
    started = time.monotonic()
    budget = context.get_remaining_time_in_millis() / 1000
    stop_at = started + budget - margin(budget, settings.margin_s)
    url = database_url(settings)
    deadline = Deadline(stop_at, settings.lock_wait_s, settings.stop_when_drained)
    try:
        with relaying.relay_session(
            settings.spec_path,
            url,
            settings.batch_size,
            settings.poll_interval,
            observers=[deadline],
        ) as worker:
            deadline.watch(worker.request_stop)
            stats = worker.run()
    finally:
        deadline.close()
    summary: dict[str, Any] = {
        "delivered": stats.published,
        "batches": stats.batches,
        "dead_lettered": stats.dead_lettered,
        "failed_attempts": stats.failed_attempts,
        "stopped_because": deadline.reason or STOPPED,
        "seconds": round(time.monotonic() - started, 3),
        "lock": {"name": deadline.lock_name, "held": deadline.got_lock},
    }
    if not deadline.got_lock:
        summary["lock"] = _lock_report(settings.spec_path, url)
    log.info("relay invocation done: %s", json.dumps(summary))
    return summary


def margin(budget_s: float, margin_s: float = DEFAULT_MARGIN_S) -> float:
    """Seconds to keep in hand before the timeout: ``margin_s``, but at most 20% of ``budget_s``."""
    return max(0.0, min(margin_s, budget_s * MARGIN_FRACTION))


def database_url(settings: Settings) -> str | None:
    """``DATABASE_URL``, else the URL in the secret; None leaves it to the spec's ``url``."""
    if settings.database_url:
        return settings.database_url
    if settings.secret_arn:
        return url_from_secret(read_secret(settings.secret_arn))
    return None


def read_secret(arn: str) -> str:
    """The secret string of ``arn`` from Secrets Manager."""
    try:
        value = boto3.client("secretsmanager").get_secret_value(SecretId=arn)
    except Exception as exc:
        raise DatabaseError(f"cannot read the database URL from secret {arn}: {describe(exc)}") from None
    if "SecretString" not in value:
        raise DatabaseError(f"secret {arn} holds binary data; store the database URL as a string")
    return str(value["SecretString"])


def url_from_secret(text: str) -> str:
    """The database URL in a secret: the string itself, a ``url`` key, or RDS-style fields."""
    text = text.strip()
    if not text.startswith("{"):
        return text
    try:
        fields = json.loads(text)
    except json.JSONDecodeError:
        raise DatabaseError("the database secret looks like JSON but does not parse") from None
    if isinstance(fields, dict) and fields.get("url"):
        return str(fields["url"])
    if isinstance(fields, dict) and {"username", "password", "host"} <= fields.keys():
        return URL.create(
            "mysql+pymysql",
            username=str(fields["username"]),
            password=str(fields["password"]),
            host=str(fields["host"]),
            port=int(fields.get("port") or 3306),
            database=str(fields.get("dbname") or fields.get("database") or "") or None,
        ).render_as_string(hide_password=False)
    raise DatabaseError("the database secret is JSON without a 'url' key (or username, password and host)")


def _lock_report(spec_path: str, url: str | None) -> dict[str, Any]:
    """Who holds the relay lock this invocation could not take."""
    loaded = spec.load(spec_path)
    eng = database.engine(database.resolve_url(url, loaded.url))
    try:
        with database.connect(eng) as conn:
            name = str(conn.exec_driver_sql("SELECT DATABASE()").scalar())
            names = status.lock_names(name, loaded.events_table, loaded.partitions)
            holders = status.lock_holders(conn, names)
    finally:
        eng.dispose()
    first = holders[0] if holders else None
    return {
        "name": first.name if first else next(iter(names)),
        "held": False,
        "holder": None if first is None else {"connection_id": first.connection_id, "host": first.host},
    }


def _quiet_libraries() -> None:
    level = os.environ.get("OUTBOX_LOG_LEVEL", "INFO").upper()
    logging.getLogger("outbox_triggers").setLevel(level)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
