"""Envelopes consumers already understand: Debezium's change-event value and Maxwell's JSON."""

from __future__ import annotations

import json
import time

import pytest

from outbox_triggers.dispatch import Dispatcher, Finished
from outbox_triggers.envelopes import debezium, formatter, maxwell
from outbox_triggers.events import Event
from outbox_triggers.publishers.stub import StubPublisher

UPDATE = {
    "id": "0b6c4f3e-e733-11f1-b7e3-02fc00000001",
    "table": "orders",
    "op": "update",
    "event_type": "OrderPaid",
    "aggregate_type": "Order",
    "aggregate_id": 7,
    "key": {"id": 7},
    "before": {"id": 7, "status": "new", "total": "12.50"},
    "after": {"id": 7, "status": "paid", "total": "12.50"},
    "ts": "2026-11-23T11:42:46.835789Z",
    "version": "3f9a0c1b2d",
}


def test_debezium_value_shape() -> None:
    value = debezium(UPDATE, "shop")
    assert set(value) == {"before", "after", "source", "op", "ts_ms", "transaction"}
    assert value["op"] == "u" and value["before"] == UPDATE["before"] and value["after"] == UPDATE["after"]
    source = value["source"]
    assert (source["db"], source["table"], source["ts_ms"]) == ("shop", "orders", 1795434166835)
    assert source["event_id"] == UPDATE["id"] and source["event_type"] == "OrderPaid"
    assert source["aggregate_id"] == 7 and source["capture_version"] == "3f9a0c1b2d"
    assert debezium({**UPDATE, "op": "insert", "before": None}, "shop")["op"] == "c"
    assert debezium({**UPDATE, "op": "delete", "after": None}, "shop")["op"] == "d"


def test_maxwell_shape_with_old_holding_only_changed_columns() -> None:
    message = maxwell(UPDATE, "shop")
    assert message["database"] == "shop" and message["table"] == "orders" and message["type"] == "update"
    assert message["ts"] == 1795434166 and message["data"] == UPDATE["after"]
    assert message["old"] == {"status": "new"}
    assert message["event_id"] == UPDATE["id"] and message["version"] == "3f9a0c1b2d"


def test_maxwell_delete_carries_the_deleted_row_as_data_and_no_old() -> None:
    message = maxwell({**UPDATE, "op": "delete", "after": None}, "shop")
    assert message["type"] == "delete" and message["data"] == UPDATE["before"] and "old" not in message


def test_native_passes_bytes_untouched_and_others_are_reshaped_per_destination() -> None:
    assert formatter("native", "shop") is None
    body = json.dumps(UPDATE)
    native, dbz = StubPublisher("native"), StubPublisher("dbz")
    dbz.format = "debezium"
    dispatcher = Dispatcher({"orders": [native, dbz]}, database="shop")
    dispatcher.add([Event(1, "orders", 7, body)])
    assert dispatcher.drain().result.accepted == [1]
    assert native.sent[0].body is body
    assert json.loads(dbz.sent[0].body)["source"]["db"] == "shop"
    assert dbz.sent[0].native == body, "ids and ordering keys still come from the native event"


READ = {**UPDATE, "op": "read", "before": None, "backfill": "bf-1"}
START = {
    "id": "e1",
    "table": "orders",
    "op": "snapshot_start",
    "key": None,
    "before": None,
    "after": None,
    "ts": UPDATE["ts"],
    "backfill": "bf-1",
}
APPLICATION = {
    "id": "a1",
    "op": "event",
    "event_type": "OrderShipped",
    "aggregate_type": "Order",
    "aggregate_id": "7",
    "payload": {"carrier": "ups", "items": [1, 2]},
    "headers": {"trace": "x"},
    "ts": UPDATE["ts"],
}


