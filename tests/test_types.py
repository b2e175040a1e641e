"""Type fidelity on the live MariaDB: every event image equals the documented mapping of a SELECT."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
from typing import Any

import pymysql
import pytest

from .conftest import Project

pytestmark = pytest.mark.integration

TABLE = """
CREATE TABLE matrix (
  id INT PRIMARY KEY,
  ti TINYINT, tu TINYINT UNSIGNED, si SMALLINT, mi MEDIUMINT, i INT, iu INT UNSIGNED,
  bi BIGINT, bu BIGINT UNSIGNED,
  d65 DECIMAL(65,30), d DECIMAL(10,2), f FLOAT, db DOUBLE,
  b1 BIT(1), b64 BIT(64),
  c CHAR(4), vc VARCHAR(100), tx TEXT, latin VARCHAR(20) CHARACTER SET latin1,
  bn BINARY(4), vb VARBINARY(64), bl BLOB, lb LONGBLOB,
  e ENUM('small','large'), st SET('a','b','c','d'),
  dd DATE, dt0 DATETIME, dt6 DATETIME(6), ts6 TIMESTAMP(6) NULL, ts0 TIMESTAMP NULL,
  tm TIME, tm3 TIME(3), y YEAR,
  j JSON, g POINT,
  gen_stored BIGINT AS (i + 1) STORED, gen_virtual VARCHAR(110) AS (CONCAT(vc, '!')) VIRTUAL
) CHARACTER SET utf8mb4
"""
COLUMNS = [
    "ti",
    "tu",
    "si",
    "mi",
    "i",
    "iu",
    "bi",
    "bu",
    "d65",
    "d",
    "f",
    "db",
    "b1",
    "b64",
    "c",
    "vc",
    "tx",
    "latin",
    "bn",
    "vb",
    "bl",
    "lb",
    "e",
    "st",
    "dd",
    "dt0",
    "dt6",
    "ts6",
    "ts0",
    "tm",
    "tm3",
    "y",
    "j",
    "g",
]
ROWS: list[tuple[Any, ...]] = [
    (
        1,
        -128,
        255,
        -32768,
        -8388608,
        -2147483648,
        4294967295,
        -9223372036854775808,
        18446744073709551615,
        "12345678901234567890123456789012345.123456789012345678901234567891",
        "-12.50",
        1.5,
        0.1,
        b"\x01",
        b"\xff" * 8,
        "ab",
        "😀 4-byte emoji, ünïcödé",
        'multi\nline "quoted" \\ text',
        "café",
        b"\x00\x01\x02\x03",
        b"\xff\xfe\x00invalid utf-8\x80",
        b"\x00" * 3,
        bytes(range(256)),
        "large",
        "a,c",
        "2024-02-29",
        "2024-01-02 03:04:05",
        "2024-01-02 03:04:05.123456",
        "2024-06-30 23:59:59.654321",
        "1999-12-31 23:00:00",
        "-838:59:59",
        "12:34:56.789",
        2155,
        '{"nested": {"list": [1, 2.5, "x", null, true]}, "n": null}',
        "POINT(1.5 -2)",
    ),
    (
        2,
        127,
        0,
        32767,
        8388607,
        2147483647,
        0,
        9223372036854775807,
        0,
        "-0.000000000000000000000000000001",
        "0.00",
        -2.5,
        -1e300,
        b"\x00",
        b"\x00" * 8,
        "",
        "",
        "",
        "",
        b"\x00\x00\x00\x00",
        b"",
        b"",
        b"",
        "small",
        "",
        "1000-01-01",
        "9999-12-31 23:59:59",
        "1970-01-01 00:00:00.000001",
        "2038-01-19 03:14:07.999999",
        "1970-01-01 05:30:01",
        "00:00:00",
        "-00:00:01.500",
        1901,
        "[]",
        "POINT(0 0)",
    ),
    (3, *[None] * 34),
]


def _mapping(column: str, value: Any, members: tuple[str, ...]) -> Any:
    """The README's type mapping, applied to what pymysql returns for a SELECT in a UTC session."""
    if value is None:
        return None
    if members:
        chosen = set(value.split(",")) if isinstance(value, str) and value else set(value or ())
        return [m for m in members if m in chosen]
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if column in ("b1", "b64"):
        return int.from_bytes(value, "big")
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dt.datetime):
        digits = {"dt0": 0, "dt6": 6, "ts6": 6, "ts0": 0}[column]
        text = value.strftime("%Y-%m-%dT%H:%M:%S") + (
            f".{value.microsecond:06d}"[: digits + 1] if digits else ""
        )
        return text + ("Z" if column.startswith("ts") else "")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _time(value, 3 if column == "tm3" else 0)
    if column == "j":
        return json.loads(value)
    return value


def _time(delta: dt.timedelta, digits: int) -> str:
    micros = round(delta.total_seconds() * 1_000_000)
    sign, micros = ("-" if micros < 0 else ""), abs(micros)
    hours, rest = divmod(micros, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    seconds, fraction = divmod(rest, 1_000_000)
    text = f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}"
    return text + (f".{fraction:06d}"[: digits + 1] if digits else "")


