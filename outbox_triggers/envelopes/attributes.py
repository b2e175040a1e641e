"""What a re-enveloped message also carries where the destination has a place for it (message attributes).

The envelope's body may no longer hold the event id (``extras: false``,
Debezium's Outbox Event Router payload), so destinations with message
attributes (SQS, SNS) carry it beside the body:

- every format but ``native``: ``event_id``;
- ``debezium``: ``key``, the record key (the key columns as compact JSON), as Kafka would carry it;
  for an application event, the Outbox Event Router's ``id`` and ``eventType`` headers instead;
- ``cloudevents``: nothing more (the attributes are in the body).

``native`` adds nothing: its body is the whole event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from outbox_triggers.envelopes.native import APPLICATION


def for_format(fmt: str, fields: Mapping[str, Any]) -> dict[str, str]:
    """The attributes (name -> string value) a message of format ``fmt`` carries for native ``fields``."""
    if fmt == "native":
        return {}
    out = {"event_id": str(fields.get("id", ""))}
    if fmt == "debezium":
        if fields.get("op") == APPLICATION:
            out.update(id=str(fields.get("id", "")), eventType=str(fields.get("event_type") or ""))
        elif fields.get("key") is not None:
            out["key"] = json.dumps(fields["key"], ensure_ascii=False, separators=(",", ":"))
    return {name: value for name, value in out.items() if value}


def binary(structured: str) -> dict[str, dict[str, str]]:
    """CloudEvents binary mode: the attributes of a structured-mode event as ``ce-*`` message attributes.

    The body is then the event's ``data`` (the native event); ``datacontenttype`` becomes ``content-type``.
    """
    event = json.loads(structured)
    names = {k: "content-type" if k == "datacontenttype" else f"ce-{k}" for k in event if k != "data"}
    return {names[k]: {"DataType": "String", "StringValue": str(event[k])} for k in names}


def sqs_attributes(fmt: str, fields: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The same as SQS/SNS ``MessageAttributes`` (String type)."""
    return {
        name: {"DataType": "String", "StringValue": value} for name, value in for_format(fmt, fields).items()
    }
