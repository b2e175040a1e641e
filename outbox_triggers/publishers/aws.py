"""What every AWS publisher shares: boto3 clients, error descriptions, FIFO ids.

AWS configuration is boto3's own: the credential chain, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` and the per-service
``AWS_ENDPOINT_URL_<SERVICE>`` variables, and the retry mode.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from outbox_triggers.errors import DestinationError
from outbox_triggers.publishers.base import Message, PublishResult

_GROUP_ID_OK = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")


def client(service: str, max_in_flight: int) -> Any:
    """A boto3 client whose connection pool is as large as the requests in flight."""
    try:
        return boto3.session.Session().client(
            service, config=botocore.config.Config(max_pool_connections=max(10, max_in_flight))
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


def event_fields(body: str) -> dict[str, Any]:
    """The parsed message (only FIFO ids and attributes need it)."""
    return dict(json.loads(body))


def ordering_key(table: str, body: str) -> str:
    """``table:key`` for FIFO group ids and partition keys; hashed when not a valid group id."""
    key = json.dumps(event_fields(body).get("key"), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    readable = f"{table}:{key}"
    if _GROUP_ID_OK.match(readable):
        return readable
    return "sha256:" + hashlib.sha256(readable.encode("utf-8")).hexdigest()


def headroom(limit: int, entries: int, reserve: int) -> int:
    """The request size to plan with (bodies only), leaving ``reserve`` bytes per entry for what AWS adds."""
    return max(limit - entries * reserve, limit // 2)


def fit_request(
    sized: Sequence[tuple[Message, int]], max_message: int, max_request: int, counted: str
) -> tuple[list[Message], PublishResult]:
    """The messages one request can carry, by their size as AWS counts it (the body plus ``counted``).

    A message over ``max_message`` is rejected for good. From the first message
    that would take the request over ``max_request`` on, the rest fail for now,
    so the ones sent stay in order and the others go out in a later request.
    """
    kept: list[Message] = []
    result = PublishResult()
    total = 0
    for index, (message, size) in enumerate(sized):
        if size > max_message:
            result.rejected[message.seq] = (
                f"message is {size} bytes with its {counted}; the destination accepts at most {max_message}"
            )
        elif total + size > max_request:
            reason = f"the request would exceed {max_request} bytes with the {counted}; sent again later"
            result.failed.update((m.seq, reason) for m, _ in sized[index:])
            break
        else:
            kept.append(message)
            total += size
    return kept, result


def by_position(
    messages: Sequence[Message], answers: Sequence[Mapping[str, Any]], retryable: frozenset[str]
) -> PublishResult:
    """Outcomes answered in request order (Kinesis, EventBridge): ``retryable`` codes fail, others reject."""
    result = PublishResult()
    for index, message in enumerate(messages):
        answer = answers[index] if index < len(answers) else _NO_ANSWER
        code = answer.get("ErrorCode")
        if not code:
            result.accepted.append(message.seq)
            continue
        retry = code in retryable or answer is _NO_ANSWER
        (result.failed if retry else result.rejected)[message.seq] = (
            f"{code}: {answer.get('ErrorMessage', '')}"
        )
    return result


_NO_ANSWER = {"ErrorCode": "NoResult", "ErrorMessage": "the service gave no result for this entry"}


def failed_all(messages: Sequence[Message], exc: Exception) -> PublishResult:
    """Every message of a request whose call failed as a whole: retried later."""
    reason = describe(exc)
    return PublishResult(failed={m.seq: reason for m in messages})


def utf8_len(text: str) -> int:
    """Bytes of ``text`` in UTF-8, as AWS counts sizes."""
    return len(text.encode("utf-8"))
