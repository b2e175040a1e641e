"""How large an event can grow, and which values a trigger measures row by row.

A trigger builds its event inside the user's write, so the event must never
outgrow what the server can build (``max_allowed_packet``) or what the table's
destinations accept (``max_event_bytes``). Every captured value has a static
upper bound on its JSON text, or none (TEXT, BLOB, JSON, spatial). Values
without a small bound are *measured*: the trigger adds up their lengths, and
only when the event could outgrow the limit does it build the event value by
value, leaving out what does not fit and listing it under ``omitted`` with its
size. Everything here is arithmetic on the model; nothing touches a database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

ESCAPED_CHAR_BYTES = 6
"""The most JSON text one character of any charset becomes: a control character turns into ``\\u001F``."""
BASE64_CHUNK_BYTES = 57 * 16
"""Binary values are base64-encoded 912 bytes at a time (TO_BASE64 breaks lines every 57 bytes, and
MariaDB's REPLACE of those line breaks costs the square of the length)."""
KIB = 1024
MIB = 1024 * KIB
DESTINATION_LIMITS = {"sqs": MIB, "sns": 256 * KIB, "eventbridge": 256 * KIB, "kinesis": MIB}
"""The most a destination type accepts per message unless its options say less."""
DESTINATION_OPTION = {
    "sqs": "max_batch_bytes",
    "sns": "max_batch_bytes",
    "eventbridge": "max_batch_bytes",
    "kinesis": "max_record_bytes",
}
ENVELOPE_HEADROOM = 4 * KIB
"""Left below a destination's limit for message attributes, ids and envelope re-shaping."""
PACKET_HEADROOM = 64 * KIB
"""Left below ``max_allowed_packet``: the relay reads the event row whole."""
SCALAR_BYTES = {"integer": 20, "float": 25, "bit": 20, "year": 4, "date": 12, "datetime": 29, "timestamp": 29}
SCALAR_BYTES["time"] = 19
NULL_BYTES = 4
UUID_BYTES = 36
TS_BYTES = 29
KEY_LIMIT = 64 * KIB
"""A key or aggregate id whose JSON could exceed this cannot be captured: it is never left out."""
MEASURABLE = ("string", "binary", "json", "spatial", "set", "enum")


@dataclass(frozen=True)
class Value:
    """One captured value of an event: a column of the old (``OLD``) or new (``NEW``) row."""

    image: str
    row: str
    column: str
    kind: str
    bound: int | None


@dataclass(frozen=True)
class Sizing:
    """How one trigger keeps its event within ``limit`` bytes.

    ``measured`` values are checked per row; ``room`` is what they may take
    in all. With nothing measured the event always fits and the trigger
    checks nothing.
    """

    limit: int
    measured: tuple[Value, ...]
    room: int

    @property
    def guarded(self) -> bool:
        """True when the trigger must check value lengths per row."""
        return bool(self.measured)

    @property
    def has_binary(self) -> bool:
        """True when a measured value is base64-encoded chunk by chunk."""
        return any(v.kind == "binary" for v in self.measured)

    def local(self, image: str, column: str) -> str | None:
        """The trigger's local variable holding a measured value's JSON text, or None if not measured."""
        for number, value in enumerate(self.measured, 1):
            if (value.image, value.column) == (image, column):
                return f"outbox_v{number}"
        return None

    def of(self, image: str) -> tuple[tuple[str, Value], ...]:
        """The measured values of one image, with their local variables."""
        return tuple((f"outbox_v{n}", v) for n, v in enumerate(self.measured, 1) if v.image == image)


class TooLarge(ValueError):
    """The parts of an event that are never left out already exceed its limit."""


def json_text_bytes(text: str) -> int:
    """Bytes of ``text`` as a JSON string, quotes included."""
    return len(json.dumps(text, ensure_ascii=False).encode("utf-8"))


def value_bound(
    kind: str,
    precision: int = 0,
    members: Sequence[str] = (),
    max_chars: int | None = None,
    max_bytes: int | None = None,
) -> int | None:
    """The most bytes of JSON text one value of a column can become, or None when unbounded."""
    if kind in SCALAR_BYTES:
        return SCALAR_BYTES[kind]
    if kind == "decimal":
        return (precision or 65) + 4
    if kind == "set" and max_chars is not None:
        return ESCAPED_CHAR_BYTES * max_chars + 4 * len(members) + 4
    if kind in ("string", "enum") and max_chars is not None:
        return max(NULL_BYTES, ESCAPED_CHAR_BYTES * max_chars + 2)
    if kind == "binary" and max_bytes is not None:
        return max(NULL_BYTES, 4 * -(-max_bytes // 3) + 2)
    return None


def object_bytes(names: Iterable[str], bounds: Iterable[int]) -> int:
    """Bytes of ``{"a": …, "b": …}`` around values taking ``bounds``, keys and separators included."""
    keys = [json_text_bytes(n) + 2 for n in names]
    return 2 + sum(keys) + sum(bounds) + 2 * max(len(keys) - 1, 0)


def envelope_bytes(
    head: Mapping[str, str], key_bytes: int, images: Sequence[Sequence[str]], measurable: Sequence[str]
) -> int:
    """Bytes of everything in an event but its image values.

    ``head``: the constant fields (table, op, event and aggregate type);
    ``key_bytes``: the key object and aggregate id; ``images``: the column
    names of each image carried; ``measurable``: the columns that may be
    listed under ``omitted``, with their sizes.
    """
    text = json.dumps({"id": "0" * UUID_BYTES, **head}, ensure_ascii=False).encode()
    fields = ', "aggregate_id": , "key": , "before": , "after": , "ts": , "version": "0123456789"}'
    names = sum(object_bytes(columns, []) for columns in images) + NULL_BYTES * (2 - len(images))
    omitted = len(', "omitted": {"reason": "max_event_bytes", "limit": 18446744073709551615') + 30
    omitted += sum(json_text_bytes(column) + 24 for column in measurable)
    return len(text) + len(fields) + TS_BYTES + key_bytes + names + omitted


def growth(kind: str) -> int:
    """A factor that, times a value's stored length (LENGTH()), bounds its JSON text."""
    return 2 if kind == "binary" else ESCAPED_CHAR_BYTES


def default_limit(destinations: Iterable[tuple[str, Mapping[str, object]]], packet: int) -> int:
    """What the destinations (type, options) and the server's ``max_allowed_packet`` allow, less headroom."""
    accepted = [_accepts(kind, options) for kind, options in destinations]
    by_destination = min(accepted, default=MIB) - ENVELOPE_HEADROOM
    return min(by_destination, packet_limit(packet))


def _accepts(kind: str, options: Mapping[str, object]) -> int:
    configured = options.get(DESTINATION_OPTION.get(kind, ""))
    return int(configured) if isinstance(configured, int) else DESTINATION_LIMITS.get(kind, MIB)


def packet_limit(packet: int) -> int:
    """The largest event a server with this ``max_allowed_packet`` can build and hand to the relay."""
    return packet - PACKET_HEADROOM


def plan(limit: int, fixed: int, values: Sequence[Value], keep_inline: Iterable[str] = ()) -> Sizing:
    """Decide which values to measure so that the rest, plus ``fixed``, always fits in ``limit``.

    Unbounded values and binary values longer than one base64 chunk are
    always measured; then the largest bounded ones, until what is never
    measured takes at most an eighth of the limit. Values in ``keep_inline`` (key
    columns) are never measured, so never left out.
    """
    inline = set(keep_inline)
    measured = [v for v in values if v.column not in inline and _must_measure(v)]
    static = [v for v in values if v not in measured]
    for value in sorted(static, key=lambda v: -(v.bound or 0)):
        if fixed + _total(static) <= limit // 8:
            break
        if value.column not in inline and value.kind in MEASURABLE:
            static.remove(value)
            measured.append(value)
    if fixed + _total(static) > limit:
        raise TooLarge(f"needs at least {fixed + _total(static)} bytes")
    ordered = tuple(v for v in values if v in measured)
    return Sizing(limit, ordered, limit - fixed - _total(static) - NULL_BYTES * len(ordered))


def _must_measure(value: Value) -> bool:
    if value.bound is None:
        return True
    return value.kind == "binary" and value.bound > 4 * (BASE64_CHUNK_BYTES // 3) + 2


def _total(values: Iterable[Value]) -> int:
    return sum(v.bound or 0 for v in values)
