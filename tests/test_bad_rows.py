"""A row the relay can't parse or re-encode goes to the dead letters with its reason; the relay goes on.

Real bad rows in the live events table, real destinations on moto, the real
``relay --once`` command: it must exit 0, with no traceback, every good event
delivered and every bad one dead-lettered, whatever the destination and format.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from .conftest import ORDERS, Project
from .test_destinations import receive_all, unique

pytestmark = pytest.mark.integration

TS = "2026-11-23T11:42:46.835789Z"
GOOD_FIELDS = {"table": "orders", "key": {"id": 9}, "before": None, "ts": TS, "event_type": "insert"}
BAD_ROWS = {
    "not_utf8": "0x7B2269C3283A317D",  # {"i\xC3(:1}: a lone lead byte
    "not_json": "'{bad json'",
    "array": "'[1, 2]'",
    "unknown_op": "'" + json.dumps({**GOOD_FIELDS, "id": "u-1", "op": "upsert", "after": {}}) + "'",
    # the JSON escape for U+D800, its backslash doubled for the SQL string literal
    "surrogate": "'"
    + json.dumps({**GOOD_FIELDS, "id": "s-1", "op": "insert", "after": {"s": "\ud800"}}).replace("\\", "\\\\")
    + "'",
}
REASONS = {
    "not_utf8": "not valid UTF-8",
    "not_json": "not valid JSON",
    "array": "not an object",
    "unknown_op": "unknown op 'upsert'",
    "surrogate": "unpaired surrogate U+D800",
}
UNPARSABLE = {"not_utf8", "not_json", "array"}
EVERYTHING = set(BAD_ROWS)


@pytest.fixture
def aws(moto_endpoint: str) -> Callable[[str], Any]:
    return lambda service: boto3.client(service)


def sqs_queue(aws: Callable[[str], Any], fifo: bool = False) -> str:
    attributes = {"FifoQueue": "true"} if fifo else {}
    return str(
        aws("sqs").create_queue(QueueName=unique("q") + (".fifo" if fifo else ""), Attributes=attributes)[
            "QueueUrl"
        ]
    )


def destination(aws: Callable[[str], Any], kind: str) -> tuple[str, str | None]:
    """The spec's destination block for ``kind``, and the SQS queue to read back (if any)."""
    if kind.startswith("sqs"):
        url = sqs_queue(aws, fifo="fifo" in kind)
        fmt = kind.split("-")[-1] if kind.endswith(("debezium", "maxwell")) else "native"
        return f"type: sqs, queue_url: '{url}', format: {fmt}", url
    if kind == "sns":
        return f"type: sns, topic_arn: {aws('sns').create_topic(Name=unique('t'))['TopicArn']}", None
    if kind == "kinesis":
        stream = unique("s")
        aws("kinesis").create_stream(StreamName=stream, ShardCount=1)
        return f"type: kinesis, stream_name: {stream}", None
    bus = unique("bus")
    aws("events").create_event_bus(Name=bus)
    return f"type: eventbridge, event_bus_name: {bus}", None


@pytest.mark.parametrize(
    ("kind", "dead"),
    [
        ("sqs", {"not_utf8"}),  # native to a standard queue: bytes go out as written, unparsed
        ("sqs-fifo", UNPARSABLE),
        ("sqs-debezium", EVERYTHING),
        ("sqs-maxwell", EVERYTHING),
        ("sqs-fifo-debezium", EVERYTHING),
        ("sns", UNPARSABLE),
        ("kinesis", UNPARSABLE),
        ("eventbridge", UNPARSABLE),
    ],
)
def test_bad_rows_go_to_the_dead_letters_and_the_relay_carries_on(
    project: Project, aws: Callable[[str], Any], kind: str, dead: set[str]
) -> None:
    block, queue = destination(aws, kind)
    project.sql(ORDERS)
    project.write_spec(f"version: 1\ntables:\n  orders: {{}}\ndestinations:\n  default: {{{block}}}\n")
    project.migrate()
    project.sql("ALTER TABLE outbox_events MODIFY payload LONGBLOB NOT NULL")  # so a row can hold non-UTF-8
    project.sql("INSERT INTO orders (total) VALUES (1)")
    bad = {}
    for name, literal in BAD_ROWS.items():
        project.sql(
            f"INSERT INTO outbox_events (table_name, key_hash, payload) VALUES ('orders', 7, {literal})"
        )
        bad[int(project.scalar("SELECT MAX(seq) FROM outbox_events"))] = name
    project.sql("INSERT INTO orders (total) VALUES (2)")

    done = relay_once(project)

    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert project.scalar("SELECT COUNT(*) FROM outbox_events") == 0, (
        "no row left behind, none retried forever"
    )
    letters = dead_letters(project)
    got = {bad[seq] for seq in letters}
    assert got == dead if kind.startswith("sqs") else dead <= got, (got, dead)
    for seq, (error, destination_name) in letters.items():
        assert REASONS[bad[seq]] in error and destination_name == "default", (bad[seq], error)
    assert f"relay: {7 - len(letters)} event(s) delivered" in done.stderr
    if queue:
        bodies = [m["Body"] for m in receive_all(aws("sqs"), queue)]
        assert len(bodies) == 7 - len(letters)
        assert sum('"id":' in b or '"event_id"' in b for b in bodies) >= 2, "the good events went out"


def relay_once(project: Project) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": project.url, "OUTBOX_SPEC": str(project.spec_path)}
    return subprocess.run(
        [sys.executable, "-m", "outbox_triggers", "relay", "--once", "--batch-size", "3"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def dead_letters(project: Project) -> dict[int, tuple[str, str]]:
    with project.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT seq, error, destination FROM outbox_events_dead_letters").all()
    return {int(seq): (str(error), str(name)) for seq, error, name in rows}
