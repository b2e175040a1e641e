"""The relay's defaults, in a module that imports nothing heavy, so the command line starts fast."""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_BATCH_SIZE = 500
DEFAULT_POLL_INTERVAL = 0.2
DEFAULT_MAX_IN_FLIGHT = 16
# AWS requests: a connect attempt and each wait for an answer, per attempt (botocore's ``Config``)
DEFAULT_CONNECT_TIMEOUT = 3.0
DEFAULT_REQUEST_TIMEOUT = 10.0
# a request outstanding this long is a stall: logged, in the metrics, and /healthz turns 503
DEFAULT_STALL_AFTER = 5.0
# the spec file, and the flavors ``render`` knows (``spec`` and ``render`` take them from here)
DEFAULT_SPEC_PATH = "outbox.yaml"
FLAVORS = ("mariadb", "mysql")


class Timeouts(NamedTuple):
    """AWS request timeouts, in seconds: opening a connection, and each wait for an answer (per attempt)."""

    connect: float = DEFAULT_CONNECT_TIMEOUT
    read: float = DEFAULT_REQUEST_TIMEOUT


AWS_TIMEOUTS = Timeouts()