def test_backfill_reads_and_markers_per_format() -> None:
    dbz = formatter("debezium", "shop")
    mxw = formatter("maxwell", "shop")
    assert dbz is not None and mxw is not None
    read = json.loads(dbz(json.dumps(READ)) or "")
    assert read["op"] == "r" and read["source"]["snapshot"] == "true" and read["source"]["backfill"] == "bf-1"
    assert dbz(json.dumps(START)) is None, "Debezium has no marker message"
    assert dbz(json.dumps({**START, "op": "snapshot_end"})) is None
    assert json.loads(mxw(json.dumps(READ)) or "")["type"] == "bootstrap-insert"
    start = json.loads(mxw(json.dumps(START)) or "")
    assert start["type"] == "bootstrap-start" and start["data"] == {}
    end = json.loads(mxw(json.dumps({**START, "op": "snapshot_end"})) or "")
    assert end["type"] == "bootstrap-complete" and end["data"] == {}


def test_application_events_per_format() -> None:
    body = json.dumps(APPLICATION)
    dbz, mxw, ce = (formatter(f, "shop") for f in ("debezium", "maxwell", "cloudevents"))
    assert dbz is not None and mxw is not None and ce is not None
    assert json.loads(dbz(body) or "") == APPLICATION["payload"], "the Outbox Event Router sends the payload"
    assert json.loads(mxw(body) or "") == APPLICATION
    cloud = json.loads(ce(body) or "")
    assert (
        cloud["type"] == "OrderShipped" and cloud["subject"] == "7" and cloud["source"] == "/mysql/shop/Order"
    )


def test_a_destination_with_nothing_to_send_counts_the_event_as_delivered() -> None:
    native, dbz = StubPublisher("native"), StubPublisher("dbz")
    dbz.format = "debezium"
    dispatcher = Dispatcher({"orders": [native, dbz]}, database="shop")
    dispatcher.add([Event(1, "orders", 0, json.dumps(START)), Event(2, "orders", 7, json.dumps(UPDATE))])
    finished, deadline = Finished(), time.monotonic() + 10
    while dispatcher.holding() and time.monotonic() < deadline:  # the marker is a fence: 2 goes after it
        finished.fold(dispatcher.collect(0.05))
    assert sorted(finished.result.accepted) == [1, 2]
    assert [m.seq for m in native.sent] == [1, 2] and [m.seq for m in dbz.sent] == [2]


def test_eventbridge_maps_a_cloudevent_to_source_detail_type_and_detail() -> None:
    from outbox_triggers.publishers.base import Message
    from outbox_triggers.publishers.eventbridge import EventBridgePublisher

    body = json.dumps(UPDATE)
    shape = formatter("cloudevents", "shop", {"type": "order.changed"})
    assert shape is not None
    cloud = shape(body) or ""
    entry = EventBridgePublisher("bus", None, format="cloudevents")._entry(
        Message(1, "orders", 7, cloud, body)
    )
    assert (entry["Source"], entry["DetailType"]) == ("/mysql/shop/orders", "order.changed")
    assert json.loads(entry["Detail"])["specversion"] == "1.0"
    fixed = EventBridgePublisher("bus", None, source="shop", format="cloudevents")
    assert fixed._entry(Message(1, "orders", 7, cloud, body))["Source"] == "shop", (
        "the destination's own wins"
    )


def test_cloudevents_binary_mode_only_where_messages_have_attributes() -> None:
    from outbox_triggers import spec
    from outbox_triggers.errors import SpecError

    text = (
        "version: 1\ntables:\n  orders: {}\ndestinations:\n  default:\n    type: kinesis\n"
        "    stream_name: s\n    format: cloudevents\n    cloudevents: {mode: binary}\n"
    )
    with pytest.raises(
        SpecError, match=r"destinations\.default\.cloudevents\.mode: binary mode needs message"
    ):
        spec.parse(text, environ={})


def test_a_mysql_json_column_is_the_json_itself_for_maxwell_and_a_string_for_debezium() -> None:
    from outbox_triggers.envelopes.native import dumps
    from outbox_triggers.envelopes.types import TableTypes

    columns = [
        {"name": "id", "type": "int", "kind": "integer", "nullable": False},
        {"name": "doc", "type": "json", "kind": "json", "nullable": True},
    ]
    types = TableTypes.from_record("v", "orders", columns, ["id"])
    event = {**UPDATE, "op": "insert", "before": None, "after": {"id": 7, "doc": {"a": [1, None]}}}
    assert json.loads(dumps(maxwell(event, "shop", types)))["data"]["doc"] == {
        "a": [1, None]
    }  # JsonColumnDef
    assert debezium(event, "shop", types)["after"]["doc"] == '{"a":[1,null]}'  # io.debezium.data.Json


