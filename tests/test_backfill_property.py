"""Property search: writes between a backfill's chunks never make a consumer see an older image.

Hypothesis draws a table size, a fixed chunk size, and writes (update, delete,
insert of random keys) to run after given chunks. Replaying the events per
key in ``seq`` order, versions never go back, no read revives a deleted row,
the end equals the table, and every row untouched during the backfill is sent
exactly once. The threaded test in test_backfill.py covers truly concurrent
writers; this one covers every position of a write relative to the cursor.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outbox_triggers import backfill

from .conftest import Project
from .test_backfill import check_never_older, reads, run, shop  # noqa: F401 - the fixture is used by name

pytestmark = pytest.mark.integration

WRITE = {
    "update": "UPDATE orders SET version = version + 1, total = total + 1 WHERE id = %s",
    "delete": "DELETE FROM orders WHERE id = %s",
    "insert": "INSERT IGNORE INTO orders (id, total, version) VALUES (%s, 0, 1000)",
}
writes = st.lists(
    st.tuples(st.integers(0, 8), st.sampled_from(sorted(WRITE)), st.integers(1, 70)), max_size=25
)


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # examples: the profile
@given(rows=st.integers(0, 60), chunk=st.integers(1, 20), planned=writes)
def test_writes_between_chunks_never_make_an_image_older(
    shop: Project,  # noqa: F811
    rows: int,
    chunk: int,
    planned: list[tuple[int, str, int]],
) -> None:
    shop.sql("DELETE FROM orders", "DROP TABLE IF EXISTS outbox_events_backfills")
    if rows:
        shop.sql(
            "INSERT INTO orders (id, total) VALUES " + ", ".join(f"({i}, {i})" for i in range(1, rows + 1))
        )
    shop.sql("DELETE FROM outbox_events")
    touched: set[int] = set()
    chunks = Counter[str]()

    def between_chunks(running: backfill.Running) -> None:
        chunks["done"] += 1
        with shop.engine.connect() as conn:
            for after, op, key in planned:
                if after == chunks["done"] - 1:
                    conn.exec_driver_sql(WRITE[op], (key,))
                    conn.commit()
                    touched.add(key)

    saved = backfill.FIRST_CHUNK, backfill.MIN_CHUNK, backfill.MAX_CHUNK
    backfill.FIRST_CHUNK = backfill.MIN_CHUNK = backfill.MAX_CHUNK = chunk
    try:
        done = run(shop, "orders", progress=between_chunks)
    finally:
        backfill.FIRST_CHUNK, backfill.MIN_CHUNK, backfill.MAX_CHUNK = saved
    assert done.state == "done"
    check_never_older(shop)
    sent = Counter(e["key"]["id"] for e in reads(shop))
    assert max(sent.values(), default=1) == 1  # no row twice
    assert {k for k in range(1, rows + 1) if k not in touched} <= set(sent)  # none skipped
