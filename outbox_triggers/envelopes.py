"""Message envelopes: the toolkit's own (``native``), Debezium's and Maxwell's.

The trigger writes the native message; ``native`` destinations get those
bytes untouched. ``debezium`` and ``maxwell`` destinations get the same
change re-shaped, so a consumer written for either needs no change. The
extras every message carries (event id and type, aggregate, capture version)
travel in Debezium's ``source`` block and as top-level fields in Maxwell's.

A body that is not a change event (not JSON, not an object, an unknown
``op``, images that are not objects, an unreadable ``ts``) raises ValueError,
KeyError or TypeError; the relay dead-letters such an event with the reason.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from outbox_triggers import __version__

FORMATS = ("native", "debezium", "maxwell")
_DEBEZIUM_OP = {"insert": "c", "update": "u", "delete": "d"}


def formatter(name: str, database: str) -> Callable[[str], str] | None:
    """The body transform for envelope ``name`` (None for ``native``: bytes pass untouched)."""
    if name == "debezium":
        return lambda body: _dump(debezium(change(body), database))
    if name == "maxwell":
        return lambda body: _dump(maxwell(change(body), database))
    return None


def change(body: str) -> dict[str, Any]:
    """The native event in ``body``, checked to be a change event an envelope can be built from."""
    event = json.loads(body)
    if not isinstance(event, dict):
        raise ValueError(f"the event is a JSON {type(event).__name__}, not an object")
    op = event["op"]
    if op not in _DEBEZIUM_OP:
        raise ValueError(f"unknown op {op!r} (insert, update or delete)")
    for image in ("before", "after"):
        if not isinstance(event[image], dict | None):
            raise ValueError(f"{image!r} is a JSON {type(event[image]).__name__}, not an object or null")
    if not isinstance(event["id"], str) or not isinstance(event["table"], str):
        raise ValueError("'id' and 'table' must be strings")
    _millis(event["ts"])
    return event


def debezium(event: dict[str, Any], database: str) -> dict[str, Any]:
    """Debezium's change-event value: before, after, source, op (c/u/d), ts_ms."""
    return {
        "before": event["before"],
        "after": event["after"],
        "source": {
            "version": __version__,
            "connector": "outbox-triggers",
            "name": "outbox-triggers",
            "ts_ms": _millis(event["ts"]),
            "snapshot": "false",
            "db": database,
            "table": event["table"],
            **_extras(event),
        },
        "op": _DEBEZIUM_OP[event["op"]],
        "ts_ms": int(time.time() * 1000),
        "transaction": None,
    }


def maxwell(event: dict[str, Any], database: str) -> dict[str, Any]:
    """Maxwell's JSON: database, table, type, ts (seconds), data, and old holding only changed columns."""
    op, before, after = event["op"], event["before"], event["after"]
    message: dict[str, Any] = {
        "database": database,
        "table": event["table"],
        "type": op,
        "ts": _millis(event["ts"]) // 1000,
        "commit": True,
        "data": before if op == "delete" else after,
    }
    if op == "update" and before is not None:
        after = after or {}
        message["old"] = {k: v for k, v in before.items() if after.get(k) != v or k not in after}
    return {**message, **_extras(event)}


def _extras(event: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": event["id"],
        "event_type": event.get("event_type"),
        "aggregate_type": event.get("aggregate_type"),
        "aggregate_id": event.get("aggregate_id"),
        "version": event.get("version"),
    }


def _millis(ts: str) -> int:
    """Milliseconds since the epoch of the native ``ts`` (UTC); ValueError (or TypeError) if it isn't one."""
    moment = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def _dump(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
