"""Hypothesis strategies for the capture-safety search: tables, values, sessions and write statements.

Everything generated is ASCII SQL: strings travel as ``_utf8mb4 X'…'`` literals and
binaries as ``X'…'``, so the same statement means the same thing under any session
character set, ``ANSI_QUOTES`` or ``NO_BACKSLASH_ESCAPES``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from hypothesis import strategies as st

from outbox_triggers.identifiers import quote

CHARSETS = (
    "utf8mb4",
    "utf8mb3",
    "latin1",
    "latin2",
    "latin5",
    "latin7",
    "ascii",
    "greek",
    "hebrew",
    "cp1250",
    "cp1251",
    "cp1256",
    "cp1257",
    "cp850",
    "cp852",
    "cp866",
    "koi8r",
    "koi8u",
    "macce",
    "macroman",
    "armscii8",
    "geostd8",
    "keybcs2",
    "dec8",
    "hp8",
    "swe7",
    "tis620",
    "big5",
    "gbk",
    "gb2312",
    "sjis",
    "cp932",
    "ujis",
    "eucjpms",
    "euckr",
    "ucs2",
    "utf16",
    "utf16le",
    "utf32",
    "binary",
)
DATABASE_CHARSETS = (
    "utf8mb4",
    "ucs2",
    "utf16",
    "utf16le",
    "utf32",
    "utf8mb3",
    "latin1",
    "binary",
    "sjis",
    "swe7",
)
SQL_MODES = (
    "",
    "STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_AUTO_CREATE_USER,NO_ENGINE_SUBSTITUTION",
    "STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE",
    "TRADITIONAL",
    "ANSI",
    "ANSI_QUOTES,NO_BACKSLASH_ESCAPES",
    "PAD_CHAR_TO_FULL_LENGTH,PIPES_AS_CONCAT",
    "ORACLE",
    "NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES,PAD_CHAR_TO_FULL_LENGTH",
)
TIME_ZONES = ("+00:00", "+05:30", "-07:00", "+12:45")
CLIENT_CHARSETS = ("utf8mb4", "latin1", "sjis", "utf8mb3", "gbk", "cp1251")
ALPHABET = st.one_of(
    st.characters(codec="ascii"),
    st.sampled_from("\x00\x01\x08\t\n\r\x1a\x1f\x7f\"'\\`%_/"),
    st.characters(min_codepoint=0xA0, max_codepoint=0x24F),
    st.characters(min_codepoint=0x370, max_codepoint=0x4FF),
    st.characters(min_codepoint=0x3040, max_codepoint=0x30FF),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x4FFF),
    st.characters(min_codepoint=0x2010, max_codepoint=0x203A),  # cp125x's punctuation: quotes, dashes
    st.sampled_from("€ƒ…†‡‰ŠŒŽ™šœžŸ\u2028\u2029\ufeff😀🙂\U0002000b"),
)
NAMES = st.text(
    st.one_of(st.characters(codec="ascii", exclude_characters="\x00"), st.sampled_from("éß日本€ `'\"\\")),
    min_size=1,
    max_size=12,
).filter(lambda s: not s.endswith(" ") and s.strip() != "")


def utf8(text: str) -> str:
    """``text`` as an ASCII SQL literal of its UTF-8 bytes."""
    return f"_utf8mb4 X'{text.encode('utf-8').hex()}'" if text else "_utf8mb4 ''"


@dataclass(frozen=True)
class ColumnDef:
    """A generated column: its name, its SQL type clause, and how to make values for it."""

    name: str
    sql: str
    values: st.SearchStrategy[str]
    writable: bool = True

    def ddl(self) -> str:
        return f"{quote(self.name)} {self.sql}"


@dataclass(frozen=True)
class TableDef:
    """A generated table: key columns first, then the rest, and its table options."""

    key: tuple[ColumnDef, ...]
    columns: tuple[ColumnDef, ...]
    options: str = ""
    extra: tuple[str, ...] = field(default=())

    @property
    def all(self) -> tuple[ColumnDef, ...]:
        return self.key + self.columns

    def ddl(self, name: str) -> str:
        parts = [c.ddl() for c in self.all] + list(self.extra)
        keys = ", ".join(quote(c.name) for c in self.key)
        return f"CREATE TABLE {quote(name)} ({', '.join(parts)}, PRIMARY KEY ({keys})) {self.options}"


def _text_values(longest: int, big: bool) -> st.SearchStrategy[str]:
    plain = st.text(ALPHABET, max_size=min(longest, 40)).map(utf8)
    if not big:
        return plain
    repeated = st.tuples(st.text(ALPHABET, min_size=1, max_size=3), st.integers(1, 6000)).map(
        lambda t: f"REPEAT({utf8(t[0])}, {t[1]})"
    )
    return st.one_of(plain, repeated)


def _binary_values(longest: int, big: bool) -> st.SearchStrategy[str]:
    plain = st.binary(max_size=min(longest, 64)).map(lambda b: f"X'{b.hex()}'" if b else "''")
    if not big:
        return plain
    return st.one_of(plain, st.integers(1, 9000).map(lambda n: f"REPEAT(X'00ff7f80', {n})"))


def _maybe_null(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(values, st.just("NULL"))


@st.composite
def string_column(draw: st.DrawFn, name: str) -> ColumnDef:
    charset = draw(st.sampled_from(CHARSETS))
    kind, longest, big = draw(
        st.sampled_from(
            [
                ("CHAR(8)", 8, False),
                ("VARCHAR(40)", 40, False),
                ("TINYTEXT", 255, False),
                ("TEXT", 65535, True),
                ("MEDIUMTEXT", 1 << 24, True),
                ("VARCHAR(3000)", 3000, True),
            ]
        )
    )
    collate = draw(st.sampled_from(["", "_bin"] if charset != "binary" else [""]))
    collation = f" COLLATE {charset}{collate}" if collate else ""
    return ColumnDef(
        name, f"{kind} CHARACTER SET {charset}{collation} NULL", _maybe_null(_text_values(longest, big))
    )


@st.composite
def members(draw: st.DrawFn) -> list[str]:
    texts = draw(
        st.lists(
            st.text(ALPHABET.filter(lambda c: c not in ",\x00"), min_size=1, max_size=6)
            .map(str.strip)
            .filter(bool),
            min_size=1,
            max_size=5,
            unique_by=lambda s: s.lower(),
        )
    )
    return [t for t in texts if t.strip() == t]


def literal(text: str) -> str:
    """A quoted literal for DDL, which takes no hex (for a utf8mb4 session with the default sql_mode)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''").replace("\x00", "\\0") + "'"


