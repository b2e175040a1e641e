"""Amazon EventBridge: one ``PutEvents`` request per call, at most 10 entries.

Each event goes to ``event_bus_name`` (default ``default``) with ``Detail`` =
the message body (every envelope is a JSON object), ``Source`` = the
configured ``source`` or the table name, and ``DetailType`` = the configured
``detail_type`` or the event type (which defaults to the operation). Rules
match on those. EventBridge promises no order.

Size is counted as EventBridge does: Source + DetailType + Detail, in UTF-8
bytes, at most ``max_batch_bytes`` (default 256 KiB, up to 1 MiB) per entry and
per request. Per-entry ``ThrottlingException`` and ``InternalFailure`` are
retried; any other error code (``MalformedDetail``, ``InvalidArgument``, ...)
is a permanent reject.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from outbox_triggers.defaults import AWS_TIMEOUTS, Timeouts
from outbox_triggers.envelopes.native import APPLICATION
from outbox_triggers.errors import DestinationError
from outbox_triggers.publishers.aws import (
    by_position,
    client,
    describe,
    event_fields,
    failed_all,
    headroom,
    sized_entries,
    utf8_len,
)
from outbox_triggers.publishers.base import Message, PublishResult
from outbox_triggers.spec import Destination

MAX_ENTRIES = 10
DEFAULT_BYTES = 262_144
DEFAULT_BUS = "default"
HEADER_RESERVE = 512
RETRYABLE = frozenset({"ThrottlingException", "InternalFailure", "InternalException"})


class EventBridgePublisher:
    """Publishes to one EventBridge event bus."""

    max_entries = MAX_ENTRIES

    def __init__(
        self,
        name: str,
        events: Any,
        event_bus_name: str = DEFAULT_BUS,
        source: str | None = None,
        detail_type: str | None = None,
        max_batch_bytes: int | None = None,
        format: str = "native",
    ) -> None:
        self.name = name
        self.format = format
        self.event_bus_name = event_bus_name
        self.source = source
        self.detail_type = detail_type
        self.limit = self.max_message_bytes = max_batch_bytes or DEFAULT_BYTES
        self.max_request_bytes = headroom(self.limit, MAX_ENTRIES, HEADER_RESERVE)
        self._events = events

    @classmethod
    def from_destination(
        cls, destination: Destination, max_in_flight: int, timeouts: Timeouts = AWS_TIMEOUTS
    ) -> EventBridgePublisher:
        """Build from a spec destination of type ``eventbridge``."""
        options = destination.options
        return cls(
            destination.name,
            client("events", max_in_flight, timeouts),
            options.get("event_bus_name", DEFAULT_BUS),
            options.get("source"),
            options.get("detail_type"),
            options.get("max_batch_bytes"),
            destination.format,
        )

    def check(self) -> None:
        """Verify the event bus exists."""
        try:
            self._events.describe_event_bus(Name=self.event_bus_name)
        except Exception as exc:
            raise DestinationError(
                f"destination {self.name!r}: EventBridge bus is not usable: {describe(exc)}"
            ) from None

    def send(self, messages: Sequence[Message]) -> PublishResult:
        """One PutEvents; throttled or internally failed entries are retried, the rest rejected."""
        limits = (self.max_message_bytes, self.limit)
        kept, result = sized_entries(messages, self._entry, _entry_bytes, limits, "source and detail type")
        if not kept:
            return result
        sent = [m for m in messages if m.seq not in result.rejected and m.seq not in result.failed]
        try:
            response = self._events.put_events(Entries=kept)
        except Exception as exc:
            result.merge(failed_all(sent, exc))
            return result
        result.merge(by_position(sent, response.get("Entries", []), RETRYABLE))
        return result

    def close(self) -> None:
        """boto3 clients need no closing."""

    def _entry(self, message: Message) -> dict[str, Any]:
        """The PutEvents entry for one message."""
        fields = event_fields(message.body if self.format == "cloudevents" else message.native)
        if self.format == "cloudevents":  # a CloudEvent's source and type, the whole event as the detail
            source, detail_type = str(fields["source"]), str(fields["type"])
        else:
            named = fields.get("aggregate_type") if fields.get("op") == APPLICATION else fields.get("table")
            source = str(named or message.table)
            detail_type = str(fields.get("event_type") or fields.get("op"))
        return {
            "EventBusName": self.event_bus_name,
            "Source": self.source or source,
            "DetailType": self.detail_type or detail_type,
            "Detail": message.body,
        }


def _entry_bytes(entry: dict[str, Any]) -> int:
    """The entry's size as EventBridge counts it: Source + DetailType + Detail."""
    return utf8_len(entry["Source"]) + utf8_len(entry["DetailType"]) + utf8_len(entry["Detail"])
