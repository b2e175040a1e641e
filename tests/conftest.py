"""Shared fixtures: a fresh MariaDB database per test, moto's HTTP SQS, and project helpers.

Fixtures that need a live service skip when it is missing locally, and fail
in CI (``CI=true``), so a green CI run always exercised the real parts.
"""

from __future__ import annotations

import json
import os
import secrets
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from hypothesis import settings
from sqlalchemy.engine import make_url

from outbox_triggers import commands, database, local_server
from outbox_triggers.identifiers import quote

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
settings.register_profile(
    "ci", max_examples=40, derandomize=True, deadline=None, print_blob=True, database=None
)
settings.register_profile("deep", max_examples=2000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
SERVER_URL = os.environ.get("TEST_DATABASE_URL", "mysql+pymysql://root@127.0.0.1:3306/")


def wait_for(
    condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05, what: str = ""
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(interval)


def _unavailable(reason: str) -> None:
    if CI:
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def server_url() -> str:
    url = make_url(SERVER_URL)
    if not local_server.answers(
        url.host or "127.0.0.1", url.port or 3306, url.username or "root", url.password or ""
    ):
        _unavailable(f"no MySQL/MariaDB server at {database.redact(url)}")
    return SERVER_URL


@pytest.fixture
def db_url(server_url: str) -> Iterator[str]:
    """A database of its own for one test, dropped afterwards."""
    name = f"ot_test_{secrets.token_hex(5)}"
    admin = database.engine(server_url)
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


@pytest.fixture
def db(db_url: str) -> Iterator[sa.Engine]:
    eng = database.engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's HTTP server for the whole session; boto3 reaches it through AWS_ENDPOINT_URL."""
    from moto.server import ThreadedMotoServer

    port = local_server.free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield endpoint
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def sqs(moto_endpoint: str) -> Any:
    return boto3.client("sqs")


@pytest.fixture
def queue_url(sqs: Any) -> Iterator[str]:
    url = sqs.create_queue(QueueName=f"q-{secrets.token_hex(6)}")["QueueUrl"]
    yield str(url)
    sqs.delete_queue(QueueUrl=url)


def drain_queue(sqs: Any, queue_url: str, expected: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Receive (and delete) messages until ``expected`` distinct events arrived or ``timeout`` passed."""
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len({b["id"] for b in bodies}) < expected and time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = got.get("Messages", [])
        for m in messages:
            bodies.append(json.loads(m["Body"]))
        if messages:
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        else:
            time.sleep(0.05)
    return bodies


def receive(
    sqs: Any, url: str, expected: int, timeout: float = 30.0, attributes: list[dict[str, str]] | None = None
) -> list[str]:
    """Message bodies until ``expected`` arrived or ``timeout`` passed; ``attributes`` collects theirs."""
    bodies: list[str] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < expected and time.monotonic() < deadline:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        )
        messages = got.get("Messages", [])
        bodies += [m["Body"] for m in messages]
        if attributes is not None:
            attributes += [
                {k: v["StringValue"] for k, v in m.get("MessageAttributes", {}).items()} for m in messages
            ]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if not messages:
            time.sleep(0.05)
    return bodies


@dataclass
class Project:
    """A spec file in a temp dir, bound to a test database."""

    root: Path
    url: str
    engine: sa.Engine

    @property
    def spec_path(self) -> Path:
        return self.root / "outbox.yaml"

    def write_spec(self, text: str) -> Path:
        self.spec_path.write_text(textwrap.dedent(text))
        return self.spec_path

    def sql(self, *statements: str, commit: bool = True) -> None:
        with self.engine.connect() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
            conn.commit() if commit else conn.rollback()

    def scalar(self, statement: str, params: Any = None) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(statement), params or {}).scalar()

    def events(self, table: str = "outbox_events") -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(f"SELECT payload FROM {quote(table)} ORDER BY seq").all()
        return [json.loads(r[0]) for r in rows]

    def migrate(self, **kwargs: Any) -> commands.MigrateReport:
        return commands.migrate(self.spec_path, self.url, output=open(os.devnull, "w"), **kwargs)


ORDERS = (
    "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, status VARCHAR(20) NOT NULL DEFAULT 'new', "
    "total DECIMAL(10,2) NOT NULL, note TEXT NULL, secret VARCHAR(50) NULL)"
)
ORDERS_SPEC = """\
version: 1
tables:
  orders:
    exclude_columns: [secret]
destinations:
  default:
    type: sqs
    queue_url: ${QUEUE_URL:-https://sqs.us-east-1.amazonaws.com/123456789012/unused}
"""


@pytest.fixture
def project(tmp_path: Path, db_url: str, db: sa.Engine) -> Project:
    return Project(tmp_path, db_url, db)


@pytest.fixture
def orders(project: Project) -> Project:
    """A project tracking ``orders`` (with ``secret`` excluded), migrated."""
    project.sql(ORDERS)
    project.write_spec(ORDERS_SPEC)
    project.migrate()
    return project


@pytest.fixture
def live(orders: Project, queue_url: str, monkeypatch: pytest.MonkeyPatch) -> Project:
    """``orders`` tracked, events routed to a fresh moto SQS queue."""
    monkeypatch.setenv("QUEUE_URL", queue_url)
    return orders
