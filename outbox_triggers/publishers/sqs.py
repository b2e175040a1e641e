"""Amazon SQS: one ``SendMessageBatch`` request per call, at most 10 entries within the queue's size limit.

A ``.fifo`` queue gets ``MessageGroupId`` = table + key (so SQS keeps each
key's order) and ``MessageDeduplicationId`` = the event id. An application
event (``op`` ``event``) carries String message attributes ``op``,
``event_type``, ``aggregate_type`` and its headers, when they fit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from outbox_triggers.defaults import AWS_TIMEOUTS, Timeouts
from outbox_triggers.envelopes.attributes import binary, sqs_attributes
from outbox_triggers.errors import DestinationError
from outbox_triggers.publishers.aws import (
    APPLICATION_EVENT_MARK,
    client,
    deduplication_id,
    describe,
    entries,
    event_attributes,
    event_fields,
    group_key,
    groups_by_aggregate,
    headroom,
    utf8_len,
)
from outbox_triggers.publishers.base import Message, PublishResult
from outbox_triggers.spec import Destination

MAX_ENTRIES = 10
SQS_MAX_BYTES = 1_048_576
ATTRIBUTE_RESERVE = 4096
"""Bytes kept per message for its attributes (event id, record key or ce-* attributes), which SQS counts."""


class SqsPublisher:
    """Publishes to one SQS queue."""

    max_entries = MAX_ENTRIES
    binary = False
    """CloudEvents in binary mode (``cloudevents: {mode: binary}``)."""

    def __init__(
        self, name: str, queue_url: str, sqs: Any, max_batch_bytes: int | None = None, format: str = "native"
    ) -> None:
        self.name = name
        self.format = format
        self.queue_url = queue_url
        self.fifo = self.ordered = queue_url.endswith(".fifo")
        self._configured_max = max_batch_bytes
        self._limit(max_batch_bytes or SQS_MAX_BYTES)
        self._sqs = sqs
        self.by_aggregate = False

    @classmethod
    def from_destination(
        cls, destination: Destination, max_in_flight: int, timeouts: Timeouts = AWS_TIMEOUTS
    ) -> SqsPublisher:
        """Build from a spec destination of type ``sqs``."""
        options = destination.options
        sqs = client("sqs", max_in_flight, timeouts)
        publisher = cls(
            destination.name, options["queue_url"], sqs, options.get("max_batch_bytes"), destination.format
        )
        publisher.by_aggregate = publisher.fifo and groups_by_aggregate(options)
        publisher.binary = destination.format_options.get("mode") == "binary"
        return publisher

    def check(self) -> None:
        """Verify the queue exists and learn its size limit."""
        try:
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=self.queue_url, AttributeNames=["MaximumMessageSize"]
            )["Attributes"]
        except Exception as exc:
            raise DestinationError(
                f"destination {self.name!r}: SQS queue is not usable: {describe(exc)}"
            ) from None
        queue_max = int(attributes.get("MaximumMessageSize", SQS_MAX_BYTES))
        self._limit(min(self._configured_max or queue_max, queue_max))

    def _limit(self, limit: int) -> None:
        """Plan with ``limit``; message attributes (formats other than native) count toward it too."""
        if self.format == "native":
            self.max_request_bytes = self.max_message_bytes = limit
            return
        self.max_message_bytes = limit - ATTRIBUTE_RESERVE
        self.max_request_bytes = headroom(limit, MAX_ENTRIES, ATTRIBUTE_RESERVE)

    def send(self, messages: Sequence[Message]) -> PublishResult:
        """One SendMessageBatch; per-entry sender faults are rejected for good, the rest retried."""
        if self.fifo:
            built, result = entries(messages, self._entry)
        else:
            built, result = self._plain(messages), PublishResult()
        if not built:
            return result
        self._label_events(built)
        try:
            response = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=[e for _, e in built])
        except Exception as exc:
            reason = describe(exc)
            result.failed.update((m.seq, reason) for m, _ in built)
            return result
        result.accepted.extend(int(e["Id"]) for e in response.get("Successful", []))
        for entry in response.get("Failed", []):
            reason = f"{entry.get('Code')}: {entry.get('Message', '')}"
            (result.rejected if entry.get("SenderFault") else result.failed)[int(entry["Id"])] = reason
        return result

    def close(self) -> None:
        """boto3 clients need no closing."""

    def _label_events(self, built: list[tuple[Message, dict[str, Any]]]) -> None:
        """Give native application events their message attributes, as far as they fit the size limits.

        SQS counts attributes in the message and the request size; the bodies
        were sized without them, so an attribute that would overflow is left off
        (the body holds the same fields).
        """
        if self.format != "native":  # the envelope's own attributes, with room kept for them
            return
        room = self.max_request_bytes - sum(m.size for m, _ in built)
        for message, entry in built:
            if APPLICATION_EVENT_MARK not in message.native:
                continue
            labels = event_attributes(message.native)
            size = sum(utf8_len(k) + len("String") + utf8_len(v) for k, v in labels.items())
            if labels and size <= room and message.size + size <= self.max_message_bytes:
                entry["MessageAttributes"] = {
                    k: {"DataType": "String", "StringValue": v} for k, v in labels.items()
                }
                room -= size

    def _plain(self, messages: Sequence[Message]) -> list[tuple[Message, dict[str, Any]]]:
        """Entries for a standard queue: the body alone (native: nothing to parse), or with the attributes."""
        if self.format == "native":
            return [(m, {"Id": str(m.seq), "MessageBody": m.body}) for m in messages]
        return [(m, self._with_attributes(m, {"Id": str(m.seq), "MessageBody": m.body})) for m in messages]

    def _with_attributes(
        self, message: Message, entry: dict[str, Any], fields: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """``entry`` with the format's message attributes (the event id; see envelopes/attributes.py).

        ``fields``: the native event, when already parsed. CloudEvents in binary
        mode: the native event as the body, the CloudEvent's attributes as ``ce-*``.
        """
        if self.binary:
            return {**entry, "MessageBody": message.native, "MessageAttributes": binary(message.body)}
        extra = sqs_attributes(self.format, event_fields(message.native) if fields is None else fields)
        return {**entry, "MessageAttributes": extra} if extra else entry

    def _entry(self, message: Message) -> dict[str, Any]:
        """A FIFO queue's entry: group id table + key, deduplication id the event id."""
        fields = event_fields(message.native)
        entry = {
            "Id": str(message.seq),
            "MessageBody": message.body,
            "MessageGroupId": group_key(message.table, fields, self.by_aggregate),
            "MessageDeduplicationId": deduplication_id(fields),
        }
        return entry if self.format == "native" else self._with_attributes(message, entry, fields)
