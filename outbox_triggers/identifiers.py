"""Validate and quote MySQL identifiers, and name the toolkit's triggers.

Everything that goes into generated SQL as a name passes through here: it is
checked against MySQL's rules for quoted identifiers, then backtick-quoted.
"""

from __future__ import annotations

import hashlib
import re

from outbox_triggers.errors import IdentifierError

MAX_IDENTIFIER = 64
TRIGGER_PREFIX = "outbox_"
OP_CODES = {"insert": "ai", "update": "au", "delete": "ad"}
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


def check(name: str, what: str = "identifier") -> str:
    """Return ``name`` if MySQL accepts it as a quoted identifier, else raise."""
    problem = _problem(name)
    if problem:
        raise IdentifierError(f"{what} {name!r} cannot be used: {problem}")
    return name


def _problem(name: str) -> str | None:
    if not name:
        return "it is empty"
    if len(name) > MAX_IDENTIFIER:
        return f"it is {len(name)} characters long; MySQL allows {MAX_IDENTIFIER}"
    if "\x00" in name:
        return "it contains a NUL character"
    if any(ord(ch) > 0xFFFF for ch in name):
        return "it contains a character outside the Basic Multilingual Plane, which MySQL names cannot hold"
    if name.endswith(" "):
        return "it ends with a space, which MySQL names cannot"
    return None


def quote(name: str) -> str:
    """Backtick-quote a validated identifier, doubling embedded backticks."""
    return "`" + check(name).replace("`", "``") + "`"


def quote_text(name: str) -> str:
    """:func:`quote` for ``sqlalchemy.text()``, whose ``:name`` binds must not match inside the name."""
    return quote(name).replace(":", "\\:")


def literal(text: str) -> str:
    """Render ``text`` as an SQL string literal that parses the same under any sql_mode.

    Quotes are doubled. Text holding a backslash is written as a hex literal
    instead, because ``NO_BACKSLASH_ESCAPES`` changes what a backslash means.
    """
    if "\\" in text or "\x00" in text:
        return "CONVERT(X'" + text.encode("utf-8").hex() + "' USING utf8mb4)"
    return "'" + text.replace("'", "''") + "'"


def trigger_name(table: str, operation: str) -> str:
    """Deterministic, collision-free trigger name of at most 64 characters.

    The readable part is a slug of the table name; a hash of the exact name
    keeps two tables whose slugs collide (or are truncated alike) apart.
    """
    digest = hashlib.sha256(table.encode("utf-8")).hexdigest()[:10]
    head = f"{TRIGGER_PREFIX}{OP_CODES[operation]}_"
    room = MAX_IDENTIFIER - len(head) - len(digest) - 1
    slug = _SLUG_UNSAFE.sub("_", table).strip("_")[:room] or "t"
    return f"{head}{slug}_{digest}"


def beside(events_table: str, suffix: str) -> str:
    """A table named ``<events>_<suffix>``, shortened with a hash when MySQL's 64 characters don't fit it."""
    name = f"{events_table}_{suffix}"
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{events_table[: MAX_IDENTIFIER - len(suffix) - 10]}_{suffix}_{digest}"


def dead_letters_table(events_table: str) -> str:
    """The dead-letter table beside ``events_table``."""
    return beside(events_table, "dead_letters")


def delivered_table(events_table: str) -> str:
    """The table delivered events are kept in (``relay.retention: {keep: …}``)."""
    return beside(events_table, "delivered")


def is_toolkit_trigger(name: str) -> bool:
    """True for names :func:`trigger_name` produces."""
    return re.fullmatch(TRIGGER_PREFIX + r"a[iud]_.*_[0-9a-f]{10}", name) is not None


def captures_table(events_table: str) -> str:
    """The registry of capture versions beside ``events_table`` (each version's column types)."""
    return beside(events_table, "captures")


def is_captures_table(name: str) -> bool:
    """True for names :func:`captures_table` produces."""
    return name.endswith("_captures") or re.search(r"_captures_[0-9a-f]{8}$", name) is not None
