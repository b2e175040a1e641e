"""Each schema that once broke a write or an event, as a test of its own (issue #10's list)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import sqlalchemy as sa

from outbox_triggers import commands, introspect, model, render, spec, toimpl
from outbox_triggers.errors import SchemaMismatchError
from outbox_triggers.ops import ReplaceTriggers

from .conftest import Project

pytestmark = pytest.mark.integration
PACKET = 16 * 1024 * 1024
DESTINATIONS = {"default": {"type": "sqs", "queue_url": "x"}}


def track(project: Project, ddl: str, table: str = "t", options: str = "{}", sessions: str = "") -> Project:
    project.sql(ddl)
    spec = f"version: 1\ntables:\n  {json.dumps(table)}: {options}\n"
    project.write_spec(spec + "destinations:\n  default: {type: sqs, queue_url: x}\n")
    with project.engine.connect() as conn:
        if sessions:
            conn.exec_driver_sql(sessions)
    project.migrate()
    return project


def write(project: Project, *statements: str, session: str = "") -> None:
    with project.engine.connect() as conn:
        if session:
            conn.exec_driver_sql(session)
        for statement in statements:
            conn.exec_driver_sql(statement.replace("%", "%%"))
        conn.commit()


def test_mixed_latin1_and_greek_columns_insert(project: Project) -> None:
    track(
        project,
        "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(20) CHARACTER SET latin1, "
        "b VARCHAR(20) CHARACTER SET greek)",
    )
    write(project, "INSERT INTO t VALUES (1, 'café', 'αβγ')")
    assert project.events()[0]["after"] == {"id": 1, "a": "café", "b": "αβγ"}


def test_gbk_big5_ujis_and_utf16_next_to_decimal_and_datetime(project: Project) -> None:
    track(
        project,
        "CREATE TABLE t (id INT PRIMARY KEY, g VARCHAR(9) CHARACTER SET gbk, "
        "b VARCHAR(9) CHARACTER SET big5, u VARCHAR(9) CHARACTER SET ujis, "
        "w VARCHAR(9) CHARACTER SET utf16, x VARCHAR(9) CHARACTER SET utf32, d DECIMAL(5,2), "
        "s DATETIME, e VARCHAR(9) CHARACTER SET swe7)",
    )
    write(project, "INSERT INTO t VALUES (1, '中文', '中文', '日本', '😀', 'ŝ', 1.5, '2024-01-02', 'abc')")
    after = project.events()[0]["after"]
    assert after == {
        "id": 1,
        "g": "中文",
        "b": "中文",
        "u": "日本",
        "w": "😀",
        "x": "ŝ",
        "d": "1.50",
        "s": "2024-01-02T00:00:00",
        "e": after["e"],
    }
    assert after["e"] == project.scalar("SELECT CONVERT(e USING utf8mb4) FROM t")


def test_large_update_under_the_default_packet_leaves_values_out(project: Project) -> None:
    track(project, "CREATE TABLE t (id INT PRIMARY KEY, doc LONGTEXT, note VARCHAR(10))")
    nine = 9 * 1000 * 1000
    write(
        project,
        f"INSERT INTO t VALUES (1, REPEAT('x', {nine}), 'n')",
        f"UPDATE t SET doc = REPEAT('y', {nine})",
    )
    insert, update = project.events()
    assert update["omitted"] == {
        "reason": "max_event_bytes",
        "limit": 1044480,
        "after": {"doc": nine},
        "before": {"doc": nine},
    }
    assert update["after"] == {"id": 1, "note": "n"} and "doc" not in update["before"]
    assert insert["omitted"]["after"] == {"doc": nine}


def test_ucs2_database_writes_utf8_json_with_numeric_ids(project: Project) -> None:
    project.sql("ALTER DATABASE CHARACTER SET ucs2")
    track(
        project,
        "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(9), j TEXT)",
        options="{event_types: {insert: Größe}}",
    )
    write(project, "INSERT INTO t VALUES (7, 'é', 'x')")
    raw = project.scalar("SELECT CAST(payload AS BINARY) FROM outbox_events")
    event = json.loads(raw.decode("utf-8"))
    assert event["aggregate_id"] == 7 and event["key"] == {"id": 7} and event["event_type"] == "Größe"
    assert b"\x00" not in raw


def test_zero_parts_in_dates_are_null(project: Project) -> None:
    track(project, "CREATE TABLE t (id INT PRIMARY KEY, a DATETIME, d DATE, ok DATETIME)")
    write(
        project,
        "INSERT INTO t VALUES (1, '0003-00-00 00:00:01', '2024-05-00', '0000-01-01 00:00:00')",
        session="SET sql_mode = ''",
    )
    assert project.events()[0]["after"] == {"id": 1, "a": None, "d": None, "ok": "0000-01-01T00:00:00"}


def test_non_ascii_names_and_spec_strings_next_to_latin1_and_ascii(project: Project) -> None:
    track(
        project,
        "CREATE TABLE `Größe` (`ключ` INT PRIMARY KEY, `naïve` VARCHAR(9) CHARACTER SET latin1, "
        "a VARCHAR(9) CHARACTER SET ascii, g VARCHAR(9) CHARACTER SET greek)",
        table="Größe",
        options="{aggregate_type: Größenänderung, event_types: {insert: Neu😀}}",
    )
    write(project, "INSERT INTO `Größe` VALUES (1, 'é', 'a', 'λ')")
    event = project.events()[0]
    assert event["after"] == {"ключ": 1, "naïve": "é", "a": "a", "g": "λ"} and event["event_type"] == "Neu😀"
    assert event["aggregate_type"] == "Größenänderung" and event["table"] == "Größe"


@pytest.mark.parametrize("charset", ["sjis", "swe7"])
def test_sjis_and_swe7_databases_keep_json_structure(project: Project, charset: str) -> None:
    project.sql(f"ALTER DATABASE CHARACTER SET {charset}")
    track(project, "CREATE TABLE t (id INT PRIMARY KEY, n INT, s SET('a', 'b'), j VARCHAR(5))")
    write(project, "INSERT INTO t VALUES (1, 42, 'a,b', 'x')")
    assert project.events()[0]["after"] == {"id": 1, "n": 42, "s": ["a", "b"], "j": "x"}


def test_zerofill_numbers_and_backslashes_in_set_members(project: Project) -> None:
    track(
        project,
        "CREATE TABLE t (id INT(6) UNSIGNED ZEROFILL PRIMARY KEY, d DECIMAL(6,2) ZEROFILL, "
        "f FLOAT(7,2) ZEROFILL, s SET('a\\\\b', 'c''d'))",
    )
    write(project, "INSERT INTO t VALUES (42, 1.5, 2.25, 'a\\\\b,c''d')")
    event = project.events()[0]
    assert event["key"] == {"id": 42} and event["aggregate_id"] == 42
    assert event["after"] == {"id": 42, "d": "1.50", "f": 2.25, "s": ["a\\b", "c'd"]}


def test_on_update_current_timestamp_makes_no_phantom_update(project: Project) -> None:
    now = "CURRENT_TIMESTAMP(6)"
    track(
        project, f"CREATE TABLE t (id INT PRIMARY KEY, a INT, u TIMESTAMP(6) DEFAULT {now} ON UPDATE {now})"
    )
    upsert = "INSERT INTO t (id, a) VALUES (1, 1) ON DUPLICATE KEY UPDATE a = 1"
    write(project, "INSERT INTO t (id, a) VALUES (1, 1)", "UPDATE t SET a = a", upsert, "UPDATE t SET a = 2")
    events = project.events()
    assert [e["op"] for e in events] == ["insert", "update"]
    assert events[1]["after"]["u"] == project.scalar(
        "SELECT DATE_FORMAT(CONVERT_TZ(u, @@time_zone, '+00:00'), '%Y-%m-%dT%H:%i:%s.%fZ') FROM t"
    )


@pytest.mark.parametrize(
    ("ddl", "value", "share"),
    [
        ("LONGTEXT", "REPEAT(CHAR(1 USING utf8mb4), {n})", 0.17),
        ("LONGTEXT", "REPEAT('\"', {n})", 0.55),
        ("LONGBLOB", "REPEAT(x'ff', {n})", 0.76),
        ("LONGTEXT CHARACTER SET utf32", "REPEAT(_utf32 x'0001F600', {n} DIV 4)", 0.45),
    ],
)
def test_json_growth_near_the_packet_never_fails_a_write(
    project: Project, ddl: str, value: str, share: float
) -> None:
    track(
        project,
        f"CREATE TABLE t (id INT PRIMARY KEY, v {ddl}, small INT)",
        options="{max_event_bytes: 16711680}",
    )
    n = int(PACKET * share)
    insert, update = (
        f"INSERT INTO t VALUES (1, {value.format(n=n)}, 1)",
        f"UPDATE t SET v = {value.format(n=n // 2)}",
    )
    write(project, insert, update + ", small = 2", "DELETE FROM t")
    with project.engine.connect() as conn:
        sizes = [int(s) for (s,) in conn.exec_driver_sql("SELECT LENGTH(payload) FROM outbox_events")]
    assert len(sizes) == 3 and max(sizes) <= 16711680
    smalls = [e["after"]["small"] if e["after"] else e["before"]["small"] for e in project.events()]
    assert smalls == [1, 2, 2]


def test_oracle_mode_migrate_and_null_timestamp(project: Project) -> None:
    project.sql("CREATE TABLE t (id INT PRIMARY KEY, s TIMESTAMP NULL, v VARCHAR(5))")
    project.write_spec("version: 1\ntables:\n  t: {}\ndestinations:\n  default: {type: sqs, queue_url: x}\n")
    oracle = sa.engine.make_url(project.url).update_query_dict({"init_command": "SET sql_mode = 'ORACLE'"})
    commands.migrate(project.spec_path, oracle.render_as_string(hide_password=False), output=io.StringIO())
    write(project, "INSERT INTO t VALUES (1, NULL, NULL)", session="SET sql_mode = 'ORACLE'")
    assert project.events()[0]["after"] == {"id": 1, "s": None, "v": None}


def test_charset_converted_after_migrate_keeps_writes_working(project: Project) -> None:
    """CONVERT TO CHARACTER SET cannot break the triggers; a type change is drift that check names."""
    track(project, "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(20) CHARACTER SET utf8mb4, n INT)")
    project.sql("ALTER TABLE t CONVERT TO CHARACTER SET latin1")
    write(project, "INSERT INTO t VALUES (1, 'é', 1)")
    assert project.events()[0]["after"] == {"id": 1, "a": "é", "n": 1}
    assert commands.check(project.spec_path, project.url).ok
    project.sql("ALTER TABLE t MODIFY n VARCHAR(5)")
    (finding,) = commands.check(project.spec_path, project.url).findings
    assert finding.kind == "unrevised_change" and finding.table == "t"


def test_write_paths_on_a_mixed_charset_table(project: Project, tmp_path: Any) -> None:
    track(
        project,
        "CREATE TABLE t (id INT PRIMARY KEY, a VARCHAR(9) CHARACTER SET latin1, "
        "b VARCHAR(9) CHARACTER SET sjis)",
    )
    project.sql("CREATE TABLE other (id INT PRIMARY KEY)", "INSERT INTO other VALUES (1), (2)")
    write(
        project,
        "INSERT INTO t VALUES (1, 'é', 'ア'), (2, 'ü', 'イ')",
        "INSERT IGNORE INTO t VALUES (1, 'x', 'x')",
        "INSERT INTO t VALUES (1, 'é', 'ア') ON DUPLICATE KEY UPDATE a = 'è'",
        "REPLACE INTO t VALUES (2, 'ö', 'ウ')",
        "UPDATE t JOIN other USING (id) SET t.b = 'エ'",
        "DELETE t FROM t JOIN other USING (id) WHERE other.id = 1",
        session="SET sql_mode = 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES,STRICT_ALL_TABLES', time_zone = '-03:00'",
    )
    ops = [(e["op"], e["key"]["id"]) for e in project.events()]
    assert ops == [
        ("insert", 1),
        ("insert", 2),
        ("update", 1),
        ("delete", 2),
        ("insert", 2),
        ("update", 1),
        ("update", 2),
        ("delete", 1),
    ]


def test_a_packet_lowered_after_migrate_degrades_the_event_not_the_write(project: Project) -> None:
    """Triggers built for a 64 MiB packet, run under 16 MiB: the event lists every value as omitted."""
    project.sql("CREATE TABLE t (id INT PRIMARY KEY, v LONGTEXT)")
    document = {"version": 1, "tables": {"t": {"max_event_bytes": 60 << 20}}, "destinations": DESTINATIONS}
    with project.engine.connect() as conn:
        built = model.build(spec.parse(json.dumps(document)), introspect.shapes(conn, ["t"]), packet=64 << 20)
        rendered = render.render(built, "mariadb")
        conn.exec_driver_sql(rendered.events_table_sql)
        create = {t.name: t.sql for t in rendered.triggers}
        toimpl.replace_triggers(conn, ReplaceTriggers("t", (), create), "mariadb")
    write(project, "INSERT INTO t VALUES (4, REPEAT('\"', 9000000))")
    (event,) = project.events()
    assert event["after"] == {} and event["key"] == {"id": 4}
    assert event["omitted"] == {
        "reason": "capture_failed",
        "limit": 60 << 20,
        "after": {"id": 1, "v": 9000000},
    }


def test_unsafe_tables_are_refused_before_any_ddl(project: Project) -> None:
    project.sql(
        "CREATE TABLE blobkey (b BLOB NOT NULL, PRIMARY KEY (b(10)))",
        "CREATE TABLE textagg (id INT PRIMARY KEY, t TEXT)",
        "CREATE TABLE wide (id INT PRIMARY KEY, " + ", ".join(f"c{i} DATETIME(6)" for i in range(100)) + ")",
        "CREATE TABLE big (id INT PRIMARY KEY)",
        "CREATE TABLE myisam (id INT PRIMARY KEY) ENGINE=MyISAM",
    )
    project.write_spec(
        "version: 1\ntables:\n  blobkey: {}\n  textagg: {aggregate_id: t}\n  wide: {max_event_bytes: 4096}\n"
        "  big: {max_event_bytes: 64MiB}\n  myisam: {}\ndestinations:\n  default: {type: sqs, queue_url: x}\n"
    )
    with pytest.raises(SchemaMismatchError) as refused:
        project.migrate()
    text = str(refused.value)
    assert (
        "tables.blobkey: key column 'b' (blob)" in text and "tables.textagg: aggregate_id column 't'" in text
    )
    assert "tables.wide: an insert event needs at least" in text and "exclude columns" in text
    assert "tables.big.max_event_bytes: 67108864 bytes is more than this server can build" in text
    assert "tables.myisam: table 'myisam' uses the MyISAM engine, which is not transactional" in text
    assert (
        project.scalar("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")
        == 0
    )
    assert (
        project.scalar(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_NAME = 'outbox_events' "
            "AND TABLE_SCHEMA = DATABASE()"
        )
        == 0
    )


def test_enum_and_set_members_beyond_the_bmp(project: Project) -> None:
    """information_schema names members in utf8mb3, which turns 😀 into '?'; the value itself does not."""
    track(project, "CREATE TABLE t (id INT PRIMARY KEY, e ENUM('😀', 'ä'), s SET('😀', 'b\\\\'))")
    write(project, "INSERT INTO t VALUES (1, '😀', '😀'), (2, 'ä', ''), (3, NULL, 'b\\\\,😀')")
    assert [e["after"] for e in project.events()] == [
        {"id": 1, "e": "😀", "s": ["😀"]},
        {"id": 2, "e": "ä", "s": []},
        {"id": 3, "e": None, "s": ["😀", "b\\"]},
    ]


def test_no_op_updates_carry_the_stored_time_of_auto_updated_columns(project: Project) -> None:
    """With skip_noop_updates: false, a 0-row UPDATE is an event whose images hold the row as stored."""
    now = "CURRENT_TIMESTAMP(3)"
    track(
        project,
        f"CREATE TABLE t (id INT PRIMARY KEY, a INT, hidden INT, u TIMESTAMP(3) DEFAULT {now} "
        f"ON UPDATE {now})",
        options="{skip_noop_updates: false, before_image: changed, exclude_columns: [hidden]}",
    )
    write(project, "INSERT INTO t VALUES (1, 1, 1, '2020-01-01 00:00:00')")
    write(
        project,
        "INSERT INTO t (id, a) VALUES (1, 1) ON DUPLICATE KEY UPDATE a = 1",
        "UPDATE t SET hidden = 2",
    )
    noop, hidden = project.events()[1:]
    assert noop["before"] == {} and noop["after"]["u"] == "2020-01-01T00:00:00.000Z"
    stored = project.scalar(
        "SELECT DATE_FORMAT(CONVERT_TZ(u, @@time_zone, '+00:00'), '%Y-%m-%dT%H:%i:%s.%f') FROM t"
    )
    assert hidden["before"] == {"u": "2020-01-01T00:00:00.000Z"} and hidden["after"]["u"] == stored[:23] + "Z"
