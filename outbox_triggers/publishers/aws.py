"""What every AWS publisher shares: boto3 clients, error descriptions, FIFO ids, per-message entries.

AWS configuration is boto3's own: the credential chain and profiles
(``AWS_PROFILE``), ``AWS_ENDPOINT_URL`` and the per-service
``AWS_ENDPOINT_URL_<SERVICE>`` variables, and the retry settings
(``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``, or ``max_attempts`` and
``retry_mode`` in the profile). The region is ``AWS_DEFAULT_REGION``, else
``AWS_REGION`` (which ECS and Lambda set, and botocore alone does not read),
else the profile's.

Requests time out on purpose: a connection must open within the connect
timeout and each answer arrive within the read timeout. Unless
``max_attempts`` is configured, a client makes one attempt per request: the
relay's pipeline retries failed entries itself, with its own backoff, so a
stalled or failing destination shows in its logs and metrics at once, and a
stop waits at most one timeout for the requests in flight.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import botocore.session

from outbox_triggers.defaults import AWS_TIMEOUTS, Timeouts
from outbox_triggers.envelopes.native import APPLICATION
from outbox_triggers.errors import DestinationError
from outbox_triggers.publishers.base import UNREADABLE, Message, PublishResult, unreadable, without_urls

_GROUP_ID_OK = re.compile(r"^[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}$")
NO_REGION = "no AWS region configured: set AWS_REGION or AWS_DEFAULT_REGION (or a region in the AWS profile)"


def region() -> str | None:
    """``AWS_DEFAULT_REGION``, else ``AWS_REGION``; None leaves it to the profile."""
    return os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or None


def client(service: str, max_in_flight: int, timeouts: Timeouts = AWS_TIMEOUTS) -> Any:
    """A boto3 client: a pool as large as the requests in flight, set timeouts, one attempt by default."""
    core = botocore.session.get_session()
    session = boto3.session.Session(botocore_session=core, region_name=region())
    retries = None if core.get_config_variable("max_attempts") else {"total_max_attempts": 1}
    config = botocore.config.Config(
        max_pool_connections=max(10, max_in_flight),
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
        retries=retries,
    )
    try:
        return session.client(service, config=config)
    except botocore.exceptions.NoRegionError:
        raise DestinationError(NO_REGION) from None


def describe(exc: Exception) -> str:
    """A one-line reason for a failed AWS call, without URLs or credentials."""
    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        return without_urls(f"{error.get('Code', 'Error')}: {error.get('Message', '')}".strip())
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return "no AWS credentials found (environment, shared config or instance role)"
    if isinstance(exc, botocore.exceptions.NoRegionError):
        return NO_REGION
    if isinstance(exc, botocore.exceptions.ReadTimeoutError):
        return "no answer within the request timeout (ReadTimeoutError)"
    if isinstance(exc, botocore.exceptions.ConnectTimeoutError):
        return "cannot connect within the connect timeout (ConnectTimeoutError)"
    if isinstance(exc, botocore.exceptions.EndpointConnectionError):
        return "cannot reach the AWS endpoint (network, or AWS_ENDPOINT_URL)"
    if isinstance(exc, botocore.exceptions.ConnectionClosedError):
        return "the connection closed before the answer came (ConnectionClosedError)"
    return type(exc).__name__ + (f": {without_urls(str(exc))}" if str(exc) else "")


def event_fields(body: str) -> dict[str, Any]:
    """The parsed message (only FIFO ids and attributes need it); ValueError unless a JSON object."""
    fields = json.loads(body)
    if not isinstance(fields, dict):
        raise ValueError(f"the event is a JSON {type(fields).__name__}, not an object")
    return fields


def ordering_key(table: str, body: str, by_aggregate: bool = False) -> str:
    """``table:key`` for FIFO group ids and partition keys; hashed when not a valid group id.

    An application event (``op`` ``event``), or any event when ``by_aggregate``
    (a destination's ``group_by: aggregate``), is ordered by its aggregate
    instead: ``aggregate_type:aggregate_id``.
    """
    return group_key(table, event_fields(body), by_aggregate)


def group_key(table: str, fields: Mapping[str, Any], by_aggregate: bool = False) -> str:
    """:func:`ordering_key` of an event already parsed into ``fields``."""
    if by_aggregate or fields.get("op") == APPLICATION:
        return aggregate_key(fields)
    key = json.dumps(fields.get("key"), separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return fifo_id(f"{table}:{key}")


def aggregate_key(fields: Mapping[str, Any]) -> str:
    """``aggregate_type:aggregate_id`` as a FIFO group id; an id ``42`` and ``"42"`` share one group.

    A string id is taken as it is, any other as compact JSON (a composite key's object).
    """
    value = fields.get("aggregate_id")
    text = (
        value
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    )
    return fifo_id(f"{fields.get('aggregate_type')}:{text}")


MAX_ATTRIBUTES = 10  # SNS and SQS take at most 10 message attributes
_ATTRIBUTE_NAME = re.compile(
    r"^(?!aws\.|amazon\.)(?!.*\.\.)[A-Za-z0-9_\-][A-Za-z0-9_\-.]{0,255}(?<!\.)$", re.IGNORECASE
)


def header_attributes(headers: Any, room: int) -> dict[str, str]:
    """An application event's headers as String message attributes: the first ``room`` valid ones.

    Names must be valid attribute names; values become text (``true``/``false``
    for booleans); null and empty values are left out.
    """
    if not isinstance(headers, Mapping):
        return {}
    kept: dict[str, str] = {}
    for name, value in headers.items():
        if len(kept) >= room:
            break
        if value is None or value == "" or not _ATTRIBUTE_NAME.match(str(name)):
            continue
        kept[str(name)] = json.dumps(value) if isinstance(value, bool) else str(value)
    return kept


APPLICATION_EVENT_MARK = f'"op": "{APPLICATION}"'
"""In the body of every application event; a change event's body has it only in a column named op."""


def event_attributes(body: str) -> dict[str, str]:
    """An application event's message attributes: op, event type, aggregate type, then its headers.

    Empty for a change event, or a body that is not a JSON object.
    """
    try:
        fields = event_fields(body)
    except (ValueError, RecursionError):
        return {}
    if fields.get("op") != APPLICATION:
        return {}
    values = {
        "op": APPLICATION,
        "event_type": str(fields.get("event_type") or ""),
        "aggregate_type": str(fields.get("aggregate_type") or ""),
    }
    values.update(header_attributes(fields.get("headers"), MAX_ATTRIBUTES - len(values)))
    return {name: value for name, value in values.items() if value}


def groups_by_aggregate(options: Mapping[str, Any]) -> bool:
    """True when a destination's ``group_by`` option orders every event by its aggregate."""
    return options.get("group_by") == "aggregate"


def fifo_id(text: str) -> str:
    """``text`` when it is a valid FIFO group or deduplication id, else ``sha256:`` and its hash."""
    if _GROUP_ID_OK.match(text):
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def deduplication_id(fields: Mapping[str, Any]) -> str:
    """The event id, as a FIFO deduplication id; KeyError when the event has none."""
    event_id = fields["id"]
    if not isinstance(event_id, str) or not event_id:
        raise ValueError(f"the event id {event_id!r} is not a non-empty string")
    return fifo_id(event_id)


def entries(
    messages: Sequence[Message], entry: Callable[[Message], dict[str, Any]]
) -> tuple[list[tuple[Message, dict[str, Any]]], PublishResult]:
    """Each message's request entry; a message whose entry can't be built is rejected for good."""
    built: list[tuple[Message, dict[str, Any]]] = []
    result = PublishResult()
    for message in messages:
        try:
            built.append((message, entry(message)))
        except UNREADABLE as exc:
            result.rejected[message.seq] = unreadable(exc)
    return built, result


def sized_entries(
    messages: Sequence[Message],
    entry: Callable[[Message], dict[str, Any]],
    size: Callable[[dict[str, Any]], int],
    limits: tuple[int, int],
    counted: str,
) -> tuple[list[dict[str, Any]], PublishResult]:
    """The entries one request carries (see :func:`entries` and :func:`fit_request`), and the rest's outcome.

    ``limits`` are the most bytes a message and a request may have, counted by ``size``.
    """
    built, result = entries(messages, entry)
    by_seq = {m.seq: e for m, e in built}
    kept, fitted = fit_request([(m, size(e)) for m, e in built], *limits, counted)
    result.merge(fitted)
    return [by_seq[m.seq] for m in kept], result


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
