"""CloudEvents 1.0 in JSON structured mode, with the native event as ``data``.

``id`` is the event id; ``source`` defaults to ``/mysql/<db>/<table>`` and
``type`` to the event type (both configurable on the destination);
``subject`` is the key as compact JSON text; ``time`` the change time (RFC 3339, UTC);
``datacontenttype`` is ``application/json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from outbox_triggers.envelopes.native import APPLICATION, millis

OPTIONS = ("source", "type")
"""The attributes a destination may fix; ``mode: binary`` is the publisher's business (see attributes.py)."""


@dataclass(frozen=True)
class Options:
    """The CloudEvents attributes a destination may fix: ``source`` and ``type`` (None: the defaults)."""

    source: str | None = None
    type: str | None = None

    @classmethod
    def from_mapping(cls, options: Mapping[str, Any]) -> Options:
        """Options from a destination's ``cloudevents:`` block (validated by the spec's schema)."""
        return cls(**{k: str(v) for k, v in options.items() if k in OPTIONS})


def structured(event: dict[str, Any], database: str, options: Options = Options()) -> dict[str, Any]:
    """The structured-mode CloudEvent for a native ``event``."""
    application = event["op"] == APPLICATION
    table = (event.get("aggregate_type") or "events") if application else event.get("table")
    subject = event.get("aggregate_id") if application else event.get("key")
    message: dict[str, Any] = {
        "specversion": "1.0",
        "id": event["id"],
        "source": options.source or f"/mysql/{database}/{table}",
        "type": options.type or str(event.get("event_type") or event["op"]),
    }
    if subject is not None:
        message["subject"] = (
            subject if isinstance(subject, str) else json.dumps(subject, separators=(",", ":"))
        )
    if event.get("ts"):
        message["time"] = event["ts"]
    message["datacontenttype"] = "application/json"
    message["data"] = event
    return message


def structured_text(body: str, event: dict[str, Any], database: str, options: Options = Options()) -> str:
    """:func:`structured` as JSON text; ``data`` is the native ``body`` itself, not parsed and re-written."""
    head = structured(event, database, options)
    del head["data"]
    millis(event["ts"])  # time must be a time
    return json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1] + ',"data":' + body + "}"
