"""Envelopes value for value: every column type written through the live MariaDB, re-encoded per format.

Each expectation is what the peer documents (or its source does) for that
MySQL type; the comment above each table names the place, so a reviewer can
check it:

- Maxwell: ``com.zendesk.maxwell.schema.columndef`` (one ``*ColumnDef`` class per type, ``asJSON``)
  and the "Data types" notes of Maxwell's docs (dataformat.md).
- Debezium: MySQL connector documentation, "How the Debezium MySQL connector maps data types"
  (basic types, temporal types, decimal types, boolean values, spatial types), through Kafka
  Connect's JsonConverter (bytes as base64, Decimal as base64 of the unscaled two's complement).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import sqlalchemy as sa

from outbox_triggers import captures, envelopes
from tests.conftest import Project

DDL = (
    "CREATE TABLE every_type ("
    " id INT PRIMARY KEY,"
    " ti TINYINT, tiu TINYINT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED,"
    " dec2 DECIMAL(10,2), dec30 DECIMAL(65,30), small DECIMAL(20,10),"
    " f FLOAT, d DOUBLE, big DOUBLE,"
    " b1 BIT(1), b12 BIT(12),"
    " vc VARCHAR(20), bin4 BINARY(4), vb VARBINARY(8),"
    " e ENUM('a','b'), s SET('x','y','z'),"
    " zd DATE NOT NULL, dn DATE NULL,"
    " dtm DATETIME(3) NOT NULL, dtm6 DATETIME(6) NULL, ts TIMESTAMP(4) NULL,"
    " tm TIME(2), yr YEAR, j JSON, g POINT, gl LINESTRING"
    ") ENGINE=InnoDB"
)
SPEC = "version: 1\ntables:\n  every_type: {}\ndestinations:\n  default: {type: sqs, queue_url: x}\n"
EDGES = (
    "INSERT INTO every_type VALUES (1, -128, 255, -9223372036854775808, 18446744073709551615,"
    " -12.50, 0, 0.0000001000, 1.1, 0.00001, 12345678.9,"
    " b'1', b'111111111111', 'héllo 😀', x'0102', x'00fffe', 'b', 'x,z',"
    " '0000-00-00', '2024-02-29', '1979-10-01 00:00:00', '2012-01-01 22:32:34.123456',"
    " '2012-01-01 22:32:34.1234', '12:34:56.78', 2155, '{\"a\": [1, 2.5, null]}',"
    " ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('LINESTRING(0 0, 1.5 2)'))"
)
EXTREMES = (
    "INSERT INTO every_type VALUES (3, 127, 0, 9223372036854775807, 9223372036854775808,"
    " 99999999.99, 12345678901234567890123456789012345.123456789012345678901234567890, -0.0000000001,"
    " 3.40282e38, -1.7976931348623157e308, 0.001,"
    " b'0', b'100000000000', '', x'00000000', x'', 'a', '',"
    " '1000-01-01', NULL, '9999-12-31 23:59:59.999', '1969-12-31 23:59:59.999999',"
    " '2038-01-19 03:14:07.9999', '-838:59:59.00', 1901, '[]',"
    " ST_GeomFromText('POINT(-1.5 0)'), NULL)"
)
NULLS = "INSERT INTO every_type (id, zd, dtm) VALUES (2, '0000-00-00', '0000-00-00 00:00:00')"


def num(text: str) -> tuple[str, str]:
    """A JSON number with a fraction or exponent, exactly as written (``json.loads(parse_float=…)``)."""
    return ("number", text)


@pytest.fixture
def written(project: Project) -> tuple[Project, list[str]]:
    """The table migrated, the two rows written (zero dates allowed, UTC session), the native bodies."""
    project.sql(DDL)
    project.write_spec(SPEC)
    project.migrate()
    project.sql("SET SESSION sql_mode = ''", "SET SESSION time_zone = '+00:00'", EDGES, NULLS)
    with project.engine.connect() as conn:
        bodies = [str(r[0]) for r in conn.execute(sa.text("SELECT payload FROM outbox_events ORDER BY seq"))]
    return project, bodies


def encode(project: Project, body: str, fmt: str, options: dict[str, Any] | None = None) -> Any:
    registry = captures.Registry(project.engine, "outbox_events")
    shape = envelopes.formatter(fmt, "shop", options, registry)
    assert shape is not None
    text = shape(body)
    assert text is not None
    return json.loads(text, parse_float=num)


# Maxwell, per column type (columndef/*ColumnDef.asJSON; DateTimeColumnDef/DateColumnDef for zero dates;
# DecimalColumnDef -> BigDecimal written by Jackson with toString; FloatColumnDef -> Float/Double;
# StringColumnDef base64 for the binary charset; BINARY(n) arrives from the binlog without its trailing
# zero bytes; GeometryColumnDef -> JTS Geometry.toText()).
MAXWELL_EDGES = {
    "ti": -128,
    "tiu": 255,
    "bi": -9223372036854775808,
    "biu": 18446744073709551615,  # BigIntColumnDef: unsigned as BigInteger
    "dec2": num("-12.50"),  # BigDecimal keeps the column's scale
    "dec30": num("0E-30"),  # BigDecimal.toString of zero with scale 30
    "small": num("1.000E-7"),  # BigDecimal.toString switches to E notation below 10^-6
    "f": num("1.1"),  # FLOAT -> java.lang.Float
    "d": num("1.0E-5"),  # DOUBLE -> Double.toString
    "big": num("1.23456789E7"),
    "b1": 1,  # BitColumnDef: a number
    "b12": 4095,
    "vc": "héllo 😀",
    "bin4": "AQI=",  # 0x0102 without the padding (mysql-binlog-connector-java #169: the binlog trims it)
    "vb": "AP/+",
    "e": "b",
    "s": ["x", "z"],  # SetColumnDef: a JSON array
    "zd": "0000-00-00",  # DateColumnDef: zero date
    "dn": "2024-02-29",
    "dtm": "1979-10-01 00:00:00.000",  # DateTimeColumnDef: space, fraction to the column's length
    "dtm6": "2012-01-01 22:32:34.123456",
    "ts": "2012-01-01 22:32:34.1234",  # TIMESTAMP in UTC, same format
    "tm": "12:34:56.78",
    "yr": 2155,  # YearColumnDef: a number
    "j": '{"a":[1,2.5,null]}',  # MariaDB's JSON is LONGTEXT: StringColumnDef, its text (MySQL: JsonColumnDef)
    "g": "POINT (1 2)",  # WKT
    "gl": "LINESTRING (0 0, 1.5 2)",
}


def test_maxwell_encodes_every_type_as_maxwell_does(written: tuple[Project, list[str]]) -> None:
    project, (edges, nulls) = written
    message = encode(project, edges, "maxwell")
    assert message["database"] == "shop" and message["type"] == "insert" and message["commit"] is True
    assert {k: v for k, v in message["data"].items() if k != "id"} == MAXWELL_EDGES
    empty = encode(project, nulls, "maxwell")["data"]
    assert empty["zd"] == "0000-00-00" and empty["dtm"] == "0000-00-00 00:00:00.000"  # NOT NULL zero dates
    assert empty["dn"] is None and empty["ts"] is None and empty["g"] is None


def test_maxwell_output_options(written: tuple[Project, list[str]]) -> None:
    project, (_, nulls) = written
    options = {"output_primary_keys": True, "output_primary_key_columns": True, "output_nulls": False}
    message = encode(project, nulls, "maxwell", {**options, "extras": False})
    assert message["primary_key"] == [2] and message["primary_key_columns"] == ["id"]
    assert set(message["data"]) == {"id", "zd", "dtm"}, "output_nulls: false leaves NULL columns out"
    assert set(message) == {
        "database",
        "table",
        "type",
        "ts",
        "commit",
        "primary_key",
        "primary_key_columns",
        "data",
    }


# Debezium (defaults: decimal.handling.mode=precise, time.precision.mode=adaptive_time_microseconds,
# binary.handling.mode=bytes, bigint.unsigned.handling.mode=long), per the connector's type tables.
DEBEZIUM_EDGES = {
    "ti": -128,  # INT16
    "tiu": 255,
    "bi": -9223372036854775808,  # INT64
    "biu": -1,  # bigint.unsigned.handling.mode=long: the value as a Java long
    "dec2": "+x4=",  # org.apache.kafka.connect.data.Decimal: unscaled -1250, two's complement, base64
    "dec30": "AA==",
    "small": "A+g=",  # unscaled 1000 at scale 10
    "f": num("1.1"),  # FLOAT32
    "d": num("1.0E-5"),  # FLOAT64
    "big": num("1.23456789E7"),
    "b1": True,  # BIT(1): BOOLEAN
    "b12": "/w8=",  # io.debezium.data.Bits: little-endian bytes, base64
    "vc": "héllo 😀",
    "bin4": "AQIAAA==",  # BYTES (bytes mode), the full BINARY(4): DBZ-254 pads what the binlog trims
    "vb": "AP/+",
    "e": "b",  # io.debezium.data.Enum
    "s": "x,z",  # io.debezium.data.EnumSet: comma-separated
    "zd": 0,  # zero date in a NOT NULL column: the epoch day
    "dn": 19782,  # io.debezium.time.Date: days since the epoch
    "dtm": 307584000000,  # DATETIME(0-3): io.debezium.time.Timestamp, ms since the epoch
    "dtm6": 1325457154123456,  # DATETIME(4-6): io.debezium.time.MicroTimestamp, µs
    "ts": "2012-01-01T22:32:34.1234Z",  # io.debezium.time.ZonedTimestamp, ISO-8601 in UTC
    "tm": 45296780000,  # io.debezium.time.MicroTime, µs
    "yr": 2155,  # io.debezium.time.Year
    "j": '{"a":[1,2.5,null]}',  # io.debezium.data.Json: the JSON as a string
    # io.debezium.data.geometry.Point; BinlogGeometry.fromBytes: SRID 0 is null
    "g": {"x": num("1.0"), "y": num("2.0"), "wkb": "AQEAAAAAAAAAAADwPwAAAAAAAABA", "srid": None},
    "gl": {"wkb": "AQIAAAACAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAPg/AAAAAAAAAEA=", "srid": None},
}


def test_debezium_encodes_every_type_as_its_mysql_connector_does(written: tuple[Project, list[str]]) -> None:
    project, (edges, nulls) = written
    value = encode(project, edges, "debezium")
    assert value["op"] == "c" and value["before"] is None and value["source"]["db"] == "shop"
    assert {k: v for k, v in value["after"].items() if k != "id"} == DEBEZIUM_EDGES
    server_wkb = project.scalar("SELECT TO_BASE64(ST_AsBinary(gl)) FROM every_type WHERE id = 1")
    assert value["after"]["gl"]["wkb"] == server_wkb, "the WKB the server itself writes"
    empty = encode(project, nulls, "debezium")["after"]
    assert empty["zd"] == 0 and empty["dtm"] == 0 and empty["dn"] is None and empty["ts"] is None


@pytest.mark.parametrize(
    ("options", "column", "expected"),
    [
        ({"decimal.handling.mode": "string"}, "dec2", "-12.50"),
        ({"decimal.handling.mode": "double"}, "dec2", num("-12.5")),
        ({"bigint.unsigned.handling.mode": "precise"}, "biu", "AP//////////"),
        ({"binary.handling.mode": "hex"}, "vb", "00fffe"),
        ({"binary.handling.mode": "base64-url-safe"}, "vb", "AP_-"),
        ({"binary.handling.mode": "base64"}, "bin4", "AQIAAA=="),
        ({"time.precision.mode": "connect"}, "dtm6", 1325457154123),  # connect Timestamp: ms
        ({"time.precision.mode": "connect"}, "tm", 45296780),  # connect Time: ms
        ({"time.precision.mode": "connect"}, "dn", 19782),  # connect Date: days
    ],
)
def test_debezium_options_change_encodings_as_documented(
    written: tuple[Project, list[str]], options: dict[str, Any], column: str, expected: Any
) -> None:
    project, (edges, _) = written
    assert encode(project, edges, "debezium", options)["after"][column] == expected


def test_debezium_schemas_enable_sends_the_connector_schema(written: tuple[Project, list[str]]) -> None:
    project, (edges, _) = written
    message = encode(project, edges, "debezium", {"schemas.enable": True, "extras": False})
    assert set(message) == {"schema", "payload"} and message["payload"]["op"] == "c"
    assert "event_id" not in message["payload"]["source"]
    after = next(f for f in message["schema"]["fields"] if f["field"] == "after")
    fields = {f["field"]: f for f in after["fields"]}
    assert fields["id"] == {"type": "int32", "optional": False, "field": "id"}
    assert fields["tiu"]["type"] == "int16" and fields["bi"]["type"] == "int64"
    assert fields["dec2"]["name"] == "org.apache.kafka.connect.data.Decimal"
    assert fields["dec2"]["parameters"] == {"scale": "2", "connect.decimal.precision": "10"}
    assert fields["f"]["type"] == "float" and fields["d"]["type"] == "double"
    assert fields["b1"]["type"] == "boolean" and fields["b12"]["parameters"] == {"length": "12"}
    assert fields["s"]["parameters"] == {"allowed": "x,y,z"}
    assert (fields["dn"]["name"], fields["dtm"]["name"], fields["dtm6"]["name"]) == (
        "io.debezium.time.Date",
        "io.debezium.time.Timestamp",
        "io.debezium.time.MicroTimestamp",
    )
    assert fields["ts"]["name"] == "io.debezium.time.ZonedTimestamp"
    assert fields["j"] == {"type": "string", "optional": True, "field": "j"}, "MariaDB's JSON is LONGTEXT"
    assert fields["g"]["name"] == "io.debezium.data.geometry.Point"
    assert fields["zd"]["optional"] is False and fields["dn"]["optional"] is True


# The constraints of the CloudEvents 1.0 JSON schema (the spec's cloudevents.json): the four required
# attributes, non-empty strings; source a URI reference; time a date-time; data an object or a string.
CLOUDEVENT_SCHEMA = {
    "type": "object",
    "required": ["specversion", "id", "type", "source"],
    "properties": {
        "specversion": {"type": "string", "minLength": 1},
        "id": {"type": "string", "minLength": 1},
        "type": {"type": "string", "minLength": 1},
        "source": {"type": "string", "format": "uri-reference"},
        "subject": {"type": "string", "minLength": 1},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"type": "string"},
        "dataschema": {"type": "string", "format": "uri"},
        "data": {"type": ["object", "string"]},
        "data_base64": {"type": "string"},
    },
}


def test_cloudevents_validate_with_the_sdk(written: tuple[Project, list[str]]) -> None:
    import jsonschema
    from cloudevents.core.formats.json import JSONFormat

    project, (edges, nulls) = written
    for body in (edges, nulls):
        registry = captures.Registry(project.engine, "outbox_events")
        shape = envelopes.formatter("cloudevents", "shop", {}, registry)
        assert shape is not None
        text = shape(body)
        assert text is not None
        jsonschema.validate(json.loads(text), CLOUDEVENT_SCHEMA, format_checker=jsonschema.FormatChecker())
        event = JSONFormat().read(None, text)  # validates the 1.0 attributes
        native = json.loads(body)
        assert event.get_specversion() == "1.0" and event.get_id() == native["id"]
        assert event.get_source() == "/mysql/shop/every_type" and event.get_type() == "insert"
        assert event.get_subject() == json.dumps(native["key"], separators=(",", ":"))
        assert event.get_datacontenttype() == "application/json" and event.get_data() == native
        assert event.get_time() is not None


def test_an_unrecorded_version_is_refused_with_the_reason(written: tuple[Project, list[str]]) -> None:
    project, (edges, _) = written
    body = json.dumps({**json.loads(edges), "version": "0000000000"})
    shape = envelopes.formatter("maxwell", "shop", {}, captures.Registry(project.engine, "outbox_events"))
    assert shape is not None
    with pytest.raises(envelopes.Unrecorded, match="capture version '0000000000' of table 'every_type'"):
        shape(body)


DEC30 = "12345678901234567890123456789012345.123456789012345678901234567890"


def test_extremes_per_format(project: Project) -> None:
    project.sql(DDL)
    project.write_spec(SPEC)
    project.migrate()
    project.sql("SET SESSION sql_mode = ''", "SET SESSION time_zone = '+00:00'", EXTREMES)
    with project.engine.connect() as conn:
        (body,) = [str(r[0]) for r in conn.execute(sa.text("SELECT payload FROM outbox_events"))]
    data = encode(project, body, "maxwell")["data"]
    assert (data["ti"], data["tiu"], data["bi"], data["biu"]) == (127, 0, 2**63 - 1, 2**63)
    assert (data["dec2"], data["dec30"]) == (num("99999999.99"), num(DEC30))
    assert data["small"] == num("-1E-10"), "BigDecimal.toString: unscaled -1, scale 10"
    assert (data["f"], data["d"], data["big"]) == (
        num("3.40282E38"),
        num("-1.7976931348623157E308"),
        num("0.001"),
    )
    assert (data["b1"], data["b12"], data["vc"], data["bin4"], data["vb"]) == (0, 2048, "", "", "")
    assert (data["s"], data["zd"], data["dtm"]) == ([], "1000-01-01", "9999-12-31 23:59:59.999")
    assert (data["dtm6"], data["ts"]) == ("1969-12-31 23:59:59.999999", "2038-01-19 03:14:07.9999")
    assert data["tm"] == "01:00:01.00", "java.sql.Time of -838:59:59: a time of day"
    assert (data["yr"], data["j"], data["g"], data["gl"]) == (
        1901,
        "[]",
        "POINT (-1.5 0)",
        None,
    )  # MariaDB JSON: text

    after = encode(project, body, "debezium")["after"]
    assert (after["biu"], after["b1"], after["b12"]) == (-(2**63), False, "AAg=")
    unscaled = int(
        DEC30.replace(".", "")
    )  # Decimal: the unscaled value's big-endian two's complement, base64
    assert base64.b64decode(after["dec30"]) == unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big")
    assert (after["bin4"], after["vb"], after["s"]) == ("AAAAAA==", "", "")
    assert (after["zd"], after["dtm"], after["dtm6"]) == (-354285, 253402300799999, -1)
    assert (after["ts"], after["tm"]) == ("2038-01-19T03:14:07.9999Z", -3020399000000)
    assert (after["j"], after["g"]["x"], after["g"]["y"]) == ("[]", num("-1.5"), num("0.0"))
    server_wkb = project.scalar("SELECT TO_BASE64(ST_AsBinary(g)) FROM every_type WHERE id = 3")
    assert after["g"]["wkb"] == server_wkb


SHAPES = {
    1: ("POINT(1 2)", "POINT (1 2)"),
    2: ("LINESTRING(0 0, 1.5 2, 3 -4)", "LINESTRING (0 0, 1.5 2, 3 -4)"),
    3: (
        "POLYGON((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))",
        "POLYGON ((0 0, 4 0, 4 4, 0 0), (1 1, 2 1, 2 2, 1 1))",
    ),
    4: ("MULTIPOINT(1 2, 3 4)", "MULTIPOINT ((1 2), (3 4))"),
    5: ("MULTILINESTRING((0 0, 1 1), (2 2, 3 3))", "MULTILINESTRING ((0 0, 1 1), (2 2, 3 3))"),
    6: (
        "MULTIPOLYGON(((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
        "MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)), ((5 5, 6 5, 6 6, 5 5)))",
    ),
    7: (
        "GEOMETRYCOLLECTION(POINT(1 2), LINESTRING(0 0, 1 1))",
        "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (0 0, 1 1))",
    ),
}


def test_every_geometry_kind_as_wkt_for_maxwell_and_the_servers_wkb_for_debezium(project: Project) -> None:
    project.sql("CREATE TABLE shapes (id INT PRIMARY KEY, g GEOMETRY NOT NULL)")
    project.write_spec(SPEC.replace("every_type", "shapes"))
    project.migrate()
    project.sql(
        *(f"INSERT INTO shapes VALUES ({i}, ST_GeomFromText('{wkt}'))" for i, (wkt, _) in SHAPES.items())
    )
    with project.engine.connect() as conn:
        bodies = [str(r[0]) for r in conn.execute(sa.text("SELECT payload FROM outbox_events ORDER BY seq"))]
    for i, body in enumerate(bodies, start=1):
        # GeometryColumnDef: JTS Geometry.toText(); Debezium: io.debezium.data.geometry.Geometry {wkb, srid}
        assert encode(project, body, "maxwell")["data"]["g"] == SHAPES[i][1]
        server_wkb = project.scalar(f"SELECT TO_BASE64(ST_AsBinary(g)) FROM shapes WHERE id = {i}")
        geometry = encode(project, body, "debezium")["after"]["g"]
        assert (geometry["wkb"], geometry["srid"]) == (server_wkb.replace("\n", ""), None)
