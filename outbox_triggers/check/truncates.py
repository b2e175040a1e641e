"""TRUNCATEs of tracked tables, which fire no trigger, found in performance_schema."""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers.check.findings import Finding

_TRUNCATES = sa.text(
    "SELECT DIGEST_TEXT, COUNT_STAR, LAST_SEEN FROM performance_schema.events_statements_summary_by_digest "
    "WHERE SCHEMA_NAME = DATABASE() AND DIGEST_TEXT LIKE 'TRUNCATE%'"
)

_TRIGGERS_CREATED = sa.text(
    "SELECT MIN(CREATED) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() "
    "AND EVENT_OBJECT_TABLE = :t"
)

_TRUNCATED_TABLE = re.compile(
    r"TRUNCATE\s+(?:TABLE\s+)?(?:`(?:[^`]|``)*`\s*\.\s*)?`((?:[^`]|``)*)`", re.IGNORECASE
)


def truncate_findings(conn: Connection, tables: Sequence[str]) -> list[Finding]:
    """TRUNCATEs of tracked tables since their triggers went in, from performance_schema when it is on.

    TRUNCATE fires no trigger and leaves no other trace a trigger-based tool can
    read; the statement digest summary is the one place it shows.
    """
    if not conn.exec_driver_sql("SELECT @@performance_schema").scalar():
        return []
    findings = []
    for digest, count, last_seen in conn.execute(_TRUNCATES):
        match = _TRUNCATED_TABLE.search(str(digest))
        table = match.group(1).replace("``", "`") if match else None
        installed = conn.execute(_TRIGGERS_CREATED, {"t": table}).scalar() if table in tables else None
        if installed is not None and last_seen is not None and last_seen >= installed.replace(microsecond=0):
            detail = (
                f"TRUNCATE ran on {table!r} {count} time(s), last at {last_seen}, after its triggers were "
                "installed; TRUNCATE fires no trigger, so consumers never saw those rows go"
            )
            hint = (
                "re-sync consumers of this table; to prevent it, don't grant DROP on tracked tables to the "
                "application account (TRUNCATE needs DROP)"
            )
            findings.append(Finding("truncated", table, detail, hint))
    return findings
