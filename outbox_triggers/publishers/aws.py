"""What every AWS publisher shares: boto3 clients, error descriptions, FIFO ids.

AWS configuration is boto3's own: the credential chain, ``AWS_REGION`` /
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` and the per-service
``AWS_ENDPOINT_URL_<SERVICE>`` variables, and the retry mode.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

from outbox_triggers.errors import DestinationError

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
