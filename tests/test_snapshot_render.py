"""The snapshot statements of a backfill, rendered without a database: golden SQL for both flavors.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_snapshot_render.py``.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from outbox_triggers import snapshot
from outbox_triggers.model import Capture, Column
from outbox_triggers.render import FLAVORS

from .test_render import GOLDEN, MODELS

LINES = Capture(
    "order lines",
    (
        Column("order_id", "integer", "int", nullable=False),
        Column("line", "string", "varchar(20)", nullable=False, max_chars=20, max_bytes=80, char_bytes=4),
        Column("qty", "integer", "int"),
    ),
    (
        Column("order_id", "integer", "int", nullable=False),
        Column("line", "string", "varchar(20)", nullable=False, max_chars=20, max_bytes=80, char_bytes=4),
    ),
    ("insert", "update", "delete"),
)
CAPTURES = {
    "all_kinds": (MODELS["all_kinds"].captures[0], None),
    "limited": (MODELS["limited"].captures[0], "search"),
    "composite": (LINES, None),
}


def rendered(name: str, flavor: str) -> str:
    capture, destination = CAPTURES[name]
    s = snapshot.statements(capture, "outbox_events", flavor, "7", destination)
    parts = {
        "first chunk (locking read)": snapshot.chunk_query(s, flavor, True, None),
        "next chunk (locking read), with --where": snapshot.chunk_query(s, flavor, False, "qty > 0"),
        "one-row chunk (a locking read that waits)": snapshot.chunk_query(s, flavor, False, None, wait=True),
        "chunk insert": snapshot.chunk_insert(s, False, None),
        "one large row: measure": snapshot.one_row(s, s.measure),
        "one large row: insert": snapshot.one_row(s, s.large),
    }
    return "\n\n".join(f"-- {title}\n{sql};" for title, sql in parts.items()) + "\n"


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("name", sorted(CAPTURES))
def test_snapshot_matches_golden(name: str, flavor: str) -> None:
    text = rendered(name, flavor)
    golden = GOLDEN / f"snapshot_{name}.{flavor}.sql"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert re.sub(r"\s+", " ", text) == re.sub(r"\s+", " ", golden.read_text()), (
        f"re-render with UPDATE_GOLDEN=1 and review {golden}"
    )


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_read_is_the_insert_triggers_event_of_the_row(flavor: str) -> None:
    s = snapshot.statements(MODELS["all_kinds"].captures[0], "outbox_events", flavor, "7")
    assert "NEW." not in s.insert and "OLD." not in s.insert and "snapshot_row.`geo`" in s.insert
    assert '"op": "read"' in s.insert and '"before": null, "after": ' in s.insert
    assert s.sizing.guarded and all(v.row == snapshot.ROW for v in s.sizing.measured)
    assert s.sizing.local("after", "doc") == "@outbox_v2"


def test_snapshot_fields_take_their_room_from_the_values() -> None:
    capture = MODELS["limited"].captures[0]
    plain = snapshot.sizing(capture, 0)
    fields = snapshot.snapshot_fields("123", "search")
    assert json.loads("{" + fields[2:] + "}") == {"backfill": "123", "destination": "search"}
    assert snapshot.sizing(capture, len(fields)).room == plain.room - len(fields)


def test_key_comparisons_bind_every_value() -> None:
    assert snapshot.after(["a"]) == "((snapshot_row.`a` > %s))"
    assert snapshot.up_to(["a", "b"]) == (
        "((snapshot_row.`a` < %s) OR (snapshot_row.`a` = %s AND snapshot_row.`b` <= %s))"
    )
    assert snapshot.compare_params([1, "x", 3]) == [1, 1, "x", 1, "x", 3]