def test_maxwell_time_of_day_wraps_as_java_sql_time_prints_it() -> None:
    from outbox_triggers.envelopes.maxwell import encode
    from outbox_triggers.envelopes.types import ColumnType

    column = ColumnType.parse("t", "time(2)", "time")
    # TimeColumnDef: new java.sql.Time(micros / 1000), printed as a time of day
    assert [encode(column, v) for v in ("12:34:56.78", "838:59:59.00", "-01:00:00.00", "24:00:00.00")] == [
        "12:34:56.78",
        "22:59:59.00",
        "23:00:00.00",
        "00:00:00.00",
    ]


def test_debezium_zoned_timestamp_keeps_the_columns_fractional_width() -> None:
    from outbox_triggers.envelopes.debezium import encode
    from outbox_triggers.envelopes.types import ColumnType

    # ZonedTimestamp.toIsoString(value, zone, adjuster, fractionalWidth = the column's precision)
    six = ColumnType.parse("t", "timestamp(6)", "timestamp")
    assert encode(six, "2012-01-01T22:32:34.120000Z") == "2012-01-01T22:32:34.120000Z"
    zero = ColumnType.parse("t", "timestamp", "timestamp")
    assert encode(zero, "2012-01-01T22:32:34Z") == "2012-01-01T22:32:34Z"


def test_debezium_json_text_is_the_binlog_connectors() -> None:
    from outbox_triggers.envelopes.java import json_text

    # JsonStringFormatter: compact; Double.toString, or BigDecimal(double).toPlainString with an exponent
    assert json_text({"a": [1, 2.5, None, True], "b": "é\n"}) == '{"a":[1,2.5,null,true],"b":"é\\n"}'
    assert json_text(1e20) == "100000000000000000000" and json_text(1.0) == "1.0"


def test_maxwell_writes_a_mysql_json_column_raw_as_the_binlog_connector_prints_it() -> None:
    from outbox_triggers.envelopes.maxwell import encode
    from outbox_triggers.envelopes.native import dumps
    from outbox_triggers.envelopes.types import ColumnType

    # MaxwellJson.writeValueToJSON: RawJSONString from binlog-connector's JsonStringFormatter, written raw
    column = ColumnType.parse("doc", "json", "json")
    expected = '{"doc":{"big":100000000000000000000,"x":2.5,"s":"a\\"b"}}'
    assert dumps({"doc": encode(column, {"big": 1e20, "x": 2.5, "s": 'a"b'})}) == expected


def test_maxwell_bit_values_are_summed_as_java_does() -> None:
    from outbox_triggers.envelopes.maxwell import encode
    from outbox_triggers.envelopes.types import ColumnType

    # BitColumnDef.bytesToLong: res += ((bytes[i] & 0xFF) << (i * 8)), an int shift
    column = ColumnType.parse("b", "bit(64)", "bit")
    assert [encode(column, v) for v in (0, 5, 4095, 2**31 - 1)] == [0, 5, 4095, 2**31 - 1]
    assert encode(column, 2**31) == -(2**31), "byte 3 above 127 shifts into an int's sign"
    assert encode(column, 2**32) == 1, "the shift distance wraps at 32"
    assert encode(column, 2**64 - 1) == 2**64 - 1, "eight bytes with the top bit set: the BigInteger"


def test_maxwell_enum_invalid_value_is_null() -> None:
    from outbox_triggers.envelopes.maxwell import encode
    from outbox_triggers.envelopes.types import ColumnType

    # EnumColumnDef.asString: index 0 -> null; a declared '' member stays ''
    assert encode(ColumnType.parse("e", "enum('a','b')", "enum"), "") is None
    assert encode(ColumnType.parse("e", "enum('','a')", "enum"), "") == ""
    assert encode(ColumnType.parse("e", "enum('a','b')", "enum"), "b") == "b"


