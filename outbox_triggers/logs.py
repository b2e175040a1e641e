"""Log output: a classic text line, or one JSON object per line for log pipelines.

Both formats hide the password of any URL that reaches a log message, and the
JSON format masks extras whose names look like credentials.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*:)[^@\s/]*@")
_SECRET_NAME = re.compile(r"pass|secret|token|credential|authorization|api_?key", re.IGNORECASE)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def scrub(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\g<head>***@", text)


class TextFormatter(logging.Formatter):
    """``<time> <LEVEL> <logger>: <message>``, URL passwords hidden."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """The classic line, scrubbed."""
        return scrub(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, message, then any extras."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = "***" if _SECRET_NAME.search(key) else _plain(value)
        if record.exc_info:
            entry["exc_info"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack_info"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=lambda v: scrub(str(v)))


def _plain(value: object) -> object:
    if isinstance(value, str):
        return scrub(value)
    if value is None or isinstance(value, (bool, int, float, list, dict)):
        return value
    return scrub(str(value))


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for ``text`` or ``json``."""
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every log record to ``stream`` (stderr) in ``fmt``, at ``level`` and above."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(fmt))
    logging.basicConfig(level=level.upper(), handlers=[handler])
