"""Application events: write a domain event into the events table, in the caller's transaction.

:func:`emit` is the Python side of the outbox pattern as most teams write it:
the service changes its rows and writes ``OrderPaid`` in the same
transaction, and the relay publishes it with everything else. The event is a
row of the same events table the triggers write, so a rollback discards it, a
commit publishes it, and it is ordered with the trigger events by ``seq``.

The row (see the README, "Application events"):

- ``table_name``: the aggregate type;
- ``key_hash``: CRC32 of the aggregate type and id, joined by ``CHAR(31)``,
  exactly as a trigger hashes a row of a table with that name and a one-column
  key of that value, so per-key queues and relay partitions follow the aggregate;
- ``payload``: ``{"id", "op": "event", "event_type", "aggregate_type",
  "aggregate_id", "payload", "headers", "ts"}``.

Values JSON cannot hold are encoded as the triggers encode the matching
column types: Decimal as a string, datetime as ISO-8601 (UTC with ``Z`` when
it has a time zone), date, time, UUID as strings, bytes as padded base64.
Anything else is refused with :class:`~outbox_triggers.errors.EmitError`,
naming where in the payload it sits, before anything is written.

This module imports no SQLAlchemy: it works with a SQLAlchemy ``Connection``
or ``Session`` (through duck typing) and with any DB-API connection whose
driver takes ``%s`` parameters (PyMySQL, mysqlclient, mysql-connector).
"""

from __future__ import annotations

import base64
import json
import math
import uuid
import zlib
from collections.abc import Mapping
from datetime import date, datetime, time, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

from outbox_triggers import identifiers
from outbox_triggers.errors import EmitError
from outbox_triggers.event_size import ENVELOPE_HEADROOM, MIB

__all__ = ["DEFAULT_EVENTS_TABLE", "EVENT_OP", "MAX_EVENT_BYTES", "emit", "encode", "event_row", "insert_sql"]

DEFAULT_EVENTS_TABLE = "outbox_events"
MAX_EVENT_BYTES = MIB - ENVELOPE_HEADROOM
"""The triggers' default ``max_event_bytes``: what SQS and Kinesis take, less room for attributes."""
EVENT_OP = "event"
MAX_NAME_CHARS = 64  # aggregate type and event type: the width of the events table's table_name
MAX_ID_CHARS = 255
MAX_DEPTH = 64


def emit(
    conn: Any,
    *,
    aggregate_type: str,
    aggregate_id: str | int | uuid.UUID,
    event_type: str,
    payload: Any = None,
    headers: Mapping[str, Any] | None = None,
    events_table: str = DEFAULT_EVENTS_TABLE,
    max_event_bytes: int = MAX_EVENT_BYTES,
) -> str:
    """Write one application event in ``conn``'s current transaction and return its id.

    ``conn`` is a SQLAlchemy ``Connection`` or ``Session``, or a DB-API
    connection. Nothing is committed here: the caller's commit publishes the
    event, its rollback discards it. Raises EmitError, before writing
    anything, for a value JSON can't hold, a name too long or an event larger
    than ``max_event_bytes``.
    """
    table_name, key_hash, body, event_id = event_row(
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        event_type=event_type,
        payload=payload,
        headers=headers,
        max_event_bytes=max_event_bytes,
    )
    execute(conn, insert_sql(events_table), (table_name, key_hash, body))
    return event_id


@lru_cache(maxsize=64)
def insert_sql(events_table: str = DEFAULT_EVENTS_TABLE) -> str:
    """The INSERT :func:`emit` runs, with ``%s`` placeholders for table name, key hash and payload."""
    quoted = identifiers.quote(identifiers.check(events_table, "events_table")).replace("%", "%%")
    return f"INSERT INTO {quoted} (`table_name`, `key_hash`, `payload`) VALUES (%s, %s, %s)"  # noqa: S608


