"""The plain SQL form of :func:`outbox_triggers.emit`, for services in any language.

One INSERT … SELECT, with six bound parameters in a fixed order: event id,
aggregate type, aggregate id, event type, payload (JSON text) and headers
(JSON text, or NULL). It runs in the caller's transaction like any statement,
so a rollback discards the event and a commit publishes it.

Why a single INSERT and not a stored procedure: the statement needs no object
of its own in the schema (nothing to migrate, version or grant EXECUTE on), no
definer whose removal would break every call, and no SUPER or
``log_bin_trust_function_creators`` on Aurora with binary logging on. It reads
the same on MariaDB and MySQL 8: the payload and headers go through
``JSON_EXTRACT(?, '$')``, so MySQL 8 refuses invalid JSON with an error
(the service's own statement fails, not a trigger), and MariaDB stores NULL.

It writes what emit() writes, except that the aggregate id is always a JSON
string and the size is not checked: an event larger than its destination takes
goes to the dead letters when the relay meets it.
"""

from __future__ import annotations

from outbox_triggers import identifiers

PLACEHOLDERS = {"qmark": "?", "format": "%s", "numeric": "${}"}
PARAMETERS = ("id", "aggregate_type", "aggregate_id", "event_type", "payload", "headers")

_TEMPLATE = """\
INSERT INTO {table} (`table_name`, `key_hash`, `payload`)
SELECT e.aggregate_type,
       CRC32(CONCAT_WS(CHAR(31), e.aggregate_type, e.aggregate_id)),
       JSON_OBJECT('id', IFNULL(e.id, CONCAT(UUID())), 'op', 'event', 'event_type', e.event_type,
                   'aggregate_type', e.aggregate_type, 'aggregate_id', e.aggregate_id,
                   'payload', JSON_EXTRACT(e.payload, '$'),
                   'headers', IFNULL(JSON_EXTRACT(e.headers, '$'), JSON_OBJECT()),
                   'ts', DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ'))
FROM (SELECT CAST({p1} AS CHAR(36)) AS id, CAST({p2} AS CHAR(64)) AS aggregate_type,
             CAST({p3} AS CHAR(255)) AS aggregate_id, CAST({p4} AS CHAR(64)) AS event_type,
             {p5} AS payload, {p6} AS headers) AS e"""


def statement(events_table: str = "outbox_events", paramstyle: str = "qmark") -> str:
    """The INSERT into ``events_table``, with placeholders: qmark ``?``, format ``%s`` or numeric ``$1``.

    With the ``format`` style, the ``%`` of the timestamp format is doubled, as such drivers expect.
    """
    table = identifiers.quote(identifiers.check(events_table, "events_table"))
    marks = {f"p{i}": _mark(paramstyle, i) for i in range(1, len(PARAMETERS) + 1)}
    text = _TEMPLATE.replace("{table}", table)
    if paramstyle == "format":
        text = text.replace("%", "%%")
    for name, mark in marks.items():
        text = text.replace("{" + name + "}", mark)
    return text


def _mark(paramstyle: str, index: int) -> str:
    if paramstyle not in PLACEHOLDERS:
        raise ValueError(f"unknown paramstyle {paramstyle!r}; expected one of {', '.join(PLACEHOLDERS)}")
    return PLACEHOLDERS[paramstyle].format(index)
