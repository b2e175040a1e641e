"""``outbox-triggers demo``: the whole pipeline on an embedded default.

MariaDB (``DATABASE_URL``, else 127.0.0.1:3306, else a throwaway server) →
a sample schema and spec → migrate → changes, one of them rolled back, and
a domain event emitted from Python beside a change of the same order →
relay → an in-process SQS (moto's HTTP server) → the messages, printed.
Everything it creates is removed at the end.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from outbox_triggers import commands, database, emit, local_server
from outbox_triggers.errors import OutboxError

LOCAL_URL = "mysql+pymysql://root@127.0.0.1:3306/"
SCHEMA = [
    "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, customer_id INT NOT NULL, "
    "status ENUM('new','paid','shipped') NOT NULL DEFAULT 'new', total DECIMAL(10,2) NOT NULL, "
    "created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6))",
    "CREATE TABLE customers (id INT AUTO_INCREMENT PRIMARY KEY, email VARCHAR(255) NOT NULL, "
    "name VARCHAR(255) NOT NULL, password_hash VARBINARY(64) NOT NULL)",
]
SPEC = """\
version: 1
tables:
  orders: {}
  customers:
    exclude_columns: [password_hash]
destinations:
  default:
    type: sqs
    queue_url: ${DEMO_QUEUE_URL}
"""
CHANGES: list[tuple[str, list[str], bool]] = [
    (
        "insert a customer",
        [
            "INSERT INTO customers (email, name, password_hash) "
            "VALUES ('ada@example.com', 'Ada', UNHEX(SHA2('s3cret', 256)))"
        ],
        True,
    ),
    ("insert two orders", ["INSERT INTO orders (customer_id, total) VALUES (1, 12.50), (1, 99.99)"], True),
    ("pay order 1", ["UPDATE orders SET status = 'paid' WHERE id = 1"], True),
    (
        "a transaction that rolls back",
        [
            "INSERT INTO orders (customer_id, total) VALUES (1, 1000.00)",
            "UPDATE orders SET total = 0 WHERE id = 2",
        ],
        False,
    ),
    ("delete order 2", ["DELETE FROM orders WHERE id = 2"], True),
]


def run(echo: Callable[[str], None] = print) -> None:
    """Run the demo end to end; raise OutboxError if any expectation fails."""
    with ExitStack() as stack:
        url = stack.enter_context(_scratch_database(echo))
        queue_url = stack.enter_context(_sqs_queue(echo))
        spec_path = _write_spec(stack)
        expected = _changes(url, spec_path, echo)
        stats = commands.relay(spec_path, url, once=True)
        messages = _receive(queue_url, expected)
        _report(messages, expected, stats.published, url, echo)


@contextmanager
def _scratch_database(echo: Callable[[str], None]) -> Iterator[str]:
    with ExitStack() as stack:
        server = os.environ.get("DATABASE_URL") or _local_or_throwaway(stack, echo)
        name = f"outbox_demo_{secrets.token_hex(4)}"
        admin = database.engine(server)
        stack.callback(admin.dispose)
        with database.connect(admin) as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        stack.callback(_drop_database, admin, name)
        echo(f"database: {database.redact(make_url(server).set(database=name))}")
        yield make_url(server).set(database=name).render_as_string(hide_password=False)


def _drop_database(admin: sa.Engine, name: str) -> None:
    with database.connect(admin) as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")


def _local_or_throwaway(stack: ExitStack, echo: Callable[[str], None]) -> str:
    if local_server.answers("127.0.0.1", 3306):
        return LOCAL_URL
    echo("no server at 127.0.0.1:3306: starting a throwaway one")
    return stack.enter_context(local_server.throwaway())


@contextmanager
def _sqs_queue(echo: Callable[[str], None]) -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = local_server.free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        queue_url = _sqs().create_queue(QueueName="outbox-demo")["QueueUrl"]
        os.environ["DEMO_QUEUE_URL"] = queue_url
        echo(f"sqs: {queue_url} (moto, in-process)")
        yield str(queue_url)
    finally:
        server.stop()
        os.environ.pop("DEMO_QUEUE_URL", None)
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def _sqs() -> Any:
    import boto3

    return boto3.client("sqs")


def _write_spec(stack: ExitStack) -> Path:
    workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="outbox-demo-")))
    (workdir / "outbox.yaml").write_text(SPEC)
    return workdir / "outbox.yaml"


def _changes(url: str, spec_path: Path, echo: Callable[[str], None]) -> int:
    eng = database.engine(url)
    try:
        with database.connect(eng) as conn:
            for ddl in SCHEMA:
                conn.exec_driver_sql(ddl)
        report = commands.migrate(spec_path, url, output=io.StringIO())
        echo(f"migrate: triggers installed at revision {report.after}")
        changed = sum(_apply(eng, label, statements, commit, echo) for label, statements, commit in CHANGES)
        return changed + _ship(eng, echo)
    finally:
        eng.dispose()


def _apply(
    eng: sa.Engine, label: str, statements: list[str], commit: bool, echo: Callable[[str], None]
) -> int:
    with database.connect(eng) as conn:
        rows = sum(conn.exec_driver_sql(sql).rowcount for sql in statements)
        conn.commit() if commit else conn.rollback()
    echo(f"  {'commit  ' if commit else 'rollback'}  {label} ({rows} row(s))")
    return rows if commit else 0


def _ship(eng: sa.Engine, echo: Callable[[str], None]) -> int:
    """Ship order 1 and emit OrderShipped in the same transaction: a change event, then a domain event."""
    with database.connect(eng) as conn:
        conn.exec_driver_sql("UPDATE orders SET status = 'shipped' WHERE id = 1")
        emit(
            conn,
            aggregate_type="orders",
            aggregate_id=1,
            event_type="OrderShipped",
            payload={"order_id": 1, "carrier": "DHL"},
        )
        conn.commit()
    echo("  commit    ship order 1, and emit OrderShipped from Python in the same transaction (2 events)")
    return 2


def _receive(queue_url: str, expected: int) -> list[dict[str, Any]]:
    sqs, messages = _sqs(), list[dict[str, Any]]()
    for _ in range(20):
        if len(messages) >= expected:
            break
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        messages += [json.loads(m["Body"]) for m in got.get("Messages", [])]
    return messages


def _report(
    messages: list[dict[str, Any]], expected: int, published: int, url: str, echo: Callable[[str], None]
) -> None:
    echo("messages received from SQS:")
    for body in sorted(messages, key=lambda m: m["ts"]):
        echo("  " + json.dumps(body, ensure_ascii=False))
    left = _backlog(url)
    echo(
        f"demo: {expected} committed row change(s) and domain event(s) -> {published} event(s) relayed -> "
        f"{len(messages)} SQS message(s); rolled-back changes emitted none; {left} left in outbox_events"
    )
    if not (expected == published == len(messages)) or left:
        raise OutboxError("demo: the counts above should all match and the events table should be empty")


def _backlog(url: str) -> int:
    eng = database.engine(url)
    try:
        with database.connect(eng) as conn:
            return int(conn.exec_driver_sql("SELECT COUNT(*) FROM outbox_events").scalar() or 0)
    finally:
        eng.dispose()