def event_row(
    *,
    aggregate_type: str,
    aggregate_id: str | int | uuid.UUID,
    event_type: str,
    payload: Any = None,
    headers: Mapping[str, Any] | None = None,
    max_event_bytes: int = MAX_EVENT_BYTES,
    event_id: str | None = None,
    ts: datetime | None = None,
) -> tuple[str, int, str, str]:
    """The events-table row of an application event: (table_name, key_hash, payload, event id)."""
    _check_name("aggregate_type", aggregate_type)
    _check_name("event_type", event_type)
    key = _aggregate_id(aggregate_id)
    event_id = event_id or str(uuid.uuid4())
    moment = (ts or datetime.now(timezone.utc)).astimezone(timezone.utc)
    event = {
        "id": event_id,
        "op": EVENT_OP,
        "event_type": event_type,
        "aggregate_type": aggregate_type,
        "aggregate_id": key,
        "payload": encode(payload, "payload"),
        "headers": _headers(headers),
        "ts": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    body = json.dumps(event, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))
    size = len(body.encode("utf-8"))
    if size > max_event_bytes:
        raise EmitError(
            f"event {event_type!r} of {aggregate_type} {key!r} is {size} bytes, more than max_event_bytes "
            f"({max_event_bytes}): make the payload smaller, or carry a reference to the data instead"
        )
    return aggregate_type, key_hash(aggregate_type, key), body, event_id


def key_hash(aggregate_type: str, aggregate_id: str | int) -> int:
    """CRC32 of type and id joined by CHAR(31): what a trigger writes for a one-column key of that value."""
    return zlib.crc32(f"{aggregate_type}\x1f{aggregate_id}".encode())


def encode(value: Any, where: str = "payload", depth: int = 0) -> Any:
    """``value`` as plain JSON values; EmitError naming ``where`` for anything JSON can't hold."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EmitError(f"{where}: {value!r} is not a JSON number; pass None or a string")
        return value
    if depth >= MAX_DEPTH:
        raise EmitError(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, Mapping):
        return {_key(k, where): encode(v, f"{where}.{k}", depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    return _scalar(value, where)


def _scalar(value: Any, where: str) -> Any:
    """The documented encodings of the values JSON has no type for."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise EmitError(f"{where}: Decimal {value} is not a number JSON can carry")
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return value.astimezone(timezone.utc).replace(tzinfo=None).isoformat() + "Z"
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise EmitError(
        f"{where}: a {type(value).__name__} is not JSON; pass str, int, float, bool, None, a list or a dict "
        "of them, or Decimal, datetime, date, time, UUID or bytes (see the README, 'Application events')"
    )


def _key(key: Any, where: str) -> str:
    if not isinstance(key, str):
        raise EmitError(f"{where}: key {key!r} is a {type(key).__name__}; JSON object keys are strings")
    return key


def _headers(headers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Headers: a flat mapping of names to scalars (they can become message attributes)."""
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise EmitError(f"headers: expected a mapping of names to values, got a {type(headers).__name__}")
    encoded = encode(dict(headers), "headers")
    for name, value in encoded.items():
        if isinstance(value, dict | list):
            raise EmitError(f"headers.{name}: a header is a single value, not a JSON {type(value).__name__}")
    return dict(encoded)


def _check_name(what: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise EmitError(f"{what}: expected a non-empty string, got {value!r}")
    if len(value) > MAX_NAME_CHARS:
        raise EmitError(f"{what}: {value[:20]!r}… is {len(value)} characters; at most {MAX_NAME_CHARS}")


def _aggregate_id(value: Any) -> str | int:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EmitError(f"aggregate_id: expected a string, an integer or a UUID, got {value!r}")
    if isinstance(value, str) and not value:
        raise EmitError("aggregate_id: expected a non-empty string")
    if len(str(value)) > MAX_ID_CHARS:
        raise EmitError(f"aggregate_id: {len(str(value))} characters; at most {MAX_ID_CHARS}")
    return value


def execute(conn: Any, sql: str, params: tuple[Any, ...]) -> int:
    """Run ``sql`` (``%s`` placeholders) with bound ``params`` in ``conn``'s transaction; rows it changed.

    ``conn`` is a SQLAlchemy Connection or Session, or a DB-API connection.
    """
    if hasattr(conn, "exec_driver_sql"):  # SQLAlchemy Connection
        return int(conn.exec_driver_sql(sql, params).rowcount)
    if hasattr(conn, "get_bind") and callable(getattr(conn, "connection", None)):  # SQLAlchemy Session
        return int(conn.connection().exec_driver_sql(sql, params).rowcount)
    if callable(getattr(conn, "cursor", None)):  # DB-API
        cursor = conn.cursor()
        try:
            cursor.execute(sql, params)
            return int(cursor.rowcount)
        finally:
            cursor.close()
    else:
        raise EmitError(
            f"emit: a {type(conn).__name__} is not a SQLAlchemy Connection or Session, "
            "nor a DB-API connection"
        )
