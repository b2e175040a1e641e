"""The native event as the envelopes read it, and the JSON writing they share.

The trigger writes the native message; ``native`` destinations get its bytes
untouched. The other formats parse it with :func:`change`. A body that is
not an event (not JSON, not an object, an unknown ``op``, images that are not
objects, an unreadable ``ts``) raises ValueError, KeyError or TypeError; the
relay dead-letters such an event with the reason.

Besides row changes (``insert``, ``update``, ``delete``) the events table
holds backfill reads (``read``) and their markers (``snapshot_start``,
``snapshot_end``), and application events (``event``).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

ROW_OPS = ("insert", "update", "delete", "read")
MARKERS = ("snapshot_start", "snapshot_end")
APPLICATION = "event"
OPS = (*ROW_OPS, *MARKERS, APPLICATION)


class Raw(str):
    """JSON text written as is (a DECIMAL's digits as a JSON number, keeping its scale)."""

    __slots__ = ()


def change(body: str) -> dict[str, Any]:
    """The native event in ``body``, checked to be an event an envelope can be built from."""
    event = json.loads(body)
    if not isinstance(event, dict):
        raise ValueError(f"the event is a JSON {type(event).__name__}, not an object")
    op = event["op"]
    if op not in OPS:
        raise ValueError(f"unknown op {op!r} ({', '.join(OPS)})")
    if not isinstance(event["id"], str):
        raise ValueError("'id' must be a string")
    if op == APPLICATION:
        return event
    for image in ("before", "after"):
        if not isinstance(event[image], dict | None):
            raise ValueError(f"{image!r} is a JSON {type(event[image]).__name__}, not an object or null")
    if not isinstance(event["table"], str):
        raise ValueError("'table' must be a string")
    millis(event["ts"])
    return event


def millis(ts: str) -> int:
    """Milliseconds since the epoch of the native ``ts`` (UTC); ValueError (or TypeError) if it isn't one."""
    return micros(ts) // 1000


def micros(ts: str) -> int:
    """Microseconds since the epoch of a native UTC time ``…THH:MM:SS[.f]Z``."""
    text = ts[:-1] if ts.endswith("Z") else ts
    moment = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def extras(event: dict[str, Any]) -> dict[str, Any]:
    """The toolkit's fields every envelope can carry: event id and type, aggregate, capture version."""
    fields = {
        "event_id": event["id"],
        "event_type": event.get("event_type"),
        "aggregate_type": event.get("aggregate_type"),
        "aggregate_id": event.get("aggregate_id"),
        "version": event.get("version"),
    }
    if "backfill" in event:
        fields["backfill"] = event["backfill"]
    return fields


def dumps(value: Any) -> str:
    """Compact JSON with non-ASCII kept; :class:`Raw` strings go out as their text."""
    return "".join(_encode(value))


def _encode(value: Any) -> Any:
    if isinstance(value, Raw):
        yield str(value)
    elif isinstance(value, dict) and _has_raw(value):
        yield "{"
        for i, (k, v) in enumerate(value.items()):
            yield ("," if i else "") + _dump(k) + ":"
            yield from _encode(v)
        yield "}"
    elif isinstance(value, list) and any(isinstance(v, Raw | dict | list) for v in value):
        yield "["
        for i, v in enumerate(value):
            if i:
                yield ","
            yield from _encode(v)
        yield "]"
    else:
        yield _dump(value)


def _has_raw(value: dict[str, Any]) -> bool:
    return any(
        isinstance(v, Raw) or (isinstance(v, dict) and _has_raw(v)) or isinstance(v, list)
        for v in value.values()
    )


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
