"""max_event_bytes: its defaults, the bounds it is planned from, and events at the destinations' limits."""

from __future__ import annotations

import pytest

from outbox_triggers import event_size
from outbox_triggers.event_size import KIB, MIB, Value

from .conftest import Project

PACKET = 16 * MIB


def test_default_limit_is_what_the_tightest_destination_accepts_within_the_packet() -> None:
    assert event_size.default_limit([("sqs", {})], PACKET) == MIB - 4 * KIB
    assert event_size.default_limit([("sqs", {}), ("sns", {})], PACKET) == 256 * KIB - 4 * KIB
    assert event_size.default_limit([("eventbridge", {"max_batch_bytes": 65536})], PACKET) == 61440
    assert (
        event_size.default_limit([("kinesis", {"max_record_bytes": 10 * MIB})], PACKET) == 10 * MIB - 4 * KIB
    )
    assert (
        event_size.default_limit([("kinesis", {"max_record_bytes": 10 * MIB})], 4 * MIB) == 4 * MIB - 64 * KIB
    )


@pytest.mark.parametrize(
    ("kind", "args", "bound"),
    [
        ("integer", {}, 20),
        ("decimal", {"precision": 10}, 14),
        ("datetime", {}, 29),
        ("string", {"max_chars": 10}, 62),
        ("enum", {"max_chars": 3}, 20),
        ("set", {"max_chars": 5, "members": ("a", "b", "c")}, 46),
        ("binary", {"max_bytes": 3}, 6),
        ("binary", {"max_bytes": 4}, 10),
        ("string", {}, None),
        ("json", {}, None),
        ("spatial", {}, None),
    ],
)
def test_value_bounds(kind: str, args: dict[str, object], bound: int | None) -> None:
    assert event_size.value_bound(kind, **args) == bound  # type: ignore[arg-type]


@pytest.mark.integration
def test_no_character_escapes_to_more_than_six_bytes(project: Project) -> None:
    """6 bytes a character is the worst JSON_QUOTE does (a control character: \\u001F); bounds rest on it."""
    sample = [*range(128), 0xE9, 0x20AC, 0x2028, 0xFEFF, 0x1F600]
    chars = " UNION ALL ".join(f"SELECT CHAR({c} USING utf32) AS c" for c in sample)
    worst = project.scalar(
        f"SELECT MAX(LENGTH(JSON_QUOTE(CONVERT(c USING utf8mb4))) - 2) FROM ({chars}) AS s"
    )
    assert worst == event_size.ESCAPED_CHAR_BYTES


def test_plan_measures_unbounded_values_and_then_the_largest_until_the_rest_is_small() -> None:
    values = [
        Value("after", "NEW", "id", "integer", 20),
        Value("after", "NEW", "body", "string", None),
        Value("after", "NEW", "title", "string", 60_002),
        Value("after", "NEW", "code", "string", 62),
    ]
    sizing = event_size.plan(MIB, 1000, values, keep_inline=["id"])
    assert [v.column for v in sizing.measured] == ["body"] and sizing.room == MIB - 1000 - 60_084 - 4
    tight = event_size.plan(64 * KIB, 1000, values, keep_inline=["id"])
    assert [v.column for v in tight.measured] == ["body", "title"]
    with pytest.raises(event_size.TooLarge):
        event_size.plan(1000, 1000, values, keep_inline=["id"])


@pytest.mark.integration
@pytest.mark.parametrize(
    ("destination", "keeps", "leaves_out"),
    [
        ("{type: sns, topic_arn: 'arn:aws:sns:us-east-1:123456789012:t'}", 200 * KIB, 300 * KIB),
        ("{type: sqs, queue_url: x}", 900 * KIB, 1100 * KIB),
        ("{type: kinesis, stream_name: s, max_record_bytes: 10485760}", 9 * MIB, 11 * MIB),
    ],
)
def test_events_at_the_destinations_limits(
    project: Project, destination: str, keeps: int, leaves_out: int
) -> None:
    project.sql("CREATE TABLE t (id INT PRIMARY KEY, doc LONGTEXT, note VARCHAR(10))")
    project.write_spec(f"version: 1\ntables:\n  t: {{}}\ndestinations:\n  default: {destination}\n")
    project.migrate()
    project.sql(
        f"INSERT INTO t VALUES (1, REPEAT('k', {keeps}), 'a')",
        f"UPDATE t SET doc = REPEAT('k', {leaves_out}), note = 'b'",
        "DELETE FROM t",
    )
    insert, update, delete = project.events()
    assert len(insert["after"]["doc"]) == keeps and "omitted" not in insert
    assert update["omitted"]["after"] == {"doc": leaves_out} and len(update["before"]["doc"]) == keeps
    assert delete["omitted"]["before"] == {"doc": leaves_out} and delete["before"]["note"] == "b"
    with project.engine.connect() as conn:
        largest = conn.exec_driver_sql("SELECT MAX(LENGTH(payload)) FROM outbox_events").scalar()
    assert largest <= update["omitted"]["limit"]
