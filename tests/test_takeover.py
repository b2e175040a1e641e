"""Taking over a Debezium outbox table: its AFTER INSERT trigger, its options and refusals, golden SQL."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from outbox_triggers import commands
from outbox_triggers.errors import SchemaMismatchError, SpecError
from outbox_triggers.model import Column, Model
from outbox_triggers.render import FLAVORS, render, script
from outbox_triggers.takeover import Placement, Takeover
from tests.conftest import Project, drain_queue

GOLDEN = Path(__file__).parent / "golden"
OUTBOX = (
    "CREATE TABLE outbox (id CHAR(36) NOT NULL PRIMARY KEY, aggregatetype VARCHAR(255) NOT NULL, "
    "aggregateid VARCHAR(255) NOT NULL, type VARCHAR(255) NOT NULL, payload {payload} NULL, "
    "tenant VARCHAR(20) NULL, version INT NULL) ENGINE=InnoDB"
)
SPEC = """\
version: 1
tables:
  outbox:
    debezium_outbox: {option}
destinations:
  default:
    type: sqs
    queue_url: ${{QUEUE_URL:-https://sqs.us-east-1.amazonaws.com/123456789012/unused}}
"""
INSERT = (
    "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload, tenant, version) "
    "VALUES ('{id}', 'order', '{agg}', 'OrderPaid', '{payload}', 'acme', 3)"
)


def _setup(project: Project, option: str = "true", payload: str = "LONGTEXT") -> Project:
    project.sql(OUTBOX.format(payload=payload))
    project.write_spec(SPEC.format(option=option))
    project.migrate()
    return project


def _insert(id: str, agg: str = "42", payload: str = '{"amount": "12.50"}') -> str:
    return INSERT.format(id=id, agg=agg, payload=payload)


def _events(project: Project) -> list[tuple[str, int, dict[str, Any]]]:
    with project.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT table_name, key_hash, payload FROM outbox_events ORDER BY seq"
        ).all()
    return [(t, k, json.loads(p)) for t, k, p in rows]


def test_an_outbox_row_becomes_an_application_event(project: Project) -> None:
    _setup(project)
    project.sql(_insert("e-1"))
    [(table, key_hash, event)] = _events(project)
    assert table == "outbox"
    assert key_hash == project.scalar("SELECT CRC32(CONCAT_WS(CHAR(31), 'order', '42'))")
    assert {k: v for k, v in event.items() if k != "ts"} == {
        "id": "e-1",
        "op": "event",
        "event_type": "OrderPaid",
        "aggregate_type": "order",
        "aggregate_id": "42",
        "payload": {"amount": "12.50"},
        "headers": {},
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", event["ts"])


def test_insert_then_delete_in_one_transaction_still_publishes_and_deletes_publish_nothing(
    project: Project,
) -> None:
    _setup(project)
    project.sql(_insert("e-1"), "DELETE FROM outbox WHERE id = 'e-1'")
    project.sql(_insert("e-2"))
    project.sql("DELETE FROM outbox")
    project.sql(_insert("e-3"), commit=False)
    assert [e["id"] for _, _, e in _events(project)] == ["e-1", "e-2"]
    assert project.scalar("SELECT COUNT(*) FROM outbox") == 0


def test_custom_column_names(project: Project) -> None:
    project.sql(
        "CREATE TABLE events_out (event_id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
        "agg_kind VARCHAR(40) NOT NULL, agg_key BIGINT NOT NULL, kind VARCHAR(40) NOT NULL, body JSON)"
    )
    project.write_spec(
        SPEC.replace("  outbox:", "  events_out:").format(
            option="{id: event_id, aggregate_type: agg_kind, aggregate_id: agg_key, event_type: kind, "
            "payload: body}"
        )
    )
    project.migrate()
    project.sql(
        "INSERT INTO events_out (agg_kind, agg_key, kind, body) VALUES ('customer', 7, 'Moved', '[1, 2]')"
    )
    [(table, key_hash, event)] = _events(project)
    assert (table, event["id"], event["aggregate_type"], event["aggregate_id"]) == (
        "events_out",
        "1",
        "customer",
        7,
    )
    assert (event["event_type"], event["payload"]) == ("Moved", [1, 2])
    assert key_hash == project.scalar("SELECT CRC32(CONCAT_WS(CHAR(31), 'customer', 7))")


def test_additional_columns_are_placed_as_headers_or_envelope_fields(project: Project) -> None:
    _setup(
        project,
        option="{additional_placement: ['tenant:header', 'version:envelope:schema_version', "
        "'type:header:eventType']}",
    )
    project.sql(_insert("e-1"))
    [(_, _, event)] = _events(project)
    assert event["headers"] == {"tenant": "acme", "eventType": "OrderPaid"}
    assert event["schema_version"] == 3


@pytest.mark.parametrize(
    ("payload", "expected"),
    [("not json", "not json"), ('[1, {"a": null}]', [1, {"a": None}]), ("42", 42)],
)
def test_a_text_payload_is_carried_as_json_when_it_is_json_else_as_a_string(
    project: Project, payload: str, expected: Any
) -> None:
    _setup(project, payload="TEXT")
    project.sql(_insert("e-1", payload=payload))
    assert _events(project)[0][2]["payload"] == expected


def test_a_null_payload_is_null_and_a_payload_too_large_is_left_out(project: Project) -> None:
    project.sql(OUTBOX.format(payload="LONGTEXT"))
    project.write_spec(
        SPEC.format(option="true").replace(
            "debezium_outbox: true", "debezium_outbox: true\n    max_event_bytes: 16KiB"
        )
    )
    project.migrate()
    project.sql(
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) "
        "VALUES ('n', 'order', '1', 'T', NULL)",
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) "
        "VALUES ('big', 'order', '1', 'T', CONCAT('\"', REPEAT('x', 20000), '\"'))",
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) "
        "VALUES ('mid', 'order', '1', 'T', CONCAT('\"', REPEAT('y', 9000), '\"'))",
    )
    small, big, mid = (e for _, _, e in _events(project))
    assert small["payload"] is None and "omitted" not in small
    assert big["payload"] is None
    assert big["omitted"] == {"reason": "max_event_bytes", "limit": 16384, "payload": 20002}
    assert mid["payload"] == "y" * 9000 and "omitted" not in mid


@pytest.mark.parametrize(
    ("ddl", "option", "message"),
    [
        (
            OUTBOX.replace("aggregateid VARCHAR(255)", "aggregateid TEXT"),
            "true",
            "aggregate_id column 'aggregateid' (text)",
        ),
        (OUTBOX.format(payload="BLOB"), "true", "payload column 'payload' (blob) is not JSON or text"),
        (OUTBOX, "{event_type: kind}", "has no column 'kind' (the event_type column)"),
        (OUTBOX, "{additional_placement: ['nope:header']}", "has no column 'nope'"),
        (OUTBOX.replace("ENGINE=InnoDB", "ENGINE=MyISAM"), "true", "not transactional"),
    ],
)
def test_what_could_fail_a_write_is_refused_at_migrate_time(
    project: Project, ddl: str, option: str, message: str
) -> None:
    project.sql(ddl.format(payload="LONGTEXT"))
    project.write_spec(SPEC.format(option=option))
    with pytest.raises(SchemaMismatchError, match=re.escape(message)):
        project.migrate()
    assert (
        project.scalar("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")
        == 0
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("true\n    columns: [id]", "tables.outbox.columns: not used with debezium_outbox"),
        ("{additional_placement: ['x:attribute']}", "'x:attribute' is not column:header[:alias]"),
        ("{additional_placement: ['tenant:envelope:payload']}", "'payload' is a field of every event"),
    ],
)
def test_the_spec_refuses_options_that_contradict_a_takeover(
    project: Project, option: str, message: str
) -> None:
    project.write_spec(SPEC.format(option=option))
    with pytest.raises(SpecError, match=re.escape(message)):
        project.migrate()


def test_takeover_events_are_relayed(
    project: Project, sqs: Any, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUEUE_URL", queue_url)
    _setup(project)
    project.sql(_insert("e-1"), _insert("e-2", agg="43"), "DELETE FROM outbox")
    commands.relay(project.spec_path, project.url, once=True)
    bodies = drain_queue(sqs, queue_url, expected=2, timeout=5)
    assert sorted(b["id"] for b in bodies) == ["e-1", "e-2"]
    assert project.scalar("SELECT COUNT(*) FROM outbox_events") == 0


def _golden_model() -> Model:
    column = {
        "id": Column(
            "id",
            "string",
            "char(36)",
            nullable=False,
            charset="utf8mb4",
            char_bytes=4,
            max_chars=36,
            max_bytes=144,
        ),
        "aggregate_type": Column(
            "aggregatetype",
            "string",
            "varchar(255)",
            nullable=False,
            max_chars=255,
            max_bytes=1020,
            char_bytes=4,
        ),
        "aggregate_id": Column(
            "aggregateid",
            "string",
            "varchar(255)",
            nullable=False,
            max_chars=255,
            max_bytes=1020,
            char_bytes=4,
        ),
        "event_type": Column(
            "type", "string", "varchar(255)", nullable=False, max_chars=255, max_bytes=1020, char_bytes=4
        ),
        "payload": Column("payload", "json", "json"),
    }
    placements = (
        Placement(
            Column("tenant", "string", "varchar(20)", max_chars=20, max_bytes=80, char_bytes=4),
            "header",
            "tenant",
        ),
        Placement(Column("version", "integer", "int"), "envelope", "schema_version"),
    )
    return Model(
        "outbox_events", (), (Takeover("outbox", placements=placements, max_event_bytes=262144, **column),)
    )


@pytest.mark.parametrize("flavor", FLAVORS)
def test_render_matches_golden(flavor: str) -> None:
    text = script(render(_golden_model(), flavor))
    golden = GOLDEN / f"debezium_outbox.{flavor}.sql"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert re.sub(r"\s+", " ", text) == re.sub(r"\s+", " ", golden.read_text()), (
        f"re-render with UPDATE_GOLDEN=1 and review {golden}"
    )


def test_nulls_odd_sessions_and_legacy_charsets_never_fail_the_write(project: Project) -> None:
    project.sql(
        "CREATE TABLE outbox (id VARCHAR(40) NULL, aggregatetype VARCHAR(255) NULL, aggregateid INT NULL, "
        "type VARCHAR(255) CHARACTER SET latin1 NULL, payload TEXT CHARACTER SET latin1 NULL, "
        "seq INT AUTO_INCREMENT PRIMARY KEY) ENGINE=InnoDB"
    )
    project.write_spec(SPEC.format(option="true"))
    project.migrate()
    project.sql(
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,ANSI_QUOTES,NO_BACKSLASH_ESCAPES,PAD_CHAR_TO_FULL_LENGTH'",
        "SET NAMES latin1",
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) "
        "VALUES (NULL, NULL, NULL, NULL, NULL)",
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) "
        "VALUES ('x', REPEAT('a', 255), 2147483647, 'caf\xe9', '{\"k\": \"\xe9\\\\n\"}')",
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, payload) "
        "VALUES ('y', 'o', 1, 't', '{bad')",
    )
    nulls, full, bad = (e for _, _, e in _events(project))
    assert uuid_like(nulls["id"]) and nulls["aggregate_type"] is None and nulls["payload"] is None
    assert (full["aggregate_id"], full["event_type"], full["payload"]) == (2147483647, "café", {"k": "é\\n"})
    assert bad["payload"] == "{bad"


def uuid_like(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text))