def _select(project: Project) -> dict[int, dict[str, Any]]:
    url = project.engine.url
    conn = pymysql.connect(
        host=url.host,
        port=url.port or 3306,
        user=url.username,
        password=url.password or "",
        database=url.database,
        charset="utf8mb4",
        init_command="SET time_zone = '+00:00'",
    )
    try:
        with conn.cursor(pymysql.cursors.DictCursor) as cur:
            cur.execute(
                f"SELECT id, {', '.join(c for c in COLUMNS if c != 'g')}, gen_stored, gen_virtual FROM matrix"
            )
            return {row["id"]: row for row in cur.fetchall()}
    finally:
        conn.close()


@pytest.fixture
def matrix(project: Project) -> Project:
    project.sql(TABLE)
    project.write_spec(
        "version: 1\ntables:\n  matrix: {}\ndestinations:\n  default: {type: sqs, queue_url: x}\n"
    )
    project.migrate()
    placeholders = ", ".join(["%s"] * 33 + ["ST_GeomFromText(%s)"])
    with project.engine.connect() as conn:
        conn.exec_driver_sql("SET time_zone = '+05:30'")
        sql = f"INSERT INTO matrix (id, {', '.join(COLUMNS)}) VALUES (%s, {placeholders})"
        for row in ROWS:
            conn.exec_driver_sql(sql, row)
        conn.commit()
    return project


def test_every_type_decodes_to_the_documented_mapping_of_a_select(matrix: Project) -> None:
    selected = _select(matrix)
    events = {e["key"]["id"]: e["after"] for e in matrix.events()}
    members = {"st": ("a", "b", "c", "d")}
    for row_id, row in selected.items():
        after = events[row_id]
        for column in [c for c in COLUMNS if c != "g"] + ["gen_stored", "gen_virtual"]:
            expected = _mapping(column, row[column], members.get(column, ()))
            assert after[column] == expected, (
                f"row {row_id} column {column}: {after[column]!r} != {expected!r}"
            )


def test_edge_values_are_exact(matrix: Project) -> None:
    events = {e["key"]["id"]: e["after"] for e in matrix.events()}
    first, second, empty = events[1], events[2], events[3]
    assert first["bu"] == 18446744073709551615 and first["bi"] == -9223372036854775808
    assert first["d65"] == "12345678901234567890123456789012345.123456789012345678901234567891"
    assert second["d65"] == "-0.000000000000000000000000000001" and second["d"] == "0.00"
    assert first["b64"] == 18446744073709551615 and first["b1"] == 1
    assert first["vc"] == "😀 4-byte emoji, ünïcödé" and first["latin"] == "café"
    assert base64.b64decode(first["vb"]) == b"\xff\xfe\x00invalid utf-8\x80"
    assert base64.b64decode(first["lb"]) == bytes(range(256)) and "\n" not in first["lb"]
    assert second["vc"] == "" and empty["vc"] is None
    assert second["st"] == [] and first["st"] == ["a", "c"] and empty["st"] is None
    assert first["j"] == {"nested": {"list": [1, 2.5, "x", None, True]}, "n": None}
    assert first["g"] == {"type": "Point", "coordinates": [1.5, -2]}
    assert first["ts6"] == "2024-06-30T18:29:59.654321Z", "written at +05:30, captured in UTC"
    assert first["dt6"] == "2024-01-02T03:04:05.123456" and first["dt0"] == "2024-01-02T03:04:05"
    assert first["tm"] == "-838:59:59" and second["tm3"] == "-00:00:01.500"
    assert first["y"] == 2155 and first["f"] == 1.5
    assert first["gen_stored"] == -2147483647 and first["gen_virtual"] == "😀 4-byte emoji, ünïcödé!"
    assert all(value is None for name, value in empty.items() if name not in ("id",))


def test_zero_dates_are_null(project: Project) -> None:
    project.sql("CREATE TABLE z (id INT PRIMARY KEY, d DATE, t DATETIME, s TIMESTAMP NULL)")
    project.write_spec("version: 1\ntables:\n  z: {}\ndestinations:\n  default: {type: sqs, queue_url: x}\n")
    project.migrate()
    with project.engine.connect() as conn:
        conn.exec_driver_sql("SET sql_mode = ''")
        conn.exec_driver_sql(
            "INSERT INTO z VALUES (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00')"
        )
        conn.commit()
    (event,) = project.events()
    assert event["after"] == {"id": 1, "d": None, "t": None, "s": None}


def test_event_ts_is_utc_whatever_the_session_time_zone(project: Project) -> None:
    project.sql("CREATE TABLE t (id INT PRIMARY KEY)")
    project.write_spec("version: 1\ntables:\n  t: {}\ndestinations:\n  default: {type: sqs, queue_url: x}\n")
    project.migrate()
    with project.engine.connect() as conn:
        conn.exec_driver_sql("SET time_zone = '-07:00'")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        conn.commit()
    (event,) = project.events()
    ts = dt.datetime.strptime(event["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
    assert abs((dt.datetime.now(dt.timezone.utc) - ts).total_seconds()) < 60
