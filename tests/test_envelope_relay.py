"""Envelopes end to end: the live MariaDB, the relay, and moto's SQS, one queue per format and option set.

The backlog mixes two capture versions (an ALTER TABLE and a new revision
between the two writes), so each event must be encoded with the column types
of the version that wrote it, read from the capture registry.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from outbox_triggers import commands
from tests.conftest import Project, receive

FORMATS = {
    "native": "format: native",
    "maxwell": "format: maxwell",
    "debezium": "format: debezium",
    "dbz_string": "format: debezium, debezium: {decimal.handling.mode: string, schemas.enable: true}",
    "cloud": "format: cloudevents",
    "cloud_binary": "format: cloudevents, cloudevents: {mode: binary, source: /shop, type: item.changed}",
    "dbz_other": "format: debezium, debezium: {decimal.handling.mode: double, time.precision.mode: connect, "
    "binary.handling.mode: hex, bigint.unsigned.handling.mode: precise}",
    "mxw_options": "format: maxwell, "
    "maxwell: {output_primary_keys: true, output_nulls: false, extras: false}",
}


@pytest.fixture
def queues(sqs: Any) -> Iterator[dict[str, str]]:
    urls = {
        name: str(sqs.create_queue(QueueName=f"{name}-{secrets.token_hex(4)}")["QueueUrl"])
        for name in FORMATS
    }
    yield urls
    for url in urls.values():
        sqs.delete_queue(QueueUrl=url)


def spec(urls: dict[str, str]) -> str:
    lines = ["version: 1", "tables:", f"  items: {{destination: [{', '.join(FORMATS)}]}}", "destinations:"]
    for name, options in FORMATS.items():
        lines.append(f"  {name}: {{type: sqs, queue_url: '{urls[name]}', {options}}}")
    return "\n".join(lines) + "\n"


def test_each_format_through_sqs_with_mixed_versions_after_an_alter(
    project: Project, sqs: Any, queues: dict[str, str]
) -> None:
    project.sql(
        "CREATE TABLE items (id INT PRIMARY KEY, price DECIMAL(10,2) NOT NULL, at DATETIME NOT NULL, "
        "code VARBINARY(4) NULL, big BIGINT UNSIGNED NULL)"
    )
    project.write_spec(spec(queues))
    project.migrate()
    project.sql("INSERT INTO items VALUES (1, 12.50, '1979-10-01 00:00:00', x'00ff', 18446744073709551615)")
    project.sql("ALTER TABLE items MODIFY price DECIMAL(12,3) NOT NULL, ADD COLUMN qty INT NULL")
    assert commands.revision(project.spec_path, "wider price, qty", project.url) is not None
    project.migrate()
    project.sql("INSERT INTO items VALUES (2, 3.25, '2012-01-01 22:32:34', NULL, NULL, 4)")
    versions = {e["version"] for e in project.events()}
    assert len(versions) == 2, "the backlog mixes two capture versions"

    stats = commands.relay(project.spec_path, project.url, once=True)
    assert stats.dead_lettered == 0

    plain: list[dict[str, str]] = []
    native = sorted(
        (json.loads(b) for b in receive(sqs, queues["native"], 2, attributes=plain)),
        key=lambda e: e["key"]["id"],
    )
    assert plain == [{}, {}], "native sends the body alone"
    assert [e["after"]["price"] for e in native] == ["12.50", "3.250"]

    carried: list[dict[str, str]] = []
    maxwell = sorted(
        receive(sqs, queues["maxwell"], 2, attributes=carried), key=lambda b: json.loads(b)["data"]["id"]
    )
    assert sorted(a["event_id"] for a in carried) == sorted(e["id"] for e in native), "the id as an attribute"
    assert '"price":12.50' in maxwell[0] and '"at":"1979-10-01 00:00:00"' in maxwell[0]
    assert '"price":3.250' in maxwell[1] and '"qty":4' in maxwell[1]

    keys: list[dict[str, str]] = []
    debezium = sorted(
        (json.loads(b) for b in receive(sqs, queues["debezium"], 2, attributes=keys)),
        key=lambda v: v["after"]["id"],
    )
    assert sorted(a["key"] for a in keys) == ['{"id":1}', '{"id":2}'], "the record key as an attribute"
    first, second = (v["after"] for v in debezium)
    assert base64.b64decode(first["price"]) == (1250).to_bytes(2, "big")  # scale 2
    assert base64.b64decode(second["price"]) == (3250).to_bytes(2, "big")  # scale 3 after the ALTER
    assert first["at"] == 307584000000 and second["qty"] == 4

    wrapped = sorted(
        (json.loads(b) for b in receive(sqs, queues["dbz_string"], 2)),
        key=lambda m: m["payload"]["after"]["id"],
    )
    assert [m["payload"]["after"]["price"] for m in wrapped] == ["12.50", "3.250"]
    kinds = [
        next(f for f in m["schema"]["fields"] if f["field"] == "after")["fields"][1]["type"] for m in wrapped
    ]
    assert kinds == ["string", "string"], "decimal.handling.mode: string in the schema too"

    import jsonschema
    from cloudevents.core.formats.json import JSONFormat

    from tests.test_envelope_values import CLOUDEVENT_SCHEMA

    structured = receive(sqs, queues["cloud"], 2)
    for text in structured:
        jsonschema.validate(json.loads(text), CLOUDEVENT_SCHEMA, format_checker=jsonschema.FormatChecker())
    cloud = [JSONFormat().read(None, b) for b in structured]
    assert sorted(e.get_id() for e in cloud) == sorted(e["id"] for e in native)
    assert {e.get_source() for e in cloud} == {f"/mysql/{project.engine.url.database}/items"}

    binary_attributes: list[dict[str, str]] = []
    bodies = receive(sqs, queues["cloud_binary"], 2, attributes=binary_attributes)
    assert sorted(json.loads(b)["id"] for b in bodies) == sorted(e["id"] for e in native), (
        "the body is the data"
    )
    for attributes, body in zip(binary_attributes, bodies, strict=True):
        assert attributes["ce-specversion"] == "1.0" and attributes["ce-id"] == json.loads(body)["id"]
        assert (attributes["ce-source"], attributes["ce-type"]) == ("/shop", "item.changed")
        assert attributes["content-type"] == "application/json"
        from cloudevents.core.v1.event import CloudEvent

        CloudEvent({k[3:]: v for k, v in attributes.items() if k.startswith("ce-") and k != "ce-time"}, body)

    other = sorted(
        (json.loads(b) for b in receive(sqs, queues["dbz_other"], 2)), key=lambda v: v["after"]["id"]
    )
    first = other[0]["after"]
    assert (first["price"], first["at"], first["code"]) == (12.5, 307584000000, "00ff")
    assert base64.b64decode(first["big"]) == (2**64 - 1).to_bytes(9, "big"), "bigint precise: Decimal bytes"

    options = sorted(
        (json.loads(b) for b in receive(sqs, queues["mxw_options"], 2)), key=lambda m: m["data"]["id"]
    )
    assert [m["primary_key"] for m in options] == [[1], [2]] and "event_id" not in options[0]
    assert "code" not in options[1]["data"], "output_nulls: false"


def test_every_type_through_sqs_matches_the_golden_values(
    project: Project, sqs: Any, queues: dict[str, str]
) -> None:
    from tests.test_envelope_values import DDL, DEBEZIUM_EDGES, EDGES, MAXWELL_EDGES, num

    project.sql(DDL)
    names = {"maxwell": "format: maxwell", "debezium": "format: debezium", "cloud": "format: cloudevents"}
    lines = ["version: 1", "tables:", f"  every_type: {{destination: [{', '.join(names)}]}}", "destinations:"]
    lines += [f"  {n}: {{type: sqs, queue_url: '{queues[n]}', {fmt}}}" for n, fmt in names.items()]
    project.write_spec("\n".join(lines) + "\n")
    project.migrate()
    project.sql("SET SESSION sql_mode = ''", "SET SESSION time_zone = '+00:00'", EDGES)
    (native,) = project.events()
    assert commands.relay(project.spec_path, project.url, once=True).published == 1

    (maxwell,) = (json.loads(b, parse_float=num) for b in receive(sqs, queues["maxwell"], 1))
    assert {k: v for k, v in maxwell["data"].items() if k != "id"} == MAXWELL_EDGES
    (debezium,) = (json.loads(b, parse_float=num) for b in receive(sqs, queues["debezium"], 1))
    assert {k: v for k, v in debezium["after"].items() if k != "id"} == DEBEZIUM_EDGES
    from cloudevents.core.formats.json import JSONFormat

    (cloud,) = (JSONFormat().read(None, b) for b in receive(sqs, queues["cloud"], 1))
    assert cloud.get_id() == native["id"] and cloud.get_data() == native
