"""The capture registry: migrate records each version, check reports one it lacks, repair records it,
and the relay dead-letters (with the reason) an event whose version it can't find."""

from __future__ import annotations

from typing import Any

import pytest

from outbox_triggers import captures, commands
from outbox_triggers.envelopes.types import TableTypes

from .conftest import ORDERS, Project

pytestmark = pytest.mark.integration

SPEC = """\
version: 1
tables:
  orders: {}
destinations:
  default: {type: sqs, queue_url: "${QUEUE_URL:-x}", format: maxwell}
"""


@pytest.fixture
def tracked(project: Project) -> Project:
    project.sql(ORDERS)
    project.write_spec(SPEC)
    project.migrate()
    return project


def recorded(project: Project) -> dict[tuple[str, str], captures.Record]:
    with project.engine.connect() as conn:
        return captures.load(conn, "outbox_events")


def test_migrate_records_the_version_it_installs_with_full_column_types(tracked: Project) -> None:
    tracked.sql("INSERT INTO orders (total) VALUES (1)")
    (event,) = tracked.events()
    types = recorded(tracked)[("orders", event["version"])].types()
    assert isinstance(types, TableTypes) and types.key == ("id",)
    total = types.by_name["total"]
    assert (total.base, total.length, total.scale, total.nullable) == ("decimal", 10, 2, False)


def test_check_reports_an_unrecorded_version_and_repair_records_it(tracked: Project) -> None:
    (version,) = {v for _, v in recorded(tracked)}
    tracked.sql("DELETE FROM outbox_events_captures")
    findings = [
        f for f in commands.check(tracked.spec_path, tracked.url).findings if f.kind == "unrecorded_capture"
    ]
    assert [(f.table, version in f.detail) for f in findings] == [("orders", True)]
    done = commands.repair(tracked.spec_path, tracked.url)
    assert any(f"recorded capture version {version}" in line for line in done)
    assert ("orders", version) in recorded(tracked)
    assert not [
        f for f in commands.check(tracked.spec_path, tracked.url).findings if f.kind == "unrecorded_capture"
    ]


def test_the_relay_dead_letters_an_event_of_an_unrecorded_version_with_the_reason(
    tracked: Project, queue_url: str, monkeypatch: pytest.MonkeyPatch, sqs: Any
) -> None:
    monkeypatch.setenv("QUEUE_URL", queue_url)
    tracked.sql("DELETE FROM outbox_events_captures", "INSERT INTO orders (total) VALUES (1)")
    stats = commands.relay(tracked.spec_path, tracked.url, once=True)
    assert stats.dead_lettered == 1
    (dead,) = commands.dead_letters(tracked.spec_path, "list", database_url=tracked.url)  # type: ignore[misc]
    assert "is not recorded in the captures table" in dead.error and "repair" in dead.error
    commands.repair(tracked.spec_path, tracked.url)
    assert commands.dead_letters(tracked.spec_path, "retry", (dead.seq,), tracked.url) == 1
    assert commands.relay(tracked.spec_path, tracked.url, once=True).published == 1


def test_the_relay_refuses_to_start_without_the_registry_when_a_format_needs_it(
    tracked: Project, queue_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from outbox_triggers.errors import DatabaseError

    monkeypatch.setenv("QUEUE_URL", queue_url)
    tracked.sql("DROP TABLE outbox_events_captures")
    with pytest.raises(DatabaseError, match="capture registry 'outbox_events_captures' does not exist"):
        commands.relay(tracked.spec_path, tracked.url, once=True)