def _enum_like(name: str, kind: str, names: list[str], charset: str) -> ColumnDef:
    spelled = ", ".join(literal(m) for m in names)
    if kind == "ENUM":
        values = st.sampled_from(names).map(utf8)
    else:
        values = st.lists(st.sampled_from(names), unique=True).map(lambda chosen: utf8(",".join(chosen)))
    return ColumnDef(name, f"{kind}({spelled}) CHARACTER SET {charset} NULL", _maybe_null(values))


@st.composite
def enum_column(draw: st.DrawFn, name: str) -> ColumnDef:
    names = draw(members())
    if not names:
        names = ["a"]
    charset = draw(st.sampled_from(("utf8mb4", "latin1", "utf16", "sjis", "binary")))
    return _enum_like(name, draw(st.sampled_from(("ENUM", "SET"))), names, charset)


def _int_column(name: str, sql: str, low: int, high: int) -> ColumnDef:
    return ColumnDef(name, f"{sql} NULL", _maybe_null(st.integers(low, high).map(str)))


@st.composite
def number_column(draw: st.DrawFn, name: str) -> ColumnDef:
    choice = draw(st.integers(0, 6))
    if choice == 0:
        bits = draw(st.sampled_from((8, 16, 24, 32, 64)))
        sql = {8: "TINYINT", 16: "SMALLINT", 24: "MEDIUMINT", 32: "INT", 64: "BIGINT"}[bits]
        if draw(st.booleans()):
            zerofill = " ZEROFILL" if draw(st.booleans()) else ""
            return _int_column(name, f"{sql} UNSIGNED{zerofill}", 0, 2**bits - 1)
        return _int_column(name, sql, -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if choice == 1:
        precision = draw(st.integers(1, 65))
        scale = draw(st.integers(0, min(precision, 30)))
        digits = st.integers(-(10 ** (precision - scale) - 1), 10 ** (precision - scale) - 1)
        frac = st.integers(0, 10**scale - 1) if scale else st.just(0)
        render = (lambda t: f"{t[0]}.{t[1]:0{scale}d}") if scale else (lambda t: str(t[0]))
        zerofill = " UNSIGNED ZEROFILL" if draw(st.booleans()) else ""
        return ColumnDef(
            name,
            f"DECIMAL({precision},{scale}){zerofill} NULL",
            _maybe_null(st.tuples(digits, frac).map(render)),
        )
    if choice == 2:
        width = draw(st.integers(1, 64))
        return _int_column(name, f"BIT({width})", 0, 2**width - 1)
    if choice in (3, 4):
        sql = "FLOAT" if choice == 3 else "DOUBLE"
        floats = st.floats(allow_nan=False, allow_infinity=False, width=32 if choice == 3 else 64)
        return ColumnDef(name, f"{sql} NULL", _maybe_null(floats.map(repr)))
    if choice == 5:
        return _int_column(name, "YEAR", 1901, 2155)
    return ColumnDef(name, "TINYINT(1) NOT NULL DEFAULT 0", st.sampled_from(("0", "1", "127")))


def _date(draw: st.DrawFn, zero_parts: bool) -> str:
    year = draw(st.integers(0 if zero_parts else 1000, 9999))
    month = draw(st.integers(0 if zero_parts else 1, 12))
    day = draw(st.integers(0 if zero_parts else 1, 28))
    return f"{year:04d}-{month:02d}-{day:02d}"


@st.composite
def temporal_value(draw: st.DrawFn, kind: str, fsp: int) -> str:
    if kind == "TIME":
        hours = draw(st.integers(-838, 838))
        minutes, seconds, micros = (
            draw(st.integers(0, 59)),
            draw(st.integers(0, 59)),
            draw(st.integers(0, 10**6 - 1)),
        )
        return f"'{hours}:{minutes:02d}:{seconds:02d}.{micros:06d}'"
    if kind == "TIMESTAMP":
        seconds = draw(st.integers(1, 2**31 - 2))
        return f"FROM_UNIXTIME({seconds}.{draw(st.integers(0, 999999)):06d})"
    date = _date(draw, zero_parts=draw(st.integers(0, 4)) == 0)
    if kind == "DATE":
        return f"'{date}'"
    time = f"{draw(st.integers(0, 23)):02d}:{draw(st.integers(0, 59)):02d}:{draw(st.integers(0, 59)):02d}"
    return f"'{date} {time}.{draw(st.integers(0, 999999)):06d}'"


@st.composite
def temporal_column(draw: st.DrawFn, name: str) -> ColumnDef:
    kind = draw(st.sampled_from(("DATE", "DATETIME", "TIMESTAMP", "TIME")))
    fsp = 0 if kind == "DATE" else draw(st.integers(0, 6))
    sql = kind if kind == "DATE" else f"{kind}({fsp})"
    if kind == "TIMESTAMP" and draw(st.booleans()):
        now = f"CURRENT_TIMESTAMP({fsp})" if fsp else "CURRENT_TIMESTAMP"
        return ColumnDef(name, f"{sql} NOT NULL DEFAULT {now} ON UPDATE {now}", temporal_value(kind, fsp))
    return ColumnDef(name, f"{sql} NULL", _maybe_null(temporal_value(kind, fsp)))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(ALPHABET, max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(ALPHABET, max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def other_column(draw: st.DrawFn, name: str) -> ColumnDef:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return ColumnDef(
            name, "JSON NULL", _maybe_null(JSON_VALUES.map(lambda v: utf8(json.dumps(v, ensure_ascii=False))))
        )
    if choice == 1:
        points = st.tuples(st.integers(-180, 180), st.integers(-90, 90))
        return ColumnDef(
            name, "POINT NULL", _maybe_null(points.map(lambda p: f"ST_GeomFromText('POINT({p[0]} {p[1]})')"))
        )
    if choice == 2:
        sql, longest, big = draw(
            st.sampled_from(
                [
                    ("BINARY(6)", 6, False),
                    ("VARBINARY(300)", 300, False),
                    ("BLOB", 65535, True),
                    ("LONGBLOB", 1 << 30, True),
                ]
            )
        )
        return ColumnDef(name, f"{sql} NULL", _maybe_null(_binary_values(longest, big)))
    if choice == 3:
        addresses = st.sampled_from(("'::1'", "'192.0.2.1'", "'2001:db8::ff00:42:8329'", "'::ffff:10.0.0.1'"))
        return ColumnDef(name, "INET6 NULL", _maybe_null(addresses))
    if choice == 4:
        return ColumnDef(name, "UUID NULL", _maybe_null(st.uuids().map(lambda u: f"'{u}'")))
    return ColumnDef(name, "INT AS (CHAR_LENGTH(`k0`) + 1) VIRTUAL", st.just("DEFAULT"), writable=False)


@st.composite
def table_def(draw: st.DrawFn) -> TableDef:
    names = draw(st.lists(NAMES, min_size=6, max_size=6, unique_by=str.lower))
    key = [ColumnDef("id", "INT NOT NULL", st.integers(1, 4).map(str))]
    if draw(st.integers(0, 3)) == 0:
        charset = draw(st.sampled_from(("utf8mb4", "latin1", "sjis", "utf16")))
        key.append(
            ColumnDef(
                "k2", f"VARCHAR(8) CHARACTER SET {charset} NOT NULL", st.sampled_from(("'a'", "'B'", "''"))
            )
        )
    kinds = [string_column, enum_column, number_column, temporal_column, other_column]
    columns = [ColumnDef("k0", "VARCHAR(10) NULL", _maybe_null(_text_values(10, False)))]
    for name in names[: draw(st.integers(1, 5))]:
        columns.append(draw(draw(st.sampled_from(kinds))(name)))
    options = draw(st.sampled_from(("", "", "WITH SYSTEM VERSIONING", "PARTITION BY KEY(`id`) PARTITIONS 2")))
    charset = draw(
        st.sampled_from(("", "DEFAULT CHARSET=latin1", "DEFAULT CHARSET=utf16", "DEFAULT CHARSET=ucs2"))
    )
    return TableDef(tuple(key), tuple(columns), f"{charset} {options}".strip())


@dataclass(frozen=True)
class Write:
    """A statement to run on the tracked table and on its trigger-less twin; ``{t}`` is the table."""

    sql: str


def _row(table: TableDef, draw: st.DrawFn) -> tuple[list[str], list[str]]:
    columns = [c for c in table.all if c.writable]
    return [quote(c.name) for c in columns], [draw(c.values) for c in columns]


@st.composite
def write(draw: st.DrawFn, table: TableDef) -> Write:
    columns, values = _row(table, draw)
    names = ", ".join(columns)
    choice = draw(st.integers(0, 7))
    keyed = " AND ".join(f"{quote(c.name)} = {draw(c.values)}" for c in table.key)
    settable = [c for c in table.columns if c.writable]
    target = draw(st.sampled_from(settable))
    change = f"{quote(target.name)} = {draw(target.values)}"
    if choice == 0:
        more = ", ".join(f"({', '.join(_row(table, draw)[1])})" for _ in range(draw(st.integers(0, 2))))
        return Write(f"INSERT INTO {{t}} ({names}) VALUES ({', '.join(values)}){', ' + more if more else ''}")
    if choice == 1:
        return Write(f"INSERT IGNORE INTO {{t}} ({names}) VALUES ({', '.join(values)})")
    if choice == 2:
        return Write(
            f"INSERT INTO {{t}} ({names}) VALUES ({', '.join(values)}) ON DUPLICATE KEY UPDATE {change}"
        )
    if choice == 3:
        return Write(f"REPLACE INTO {{t}} ({names}) VALUES ({', '.join(values)})")
    if choice == 4:
        return Write(f"UPDATE {{t}} SET {change} WHERE {keyed}")
    if choice == 5:
        return Write(f"UPDATE {{t}} SET {quote(target.name)} = {quote(target.name)} WHERE {keyed}")
    if choice == 6:
        return Write(f"DELETE FROM {{t}} WHERE {keyed}")
    return Write(
        f"UPDATE {{t}} AS w JOIN (SELECT 1 AS one) AS d SET w.{change} WHERE w.{keyed.split(' AND ')[0]}"
    )


@dataclass(frozen=True)
class Session:
    """How the writing (or migrating) session is set up."""

    sql_mode: str
    time_zone: str
    charset: str

    def encode(self, sql: str) -> bytes | None:
        """The statement as a client in this charset sends it; None if its names cannot be written in it."""
        try:
            return sql.encode(CODECS[self.charset])
        except UnicodeEncodeError:
            return None

    def statements(self) -> list[str]:
        return [
            f"SET NAMES {self.charset}",
            "SET character_set_results = utf8mb4",
            f"SET time_zone = '{self.time_zone}'",
            f"SET sql_mode = '{self.sql_mode}'",
        ]


SESSIONS = st.builds(
    Session, st.sampled_from(SQL_MODES), st.sampled_from(TIME_ZONES), st.sampled_from(CLIENT_CHARSETS)
)
MIGRATING = st.builds(Session, st.sampled_from(SQL_MODES), st.sampled_from(TIME_ZONES), st.just("utf8mb4"))
"""The toolkit always connects in utf8mb4; the migrating session's sql_mode and time zone are the user's."""
CODECS = {"utf8mb4": "utf-8", "utf8mb3": "utf-8", "latin1": "cp1252", "sjis": "shift_jis", "gbk": "gbk"}
CODECS["cp1251"] = "cp1251"


@dataclass(frozen=True)
class CaptureOptions:
    """The spec options of the generated table."""

    before_image: str
    skip_noop_updates: bool
    event_type: str | None
    aggregate_type: str | None
    max_event_bytes: int | None
    exclude: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def spec(self, table: str) -> dict[str, object]:
        body: dict[str, object] = {
            "before_image": self.before_image,
            "skip_noop_updates": self.skip_noop_updates,
        }
        if self.event_type:
            body["event_types"] = {"update": self.event_type}
        if self.aggregate_type:
            body["aggregate_type"] = self.aggregate_type
        if self.max_event_bytes:
            body["max_event_bytes"] = self.max_event_bytes
        if self.exclude:
            body["exclude_columns"] = list(self.exclude)
        if self.ignore:
            body["ignore_columns"] = list(self.ignore)
        return {table: body}


OPTIONS = st.builds(
    CaptureOptions,
    st.sampled_from(("full", "full", "changed", "none")),
    st.booleans(),
    st.none() | st.text(ALPHABET.filter(lambda c: c != "\x00"), min_size=1, max_size=8),
    st.none() | st.text(ALPHABET.filter(lambda c: c != "\x00"), min_size=1, max_size=8),
    st.none() | st.integers(4096, 32768),
)


def statements(table: TableDef) -> st.SearchStrategy[list[Write]]:
    return st.lists(write(table), min_size=1, max_size=6)


Generator = Callable[[str], st.SearchStrategy[ColumnDef]]
__all__: Sequence[str] = ()


@st.composite
def options(draw: st.DrawFn, table: TableDef) -> CaptureOptions:
    """Capture options for ``table``, some of its non-key columns excluded or ignored."""
    chosen = draw(OPTIONS)
    names = [c.name for c in table.columns]
    exclude = draw(st.lists(st.sampled_from(names), unique=True, max_size=2))
    ignore = draw(
        st.lists(st.sampled_from([n for n in names if n not in exclude] or names), unique=True, max_size=2)
    )
    return dataclasses.replace(
        chosen, exclude=tuple(exclude), ignore=tuple(i for i in ignore if i not in exclude)
    )
