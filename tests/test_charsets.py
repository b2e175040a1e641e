"""Every character set the server offers, alone, all mixed in one table, and as the database default.

The deterministic half of the capture-safety proof (the property search is in
test_capture_safety.py): each write succeeds, and each event carries exactly what a
utf8mb4 client SELECTs from the row. Characters a legacy charset leaves undefined
(0x81 in cp1250, 0x80-0xFF in ascii…) become '?', as the server converts them for any
utf8mb4 client.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import strategies as st

from outbox_triggers.identifiers import quote

from . import oracle
from .conftest import Project
from .schemas import CaptureOptions, ColumnDef, Session, TableDef, Write, literal, utf8
from .test_capture_safety import run_example

pytestmark = pytest.mark.integration
BOTH = "p,q" + chr(92)
SAMPLE = "Aé€ßÆ œ—Ω Жж ש ع ก 日本語 かな 한국 中文 ÿ 😀 \\ \" ' \t\n\x01"


def _charsets(project: Project) -> list[tuple[str, int]]:
    with project.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT CHARACTER_SET_NAME, MAXLEN FROM information_schema.CHARACTER_SETS"
        )
        return sorted((str(name), int(maxlen)) for name, maxlen in rows)


def _probe(charset: str, maxlen: int) -> str:
    """A value holding what ``charset`` can: a multilingual sample, and every byte of a one-byte set."""
    converted = f"CONVERT({utf8(SAMPLE)} USING {charset})"
    if maxlen > 1 or charset == "binary":
        return converted
    return f"CONCAT({converted}, _{charset} X'{bytes(range(32, 256)).hex()}')"


def test_every_charset_alone_and_all_mixed_in_one_table(project: Project) -> None:
    charsets = _charsets(project)
    assert len(charsets) >= 40, "the server offers fewer charsets than MariaDB 10.11 ships"
    for name, _ in charsets:
        project.sql(
            f"CREATE TABLE {quote('t_' + name)} (id INT PRIMARY KEY, v VARCHAR(300) CHARACTER SET {name}, "
            f"t TEXT CHARACTER SET {name}, k VARCHAR(20) CHARACTER SET {name} NOT NULL, UNIQUE KEY (k))"
        )
    mixed = ", ".join(f"{quote('c_' + n)} VARCHAR(120) CHARACTER SET {n}" for n, _ in charsets)
    project.sql(f"CREATE TABLE mixed (id INT PRIMARY KEY, {mixed})")
    tables = {f"t_{n}": {} for n, _ in charsets} | {"mixed": {}}
    project.write_spec(
        json.dumps(
            {"version": 1, "tables": tables, "destinations": {"default": {"type": "sqs", "queue_url": "x"}}}
        )
    )
    project.migrate()
    with project.engine.connect() as conn:
        conn.exec_driver_sql("SET sql_mode = ''")
        for name, maxlen in charsets:
            probe = _probe(name, maxlen)
            key = f"CONVERT(_utf8mb4 'kéy' USING {name})"
            insert = f"INSERT INTO {quote('t_' + name)} VALUES (1, {probe}, {probe}, {key})"
            conn.exec_driver_sql(insert.replace("%", "%%"))
            conn.exec_driver_sql(f"UPDATE {quote('t_' + name)} SET v = CONCAT(v, 'x')")
        values = ", ".join(f"CONVERT({utf8(SAMPLE)} USING {n})" for n, _ in charsets)
        conn.exec_driver_sql(f"INSERT INTO mixed VALUES (1, {values})".replace("%", "%%"))
        conn.commit()
    events = project.events()
    assert len(events) == 2 * len(charsets) + 1
    _assert_images_match(project, events)


def _assert_images_match(project: Project, events: list[dict[str, Any]]) -> None:
    from outbox_triggers import introspect

    url = project.engine.url
    reader = oracle.connect(url, url.database)
    try:
        with project.engine.connect() as conn:
            shapes = introspect.shapes(conn, {e["table"] for e in events})
        for event in events:
            shape = shapes[event["table"]]
            (row,) = oracle.rows(reader, event["table"], shape.columns, shape.primary_key).values()
            if event["op"] == "update" or event["table"] == "mixed":
                problem = oracle.image_matches(event["after"], row, None)
                assert problem is None, f"{event['table']}: {problem}"
    finally:
        reader.close()


DEFAULT_COLUMNS = (
    ColumnDef("a", "VARCHAR(20) NULL", st.sampled_from((utf8("x"), utf8("ÿé"), "NULL"))),
    ColumnDef("b", "TEXT NULL", st.sampled_from((utf8(SAMPLE), "REPEAT('ab', 2000)"))),
    ColumnDef("d", "DECIMAL(8,2) NULL", st.just("12.5")),
    ColumnDef(
        "dt", "DATETIME(3) NULL", st.sampled_from(("'2024-01-02 03:04:05.6'", "'0000-00-00 00:00:00'"))
    ),
    ColumnDef("e", f"ENUM({literal('x')}, {literal('ÿ')}) NULL", st.just(utf8("ÿ"))),
    ColumnDef("s", f"SET({literal('p')}, {literal('q' + chr(92))}) NULL", st.just(utf8("p,q" + chr(92)))),
    ColumnDef("z", "INT(6) UNSIGNED ZEROFILL NULL", st.just("42")),
)


@pytest.mark.parametrize("charset", ["ucs2", "utf16", "utf16le", "utf32", "utf8mb3", "latin1", "binary"])
def test_database_default_charsets(server_url: str, charset: str) -> None:
    table = TableDef((ColumnDef("id", "INT NOT NULL", st.just("1")),), DEFAULT_COLUMNS)
    names = ", ".join(quote(c.name) for c in table.all)
    row = "1, _utf8mb4 'x', _utf8mb4 'long', 12.5, '2024-01-02 03:04:05.6', _utf8mb4 'ÿ', _utf8mb4 'p', 42"
    writes = [
        Write(f"INSERT INTO {{t}} ({names}) VALUES ({row})"),
        Write(f"UPDATE {{t}} SET `a` = {utf8('αβγ€')}, `b` = REPEAT({utf8('é')}, 3000), `dt` = '0000-00-00'"),
        Write(f"INSERT INTO {{t}} ({names}) VALUES ({row}) ON DUPLICATE KEY UPDATE `s` = {utf8(BOTH)}"),
        Write("DELETE FROM {t}"),
    ]
    options = CaptureOptions("full", True, "Geänderter", "Bestellung", None)
    relaxed = Session("", "+05:30", "utf8mb4")
    run_example(server_url, table, f"tbl_{charset}", options, relaxed, relaxed, charset, writes)