@pytest.mark.parametrize(
    ("sql_type", "kind", "expected"),
    [
        ("int(11)", "integer", ("int", False, 11, 0, ())),
        ("int unsigned", "integer", ("int", True, None, 0, ())),  # MySQL 8 drops display widths
        ("decimal(10,2) unsigned zerofill", "decimal", ("decimal", True, 10, 2, ())),
        ("datetime(6)", "datetime", ("datetime", False, 6, 0, ())),
        ("enum('a','it''s','x,y')", "enum", ("enum", False, None, 0, ("a", "it's", "x,y"))),
        ("set('','b')", "set", ("set", False, None, 0, ("", "b"))),
        ("enum('a)','(b')", "enum", ("enum", False, None, 0, ("a)", "(b"))),
        ("point", "spatial", ("point", False, None, 0, ())),
    ],
)
def test_column_types_parse_as_information_schema_writes_them(
    sql_type: str, kind: str, expected: tuple[object, ...]
) -> None:
    from outbox_triggers.envelopes.types import ColumnType

    column = ColumnType.parse("c", sql_type, kind)
    assert (column.base, column.unsigned, column.length, column.scale, column.members) == expected


def test_sqs_keeps_room_for_the_attributes_of_re_enveloped_messages() -> None:
    from outbox_triggers.publishers.sqs import ATTRIBUTE_RESERVE, SQS_MAX_BYTES, SqsPublisher

    native = SqsPublisher("n", "https://q", None)
    assert native.max_message_bytes == native.max_request_bytes == SQS_MAX_BYTES
    shaped = SqsPublisher("m", "https://q", None, format="maxwell")
    assert shaped.max_message_bytes == SQS_MAX_BYTES - ATTRIBUTE_RESERVE
    assert shaped.max_request_bytes == SQS_MAX_BYTES - 10 * ATTRIBUTE_RESERVE


def test_debezium_source_has_every_field_of_the_mysql_connectors_source_block() -> None:
    source = debezium({**UPDATE, "op": "insert", "before": None}, "shop")["source"]
    # io.debezium.connector.mysql.Source: version, connector, name, ts_ms, snapshot, db, sequence, table,
    # server_id, gtid, file, pos, row, thread, query
    names = ("version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "table", "server_id")
    assert set(names) | {"gtid", "file", "pos", "row", "thread", "query"} <= set(source)
    assert (source["connector"], source["file"], source["pos"], source["row"]) == ("mysql", "", 0, 0)


def test_sns_binary_cloudevents_and_re_enveloped_attributes() -> None:
    from outbox_triggers.publishers.base import Message
    from outbox_triggers.publishers.sns import SnsPublisher

    body = json.dumps(UPDATE)
    shape = formatter("cloudevents", "shop")
    assert shape is not None
    structured = shape(body) or ""
    binary = SnsPublisher("t", "arn:aws:sns:us-east-1:123456789012:t", None, format="cloudevents")
    binary.binary = True
    entry = binary._entry(Message(1, "orders", 7, structured, body))
    attributes = {k: v["StringValue"] for k, v in entry["MessageAttributes"].items()}
    assert entry["Message"] == body, "binary mode: the body is the event (the data)"
    assert attributes["ce-id"] == UPDATE["id"] and attributes["ce-specversion"] == "1.0"
    assert attributes["table"] == "orders", "SNS keeps its filter-policy attributes"
    dbz = SnsPublisher("t", "arn:aws:sns:us-east-1:123456789012:t", None, format="debezium")
    dbz_shape = formatter("debezium", "shop")
    assert dbz_shape is not None
    sent = dbz._entry(Message(1, "orders", 7, dbz_shape(body) or "", body))["MessageAttributes"]
    assert sent["event_id"]["StringValue"] == UPDATE["id"] and sent["key"]["StringValue"] == '{"id":7}'
