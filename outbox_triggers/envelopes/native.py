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
import re
import secrets
from datetime import datetime
from typing import Any

ROW_OPS = ("insert", "update", "delete", "read")
MARKERS = ("snapshot_start", "snapshot_end")
APPLICATION = "event"
OPS = (*ROW_OPS, *MARKERS, APPLICATION)


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_NONCE = secrets.token_hex(8)
_MARK = f"\x01{_NONCE}:"
_MARKED = re.compile(r'"\\u0001' + _NONCE + r':((?:[^"\\]|\\.)*)"')


def raw(text: str) -> str:
    """JSON text to be written as is (a DECIMAL's digits as a JSON number, keeping its scale).

    It travels through the message as a marked string (a control character
    and a per-process random nonce no column value can guess); :func:`dumps`
    writes the JSON with the C encoder, then drops the quotes around each mark.
    """
    return _MARK + text


def is_raw(value: object) -> bool:
    """True for a value made by :func:`raw`."""
    return isinstance(value, str) and value.startswith(_MARK)


def change(body: str) -> dict[str, Any]:
    """The native event in ``body``, checked to be an event an envelope can be built from."""
    event = json.loads(body)
    if "\\u" in body and _SURROGATE_ESCAPE.search(body):  # an unpaired one can't be sent in any format
        json.dumps(event, ensure_ascii=False).encode("utf-8")
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
    return event  # an unreadable ts raises where a format reads it


def millis(ts: str) -> int:
    """Milliseconds since the epoch of the native ``ts`` (UTC); ValueError (or TypeError) if it isn't one."""
    return micros(ts) // 1000


def micros(ts: str) -> int:
    """Microseconds since the epoch of a native UTC time ``…THH:MM:SS[.f]Z``."""
    delta = datetime.fromisoformat(ts[:-1] if ts.endswith("Z") else ts) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime(1970, 1, 1)


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
    """Compact JSON with non-ASCII kept; values made by :func:`raw` go out as their text."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return _MARKED.sub(_unmark, text) if "\\u0001" in text else text


def _unmark(match: re.Match[str]) -> str:
    text = match.group(1)
    return text if "\\" not in text else str(json.loads(f'"{text}"'))
