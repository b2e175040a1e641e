"""Column types as a capture version recorded them: what each envelope needs to encode a value.

``migrate`` records, for every capture version it installs, each captured
column's full MySQL type (``information_schema.COLUMNS.COLUMN_TYPE``), its JSON
kind and whether it is nullable (see :mod:`outbox_triggers.captures`). This
module parses those records into :class:`ColumnType`, which the per-format
encoders read; it does no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

_TYPE = re.compile(r"^\s*([a-z0-9_]+)\s*(?:\(([^)]*)\))?(.*)$", re.IGNORECASE | re.DOTALL)
_MEMBERS = re.compile(r"^\s*(enum|set)\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)
"""ENUM and SET: everything between the first ``(`` and the last ``)`` (a member may hold either)."""
_MEMBER = re.compile(r"'((?:[^'\\]|\\.|'')*)'")


@dataclass(frozen=True)
class ColumnType:
    """One captured column: name, base type (``int``, ``datetime``…), JSON kind and type modifiers.

    ``length`` is the number in ``type(M)`` (the fractional digits of a
    temporal type, the bits of BIT, the bytes of BINARY), ``scale`` the D of
    DECIMAL(M,D); ``members`` the ENUM/SET values as declared.
    """

    name: str
    base: str
    kind: str
    sql_type: str = ""
    unsigned: bool = False
    length: int | None = None
    scale: int = 0
    members: tuple[str, ...] = ()
    nullable: bool = True

    @classmethod
    def parse(cls, name: str, sql_type: str, kind: str, nullable: bool = True) -> ColumnType:
        """A column from its recorded ``COLUMN_TYPE`` (e.g. ``decimal(10,2) unsigned zerofill``)."""
        match = _TYPE.match(sql_type)
        if match is None:
            raise ValueError(f"column {name!r}: unreadable type {sql_type!r}")
        base, inside, rest = match.group(1).lower(), match.group(2) or "", match.group(3).lower()
        length, scale, members = None, 0, tuple[str, ...]()
        listed = _MEMBERS.match(sql_type) if base in ("enum", "set") else None
        if listed:
            members = tuple(_member(m) for m in _MEMBER.findall(listed.group(2)))
        elif inside:
            numbers = [int(n) for n in inside.split(",") if n.strip().isdigit()]
            length = numbers[0] if numbers else None
            scale = numbers[1] if len(numbers) > 1 else 0
        unsigned = "unsigned" in rest or "zerofill" in rest
        return cls(name, base, kind, sql_type, unsigned, length, scale, members, nullable)

    @property
    def fsp(self) -> int:
        """Fractional-second digits of a TIME, DATETIME or TIMESTAMP column (0 when none)."""
        return self.length or 0 if self.kind in ("time", "datetime", "timestamp") else 0

    @property
    def precision(self) -> int:
        """The M of DECIMAL(M,D) (MySQL's default 10)."""
        return self.length or 10


@dataclass(frozen=True)
class TableTypes:
    """What one capture version wrote: its table, captured columns (in order) and key columns."""

    version: str
    table: str
    columns: tuple[ColumnType, ...]
    key: tuple[str, ...]
    by_name: Mapping[str, ColumnType] = field(init=False, repr=False, compare=False)
    plans: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)
    """Per format (and options), each column's encoder, built on first use (see maxwell.py, debezium.py)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})

    @classmethod
    def from_record(
        cls, version: str, table: str, columns: Sequence[Mapping[str, Any]], key: Sequence[str]
    ) -> TableTypes:
        """Build from a registry record: ``[{"name", "type", "kind", "nullable"}, …]`` and the key names."""
        parsed = tuple(
            ColumnType.parse(str(c["name"]), str(c["type"]), str(c["kind"]), bool(c.get("nullable", True)))
            for c in columns
        )
        return cls(version, table, parsed, tuple(str(k) for k in key))


class Captures(Protocol):
    """Where an envelope looks up the column types of the capture version that wrote an event."""

    def types(self, table: str, version: str) -> TableTypes | None:
        """The types of ``table`` at capture ``version`` (None: not recorded, even after a reload)."""


class Unrecorded(ValueError):
    """An event whose capture version is not in the registry: it can't be encoded value for value."""


def _member(quoted: str) -> str:
    return quoted.replace("''", "'").replace("\\\\", "\\")
