"""The relay's batch claim walks the primary key: no filesort and no full scan, however long the backlog."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa

from outbox_triggers import database
from outbox_triggers.events import EventsTable

from .conftest import Project

pytestmark = pytest.mark.integration

BACKLOG = 50_000
BATCH = 500


@pytest.fixture
def backlog(orders: Project) -> Project:
    """``orders`` migrated, with 50,000 events waiting and fresh index statistics."""
    orders.sql(
        "INSERT INTO outbox_events (table_name, key_hash, payload) "
        f"SELECT 'orders', MOD(seq, 65536), CONCAT('{{\"id\": ', seq, '}}') FROM seq_1_to_{BACKLOG}",
        "ANALYZE TABLE outbox_events",
    )
    return orders


def _explain(project: Project, prefix: str, after: int = 0) -> list[dict[str, Any]]:
    table = EventsTable("outbox_events")
    claim = table.claim_after_statement if after else table.claim_statement
    with project.engine.connect() as conn:
        result = conn.execute(sa.text(f"{prefix} {claim.text}"), {"n": BATCH, "hi": after})
        return [dict(row._mapping) for row in result]


def test_claim_uses_the_primary_key_without_filesort_or_full_scan(backlog: Project) -> None:
    (plan,) = _explain(backlog, "EXPLAIN")

    assert plan["key"] == "PRIMARY"
    assert plan["type"] != "ALL", "a full table scan"
    assert "filesort" not in (plan["Extra"] or "")
    assert "temporary" not in (plan["Extra"] or "")
    assert int(plan["rows"]) <= BATCH, f"the optimizer expects to read {plan['rows']} rows for {BATCH}"


def test_claim_reads_only_the_batch(backlog: Project) -> None:
    with backlog.engine.connect() as conn:
        if database.flavor(conn) != "mariadb":
            pytest.skip("ANALYZE FORMAT=JSON is MariaDB's")
    (row,) = _explain(backlog, "ANALYZE FORMAT=JSON")
    (step,) = json.loads(next(iter(row.values())))["query_block"]["nested_loop"]

    assert step["table"]["key"] == "PRIMARY"
    assert step["table"]["r_rows"] <= BATCH, "the claim read past its batch"


def test_claim_past_what_the_relay_holds_walks_the_primary_key_on_both_ends(backlog: Project) -> None:
    plans = _explain(backlog, "EXPLAIN", after=BACKLOG // 2)

    assert len(plans) == 2, "the count of held rows and the claim after them"
    for plan in plans:
        assert plan["key"] == "PRIMARY" and plan["type"] == "range", plan
        assert "filesort" not in (plan["Extra"] or "") and "temporary" not in (plan["Extra"] or "")
