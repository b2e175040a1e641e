"""Amazon Kinesis Data Streams: one ``PutRecords`` request per call, at most 500 records.

Each record's partition key is table + key (:func:`~outbox_triggers.publishers.aws.ordering_key`),
so all events of one row land on one shard. That key is at most 128 ASCII
characters (it is also a valid SQS/SNS FIFO group id, hashed when it would
not be), well within Kinesis' 256.

**Order.** Kinesis keeps the order of one partition key's records within a
shard only when they are written one request after another. The relay gives
that: all events of a key share one lane, and a lane sends its requests in
sequence, holding back the key's later events once one fails. One caveat is
Kinesis' own: inside a single ``PutRecords``, a record that fails (throttled)
while a later record of the same key succeeds is written after it when
retried. Give the stream enough shards that throttling is rare, and let
consumers that must never see a row go back in time compare the event ``ts``.

Limits: a record (data + partition key) at most ``max_record_bytes``
(default 1 MiB, capped at the stream's ``MaxRecordSizeInKiB`` when it reports
one) and a request at most ``max_request_bytes`` (default 5 MiB), each up to
10 MiB. Per-record ``ProvisionedThroughputExceededException`` and
``InternalFailure`` are retried; any other error code is a permanent reject.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from outbox_triggers.defaults import AWS_TIMEOUTS, Timeouts
from outbox_triggers.errors import DestinationError
from outbox_triggers.publishers.aws import (
    by_position,
    client,
    describe,
    failed_all,
    groups_by_aggregate,
    headroom,
    ordering_key,
    sized_entries,
    utf8_len,
)
from outbox_triggers.publishers.base import Message, PublishResult
from outbox_triggers.spec import Destination

MAX_ENTRIES = 500
MAX_PARTITION_KEY = 256
DEFAULT_RECORD_BYTES = 1_048_576
DEFAULT_REQUEST_BYTES = 5 * 1_048_576
KEY_RESERVE = 128
RETRYABLE = frozenset({"ProvisionedThroughputExceededException", "InternalFailure"})
WRITABLE = ("ACTIVE", "UPDATING")


class KinesisPublisher:
    """Publishes to one Kinesis data stream, named or by ARN."""

    max_entries = MAX_ENTRIES
    ordered = True

    def __init__(
        self,
        name: str,
        stream: dict[str, str],
        kinesis: Any,
        max_record_bytes: int | None = None,
        max_request_bytes: int | None = None,
        format: str = "native",
    ) -> None:
        self.name = name
        self.format = format
        self.stream = stream
        self._configured_record = max_record_bytes
        self._request_limit = max_request_bytes or DEFAULT_REQUEST_BYTES
        self._kinesis = kinesis
        self.by_aggregate = False
        self._limits(max_record_bytes or DEFAULT_RECORD_BYTES)

    @classmethod
    def from_destination(
        cls, destination: Destination, max_in_flight: int, timeouts: Timeouts = AWS_TIMEOUTS
    ) -> KinesisPublisher:
        """Build from a spec destination of type ``kinesis`` (``stream_name`` or ``stream_arn``)."""
        options = destination.options
        stream = (
            {"StreamARN": options["stream_arn"]}
            if "stream_arn" in options
            else {"StreamName": options["stream_name"]}
        )
        publisher = cls(
            destination.name,
            stream,
            client("kinesis", max_in_flight, timeouts),
            options.get("max_record_bytes"),
            options.get("max_request_bytes"),
            destination.format,
        )
        publisher.by_aggregate = groups_by_aggregate(options)
        return publisher

    def check(self) -> None:
        """Verify the stream exists and takes writes; learn its record size limit if it reports one."""
        try:
            summary = self._kinesis.describe_stream_summary(**self.stream)["StreamDescriptionSummary"]
        except Exception as exc:
            raise DestinationError(
                f"destination {self.name!r}: Kinesis stream is not usable: {describe(exc)}"
            ) from None
        status = summary.get("StreamStatus", "ACTIVE")
        if status not in WRITABLE:
            raise DestinationError(
                f"destination {self.name!r}: Kinesis stream is {status}; wait until it is ACTIVE"
            )
        stream_max = int(summary.get("MaxRecordSizeInKiB") or DEFAULT_RECORD_BYTES // 1024) * 1024
        self._limits(min(self._configured_record or stream_max, stream_max))

    def send(self, messages: Sequence[Message]) -> PublishResult:
        """One PutRecords; throttled or internally failed records are retried, the rest rejected."""
        limits = (self.max_message_bytes, self._request_limit)
        kept, result = sized_entries(messages, self._record, _record_bytes, limits, "partition key")
        if not kept:
            return result
        sent = [m for m in messages if m.seq not in result.rejected and m.seq not in result.failed]
        try:
            response = self._kinesis.put_records(Records=kept, **self.stream)
        except Exception as exc:
            result.merge(failed_all(sent, exc))
            return result
        result.merge(by_position(sent, response.get("Records", []), RETRYABLE))
        return result

    def close(self) -> None:
        """boto3 clients need no closing."""

    def _record(self, message: Message) -> dict[str, Any]:
        return {
            "Data": message.body.encode("utf-8"),
            "PartitionKey": partition_key(message, self.by_aggregate),
        }

    def _limits(self, record_limit: int) -> None:
        self.max_message_bytes = min(record_limit, self._request_limit)
        self.max_request_bytes = headroom(self._request_limit, MAX_ENTRIES, KEY_RESERVE)


def partition_key(message: Message, by_aggregate: bool = False) -> str:
    """Table + key (or the aggregate), the same string SQS/SNS FIFO use as group id; hashed if over 256."""
    key = ordering_key(message.table, message.native, by_aggregate)
    if len(key) <= MAX_PARTITION_KEY:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _record_bytes(record: dict[str, Any]) -> int:
    """The record's size as Kinesis counts it: data plus partition key."""
    return len(record["Data"]) + utf8_len(record["PartitionKey"])
