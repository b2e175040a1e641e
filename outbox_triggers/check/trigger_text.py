"""Installed triggers, and their text compared the way the server stores it.

A trigger body is compared with ``information_schema.TRIGGERS.ACTION_STATEMENT``;
whitespace that cannot change the meaning is ignored, quoted text is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from outbox_triggers import identifiers, trigger_session

_TRIGGERS = sa.text(
    "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT, "
    "SQL_MODE, CHARACTER_SET_CLIENT, COLLATION_CONNECTION "
    "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() ORDER BY TRIGGER_NAME"
)

_QUOTED = re.compile(r"""'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`(?:[^`]|``)*`""", re.DOTALL)

_PUNCTUATION_SPACE = re.compile(r"(?<=\() | (?=\))| ?(,) ?| (?=;)")

_ROW_CLAUSE = re.compile(r"\bFOR\s+EACH\s+ROW\s+(?:(?:FOLLOWS|PRECEDES)\s+\S+\s+)?", re.IGNORECASE)

_TIMING_EVENT = re.compile(r"\b(BEFORE|AFTER)\s+(INSERT|UPDATE|DELETE)\s+ON\b", re.IGNORECASE)

_ROW_REFERENCE = re.compile(r"\b(?:NEW|OLD)\s*\.\s*(`(?:[^`]|``)+`|[A-Za-z0-9_$]+)", re.IGNORECASE)


@dataclass(frozen=True)
class LiveTrigger:
    """A trigger as ``information_schema.TRIGGERS`` describes it."""

    name: str
    table: str
    timing: str
    event: str
    body: str
    sql_mode: str = trigger_session.SQL_MODE
    charset: str = trigger_session.CHARSET
    collation: str = trigger_session.COLLATION

    def statement(self) -> str:
        """The CREATE TRIGGER statement that re-creates this trigger (no DEFINER)."""
        head = f"CREATE TRIGGER {identifiers.quote(self.name)} {self.timing} {self.event} ON "
        return f"{head}{identifiers.quote(self.table)} FOR EACH ROW\n{self.body}"


def live_triggers(conn: Connection) -> dict[str, LiveTrigger]:
    """The toolkit's triggers in the connection's database, by name."""
    found = {}
    for row in conn.execute(_TRIGGERS):
        if identifiers.is_toolkit_trigger(str(row[0])):
            found[str(row[0])] = LiveTrigger(*(str(value) for value in row))
    return found


def _segments(sql: str) -> list[tuple[bool, str]]:
    """Split SQL into (quoted, text) runs; quoted runs are literals or quoted identifiers."""
    out: list[tuple[bool, str]] = []
    position = 0
    for match in _QUOTED.finditer(sql):
        out += [(False, sql[position : match.start()]), (True, match.group(0))]
        position = match.end()
    return [*out, (False, sql[position:])]


def normalize(sql: str) -> str:
    """``sql`` with insignificant whitespace outside quotes removed; quoted text is kept exactly.

    Runs become one space, and the space after ``(``, before ``)``, around
    ``,`` and before ``;`` goes. Space before ``(`` stays: without
    IGNORE_SPACE, ``COUNT (x)`` is not the function call ``COUNT(x)``.
    """
    return "".join(text if quoted else _squeeze(text) for quoted, text in _segments(sql)).strip()


def _squeeze(text: str) -> str:
    return _PUNCTUATION_SPACE.sub(r"\1", re.sub(r"\s+", " ", text))


def body(statement: str) -> str:
    """The body of a CREATE TRIGGER statement: what follows ``FOR EACH ROW`` and any order clause."""
    segments = _segments(statement)
    for i, (quoted, text) in enumerate(segments):
        match = None if quoted else _ROW_CLAUSE.search(text)
        if match:
            return text[match.end() :] + "".join(t for _, t in segments[i + 1 :])
    return statement


def same_trigger(live: LiveTrigger, statement: str) -> bool:
    """True when ``live`` is what ``statement`` creates: same timing, event and body (modulo whitespace)."""
    header = statement[: len(statement) - len(body(statement))]
    match = _TIMING_EVENT.search(header)
    if match and (match.group(1).upper(), match.group(2).upper()) != (
        live.timing.upper(),
        live.event.upper(),
    ):
        return False
    return normalize(live.body) == normalize(body(statement))


def row_references(statement: str) -> set[str]:
    """The columns a trigger body reads as ``NEW.col`` / ``OLD.col`` (string literals ignored)."""
    code = "".join("''" if quoted and text[0] in "'\"" else text for quoted, text in _segments(statement))
    return {unquote(m.group(1)) for m in _ROW_REFERENCE.finditer(code)}


def references(statements: Iterable[str], column: str) -> bool:
    """True when a trigger body reads ``column`` of its row (names compare case-insensitively)."""
    return any(column.lower() in {c.lower() for c in row_references(s)} for s in statements)


def unquote(name: str) -> str:
    return name[1:-1].replace("``", "`") if name.startswith("`") else name
