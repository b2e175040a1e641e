"""The consumer side: an inbox that makes at-least-once delivery safe to consume.

Delivery is at least once, so a consumer sees some events twice. The inbox
records each processed event id in the consumer's own database, **in the
consumer's own transaction**: the handler's effects and the record of having
run commit together, or roll back together. A duplicate delivery finds the
record and is skipped; a handler that fails leaves no record, so the retry
runs it again. (Eventuate's ``RECEIVED_MESSAGES``, MassTransit's inbox.)

Use it around a handler::

    with engine.begin() as conn:
        if inbox.record(conn, event["id"], consumer="billing"):
            charge(conn, event)                  # runs once per event id, whatever the deliveries

Two deliveries of one event processed at the same time are serialized by the
inbox row: the second waits for the first transaction, then sees the record.

:func:`sqs_batch` wraps that for an SQS-triggered Lambda with partial batch
failures. The table comes from ``outbox-triggers inbox create`` (or
:func:`ddl` in the service's own Alembic migration), and
``outbox-triggers inbox purge --older-than 14d`` (:func:`purge`) trims it:
keep records longer than any redelivery can come (the queue's retention).

Like :func:`outbox_triggers.emit`, this works with a SQLAlchemy ``Connection``
or ``Session`` or a DB-API connection, and imports no SQLAlchemy itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from outbox_triggers import identifiers
from outbox_triggers.emitting import execute
from outbox_triggers.errors import EmitError

DEFAULT_TABLE = "outbox_inbox"
DEFAULT_CONSUMER = "default"
MAX_ID = 64
MAX_CONSUMER = 100
log = logging.getLogger(__name__)


def ddl(table: str = DEFAULT_TABLE) -> str:
    """The CREATE TABLE of the inbox: one row per (consumer, event id), with when it was processed."""
    quoted = identifiers.quote(identifiers.check(table, "inbox table"))
    return (
        f"CREATE TABLE IF NOT EXISTS {quoted} (\n"
        f"  `consumer` VARCHAR({MAX_CONSUMER}) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n"
        f"  `event_id` VARCHAR({MAX_ID}) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n"
        "  `processed_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),\n"
        "  PRIMARY KEY (`consumer`, `event_id`),\n"
        "  KEY `processed_at` (`processed_at`)\n"
        ") ENGINE=InnoDB COMMENT='outbox-triggers inbox: event ids each consumer has processed'"
    )


def record(conn: Any, event_id: str, consumer: str = DEFAULT_CONSUMER, table: str = DEFAULT_TABLE) -> bool:
    """Record ``event_id`` as processed by ``consumer``, in ``conn``'s transaction; False if it already was.

    Run the handler only when this returns True, in the same transaction.
    """
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_ID or not event_id.isascii():
        raise EmitError(f"inbox: event id {event_id!r} is not an ASCII string of 1 to {MAX_ID} characters")
    if not consumer or len(consumer) > MAX_CONSUMER or not consumer.isascii():
        raise EmitError(
            f"inbox: consumer {consumer!r} is not an ASCII name of 1 to {MAX_CONSUMER} characters"
        )
    quoted = identifiers.quote(identifiers.check(table, "inbox table")).replace("%", "%%")
    sql = f"INSERT IGNORE INTO {quoted} (`consumer`, `event_id`) VALUES (%s, %s)"  # noqa: S608
    return execute(conn, sql, (consumer, event_id)) == 1


def purge(
    conn: Any, older_than_s: int, table: str = DEFAULT_TABLE, consumer: str | None = None, chunk: int = 1000
) -> int:
    """Delete records processed more than ``older_than_s`` ago, ``chunk`` per transaction; how many went.

    ``conn`` is committed after each chunk: run it on a connection of its own.
    """
    quoted = identifiers.quote(identifiers.check(table, "inbox table")).replace("%", "%%")
    mine = " AND `consumer` = %s" if consumer else ""
    sql = (
        f"DELETE FROM {quoted} WHERE `processed_at` < NOW(6) - INTERVAL %s SECOND{mine} "  # noqa: S608
        "ORDER BY `processed_at` LIMIT %s"
    )
    params = (int(older_than_s), *([consumer] if consumer else []), int(chunk))
    total = 0
    while True:
        gone = execute(conn, sql, params)
        conn.commit()
        total += gone
        if gone < chunk:
            return total


def sqs_batch(
    event: Mapping[str, Any],
    begin: Callable[[], Any],
    handler: Callable[[Any, dict[str, Any]], None],
    consumer: str = DEFAULT_CONSUMER,
    table: str = DEFAULT_TABLE,
) -> dict[str, list[dict[str, str]]]:
    """Handle an SQS-triggered Lambda's batch through the inbox; the partial batch response.

    ``begin()`` opens a transaction (``engine.begin``); each record's event is
    recorded and handled in one, a failure lists the record in
    ``batchItemFailures`` and SQS delivers it again. From a FIFO queue, every
    record after a failure is listed too, so a group never skips ahead. Turn on
    ``ReportBatchItemFailures`` on the event source mapping.
    """
    failures: list[dict[str, str]] = []
    for sqs_record in _records(event):
        if failures and str(sqs_record.get("eventSourceARN", "")).endswith(".fifo"):
            failures.append({"itemIdentifier": sqs_record["messageId"]})
            continue
        try:
            _handle(sqs_record, begin, handler, consumer, table)
        except Exception:
            log.exception("inbox: message %s failed; SQS will deliver it again", sqs_record.get("messageId"))
            failures.append({"itemIdentifier": sqs_record["messageId"]})
    return {"batchItemFailures": failures}


def _records(event: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    records = event.get("Records")
    return records if isinstance(records, list) else []


def _handle(
    sqs_record: Mapping[str, Any],
    begin: Callable[[], Any],
    handler: Callable[[Any, dict[str, Any]], None],
    consumer: str,
    table: str,
) -> None:
    message = json.loads(sqs_record["body"])
    if isinstance(message, dict) and message.get("Type") == "Notification" and "Message" in message:
        message = json.loads(message["Message"])  # an SNS subscription without raw message delivery
    if not isinstance(message, dict) or not isinstance(message.get("id"), str):
        raise ValueError("the message is not an outbox event with an id")
    with begin() as conn:
        if record(conn, message["id"], consumer, table):
            handler(conn, message)


def create(database_url: str, table: str = DEFAULT_TABLE) -> None:
    """``outbox-triggers inbox create``: create the inbox table in the consumer's database."""
    from outbox_triggers import database

    eng = database.engine(database_url)
    try:
        with database.connect(eng) as conn:
            conn.exec_driver_sql(ddl(table).replace("%", "%%"))
            conn.commit()
    finally:
        eng.dispose()


def purge_database(database_url: str, older_than_s: int, table: str = DEFAULT_TABLE) -> int:
    """``outbox-triggers inbox purge``: :func:`purge` on the consumer's database."""
    from outbox_triggers import database

    eng = database.engine(database_url)
    try:
        with database.connect(eng) as conn:
            return purge(conn, older_than_s, table)
    finally:
        eng.dispose()
