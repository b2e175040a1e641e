"""Amazon SNS: one ``PublishBatch`` request per call, at most 10 entries within the topic's size limit.

Every message carries the String message attributes ``table``, ``op`` and
``event_type``, so subscription filter policies can select on them. A
``.fifo`` topic also gets ``MessageGroupId`` = table + key (SNS keeps each
key's order, and hands the group id on to FIFO queues) and
``MessageDeduplicationId`` = the event id. Standard topics promise no order.

The topic's ``MaximumMessageSize`` (256 KiB unless set, at most 1 MiB) bounds
each message and the whole request, attributes included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from outbox_triggers.defaults import AWS_TIMEOUTS, Timeouts
from outbox_triggers.envelopes.attributes import binary, sqs_attributes
from outbox_triggers.envelopes.native import APPLICATION
from outbox_triggers.errors import DestinationError
from outbox_triggers.publishers.aws import (
    MAX_ATTRIBUTES,
    client,
    deduplication_id,
    describe,
    event_fields,
    failed_all,
    group_key,
    groups_by_aggregate,
    header_attributes,
    headroom,
    sized_entries,
    utf8_len,
)
from outbox_triggers.publishers.base import Message, PublishResult
from outbox_triggers.spec import Destination

MAX_ENTRIES = 10
SNS_DEFAULT_BYTES = 262_144
ATTRIBUTE_RESERVE = 512
RETRYABLE = frozenset(
    {"Throttled", "ThrottlingException", "KMSThrottling", "InternalError", "InternalFailure"}
)


class SnsPublisher:
    """Publishes to one SNS topic."""

    max_entries = MAX_ENTRIES
    binary = False
    """CloudEvents in binary mode (``cloudevents: {mode: binary}``)."""

    def __init__(
        self, name: str, topic_arn: str, sns: Any, max_batch_bytes: int | None = None, format: str = "native"
    ) -> None:
        self.name = name
        self.format = format
        self.topic_arn = topic_arn
        self.fifo = self.ordered = topic_arn.endswith(".fifo")
        self._configured_max = max_batch_bytes
        self._sns = sns
        self.by_aggregate = False
        self._limit(max_batch_bytes or SNS_DEFAULT_BYTES)

    @classmethod
    def from_destination(
        cls, destination: Destination, max_in_flight: int, timeouts: Timeouts = AWS_TIMEOUTS
    ) -> SnsPublisher:
        """Build from a spec destination of type ``sns``."""
        options = destination.options
        sns = client("sns", max_in_flight, timeouts)
        publisher = cls(
            destination.name, options["topic_arn"], sns, options.get("max_batch_bytes"), destination.format
        )
        publisher.by_aggregate = publisher.fifo and groups_by_aggregate(options)
        publisher.binary = destination.format_options.get("mode") == "binary"
        return publisher

    def check(self) -> None:
        """Verify the topic exists and learn its size limit."""
        try:
            attributes = self._sns.get_topic_attributes(TopicArn=self.topic_arn)["Attributes"]
        except Exception as exc:
            raise DestinationError(
                f"destination {self.name!r}: SNS topic is not usable: {describe(exc)}"
            ) from None
        topic_max = int(attributes.get("MaximumMessageSize", SNS_DEFAULT_BYTES))
        self._limit(min(self._configured_max or topic_max, topic_max))

    def send(self, messages: Sequence[Message]) -> PublishResult:
        """One PublishBatch; per-entry sender faults are rejected for good, the rest retried."""
        kept, result = sized_entries(
            messages, self._entry, _entry_bytes, (self.max_message_bytes, self.limit), "message attributes"
        )
        if not kept:
            return result
        sent = [m for m in messages if m.seq not in result.rejected and m.seq not in result.failed]
        try:
            response = self._sns.publish_batch(TopicArn=self.topic_arn, PublishBatchRequestEntries=kept)
        except Exception as exc:
            result.merge(failed_all(sent, exc))
            return result
        result.merge(_outcome(sent, response))
        return result

    def close(self) -> None:
        """boto3 clients need no closing."""

    def _limit(self, limit: int) -> None:
        self.limit = self.max_message_bytes = limit
        self.max_request_bytes = headroom(limit, MAX_ENTRIES, ATTRIBUTE_RESERVE)

    def _entry(self, message: Message) -> dict[str, Any]:
        fields = event_fields(message.native)
        extra = binary(message.body) if self.binary else sqs_attributes(self.format, fields)
        entry: dict[str, Any] = {
            "Id": str(message.seq),
            "Message": message.native if self.binary else message.body,
            "MessageAttributes": {**attributes(fields, message.table, MAX_ATTRIBUTES - len(extra)), **extra},
        }
        if self.fifo:
            entry["MessageGroupId"] = group_key(message.table, fields, self.by_aggregate)
            entry["MessageDeduplicationId"] = deduplication_id(fields)
        return entry


def attributes(fields: dict[str, Any], table: str, room: int = MAX_ATTRIBUTES) -> dict[str, dict[str, str]]:
    """The ``table``, ``op`` and ``event_type`` message attributes, for filter policies.

    An application event also carries ``aggregate_type`` and as many of its
    headers as ``room`` (SNS takes 10 attributes at most) leaves (see
    :func:`~outbox_triggers.publishers.aws.header_attributes`).
    """
    op = str(fields.get("op", ""))
    values = {
        "table": str(fields.get("table") or table),
        "op": op,
        "event_type": str(fields.get("event_type") or op),
    }
    if op == APPLICATION:
        values["aggregate_type"] = str(fields.get("aggregate_type") or "")
        values.update(header_attributes(fields.get("headers"), room - len(values)))
    return {name: {"DataType": "String", "StringValue": value} for name, value in values.items() if value}


def _entry_bytes(entry: dict[str, Any]) -> int:
    """The entry's size as SNS counts it: the message plus each attribute's name, type and value."""
    return utf8_len(entry["Message"]) + sum(
        utf8_len(name) + utf8_len(value["DataType"]) + utf8_len(value["StringValue"])
        for name, value in entry["MessageAttributes"].items()
    )


def _outcome(messages: Sequence[Message], response: dict[str, Any]) -> PublishResult:
    """Per entry: successful, failed (throttling, server faults, no answer) or rejected (sender faults)."""
    result = PublishResult(accepted=[int(e["Id"]) for e in response.get("Successful", [])])
    for entry in response.get("Failed", []):
        code = str(entry.get("Code"))
        reason = f"{code}: {entry.get('Message', '')}"
        permanent = entry.get("SenderFault") and code not in RETRYABLE
        (result.rejected if permanent else result.failed)[int(entry["Id"])] = reason
    answered = {*result.accepted, *result.failed, *result.rejected}
    for message in messages:
        if message.seq not in answered:
            result.failed[message.seq] = "SNS gave no result for this entry"
    return result
