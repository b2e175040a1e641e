"""The session triggers are created in: it fixes, for good, how their bodies are parsed and run.

A trigger keeps the sql_mode, client charset and connection collation of the
session that created it. Pinning them makes the generated SQL mean one thing
whatever the migrating session had set (ANSI_QUOTES, NO_BACKSLASH_ESCAPES,
PAD_CHAR_TO_FULL_LENGTH, MariaDB's ORACLE mode…), and makes every literal in a
trigger utf8mb4.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

SQL_MODE = "NO_ENGINE_SUBSTITUTION"
"""Deliberately not strict: the trigger's own INSERT then never turns a warning into an error that
would fail the user's write. Nothing the trigger writes can be truncated (see event_size.py)."""
CHARSET = "utf8mb4"
COLLATION = "utf8mb4_bin"
PIN = (f"SET SESSION sql_mode = '{SQL_MODE}'", f"SET NAMES {CHARSET} COLLATE {COLLATION}")
"""The statements that put a session in the trigger context."""
_CURRENT = "SELECT @@SESSION.sql_mode, @@SESSION.character_set_client, @@SESSION.collation_connection"


@contextmanager
def pinned(conn: Connection) -> Iterator[None]:
    """Run the block in the trigger context, then put the session back as it was."""
    mode, charset, collation = conn.exec_driver_sql(_CURRENT).one()
    for statement in PIN:
        conn.exec_driver_sql(statement)
    try:
        yield
    finally:
        conn.exec_driver_sql("SET SESSION sql_mode = %s", (mode,))
        conn.exec_driver_sql(f"SET NAMES {_name(charset)} COLLATE {_name(collation)}")


def _name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ValueError(f"unexpected character set name {name!r} from the server")
    return name
