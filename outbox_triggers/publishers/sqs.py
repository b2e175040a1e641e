"""Amazon SQS: ``SendMessageBatch`` with at most 10 entries and the queue's size limit.

AWS configuration is boto3's own: credentials chain, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_SQS`` and
the retry mode. Requests of one batch run concurrently on a bounded pool of
reused connections.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from outbox_triggers.errors import DestinationError
from outbox_triggers.publishers.base import Message, PublishResult
from outbox_triggers.spec import Destination

log = logging.getLogger(__name__)
MAX_ENTRIES = 10
SQS_MAX_BYTES = 1_048_576
DEFAULT_IN_FLIGHT = 8


def client(service: str, max_in_flight: int = DEFAULT_IN_FLIGHT) -> Any:
    """A boto3 client with a connection pool as large as the requests in flight."""
    try:
        return boto3.session.Session().client(
            service, config=botocore.config.Config(max_pool_connections=max_in_flight)
        )
    except botocore.exceptions.NoRegionError:
        raise DestinationError("no AWS region configured: set AWS_REGION (or AWS_DEFAULT_REGION)") from None


def describe(exc: Exception) -> str:
    """A one-line reason for a failed AWS call, without URLs or credentials."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip()
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return "no AWS credentials found (environment, shared config or instance role)"
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return "cannot reach the AWS endpoint (network, or AWS_ENDPOINT_URL)"
    return type(exc).__name__ + (f": {exc}" if str(exc) else "")


class SqsPublisher:
    """Publishes to one SQS queue."""

    def __init__(self, name: str, queue_url: str, sqs: Any, max_batch_bytes: int | None = None) -> None:
        self.name = name
        self.queue_url = queue_url
        self.max_bytes = max_batch_bytes or SQS_MAX_BYTES
        self._configured_max = max_batch_bytes
        self._sqs = sqs
        self._pool = ThreadPoolExecutor(DEFAULT_IN_FLIGHT, thread_name_prefix=f"sqs-{name}")

    @classmethod
    def from_destination(cls, destination: Destination) -> SqsPublisher:
        """Build from a spec destination of type ``sqs``."""
        options = destination.options
        return cls(destination.name, options["queue_url"], client("sqs"), options.get("max_batch_bytes"))

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
        self.max_bytes = min(self._configured_max or queue_max, queue_max)

    def publish(self, messages: Sequence[Message]) -> PublishResult:
        """Send ``messages`` in batches of at most 10 entries and ``max_bytes``."""
        result = PublishResult()
        ready = [m for m in messages if not self._oversize(m, result)]
        for part in self._pool.map(self._send, list(self._chunks(ready))):
            result.merge(part)
        return result

    def close(self) -> None:
        """Stop the request threads."""
        self._pool.shutdown(wait=True)

    def _oversize(self, message: Message, result: PublishResult) -> bool:
        size = len(message.body.encode("utf-8"))
        if size <= self.max_bytes:
            return False
        reason = f"message is {size} bytes; queue {self.name!r} accepts at most {self.max_bytes}"
        log.error("event %s from %s cannot be sent: %s", message.seq, message.table, reason)
        result.failed[message.seq] = reason
        return True

    def _chunks(self, messages: Sequence[Message]) -> Iterator[list[Message]]:
        chunk: list[Message] = []
        size = 0
        for message in messages:
            body = len(message.body.encode("utf-8"))
            if chunk and (len(chunk) == MAX_ENTRIES or size + body > self.max_bytes):
                yield chunk
                chunk, size = [], 0
            chunk.append(message)
            size += body
        if chunk:
            yield chunk

    def _send(self, chunk: list[Message]) -> PublishResult:
        entries = [{"Id": str(m.seq), "MessageBody": m.body} for m in chunk]
        try:
            response = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        except Exception as exc:
            reason = describe(exc)
            return PublishResult(failed={m.seq: reason for m in chunk})
        return PublishResult(
            accepted=[int(e["Id"]) for e in response.get("Successful", [])],
            failed={
                int(e["Id"]): f"{e.get('Code')}: {e.get('Message', '')}" for e in response.get("Failed", [])
            },
        )
