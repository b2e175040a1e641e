"""Rendering without a database: golden SQL files for both flavors.

Regenerate the goldens after an intended change with ``UPDATE_GOLDEN=1 pytest tests/test_render.py``
and review the diff like code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from outbox_triggers import identifiers
from outbox_triggers.errors import RenderError
from outbox_triggers.model import Capture, Column, Model
from outbox_triggers.render import FLAVORS, render, script

GOLDEN = Path(__file__).parent / "golden"

ALL_KINDS = (
    Column("id", "integer", "bigint(20) unsigned"),
    Column("amount", "decimal", "decimal(12,2)", scale=2),
    Column("ratio", "float", "double"),
    Column("flags", "bit", "bit(8)"),
    Column("name", "string", "varchar(50)"),
    Column("blob", "binary", "blob"),
    Column("state", "enum", "enum('a','b')", members=("a", "b")),
    Column("tags", "set", "set('x','y''z','w\"v')", members=("x", "y'z", 'w"v')),
    Column("born", "date", "date"),
    Column("at", "datetime", "datetime(3)", fsp=3),
    Column("stamp", "timestamp", "timestamp(6)", fsp=6),
    Column("dur", "time", "time", fsp=0),
    Column("yr", "year", "year(4)"),
    Column("doc", "json", "json"),
    Column("geo", "spatial", "point"),
)

MODELS = {
    "all_kinds": Model(
        "outbox_events", (Capture("items", ALL_KINDS, ALL_KINDS[:1], ("insert", "update", "delete")),)
    ),
    "awkward_names": Model(
        "outbox events",
        (
            Capture(
                "order `x` 'y'",
                (Column("key", "integer"), Column("grüße", "string"), Column("back\\slash", "string")),
                (Column("key", "integer"),),
                ("insert", "delete"),
            ),
        ),
    ),
}


def _normalize(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_render_matches_golden(name: str, flavor: str) -> None:
    text = script(render(MODELS[name], flavor))
    golden = GOLDEN / f"{name}.{flavor}.sql"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert _normalize(text) == _normalize(golden.read_text()), (
        f"re-render with UPDATE_GOLDEN=1 and review {golden}"
    )


@pytest.mark.parametrize("flavor", FLAVORS)
def test_rendered_triggers_are_well_behaved(flavor: str) -> None:
    rendered = render(MODELS["all_kinds"], flavor)
    assert [t.operation for t in rendered.triggers] == ["insert", "update", "delete"]
    for trig in rendered.triggers:
        assert len(trig.name) <= 64 and identifiers.is_toolkit_trigger(trig.name)
        assert "DEFINER" not in trig.sql.upper()
        assert trig.sql.startswith(
            f"CREATE TRIGGER `{trig.name}` AFTER {trig.operation.upper()} ON `items` FOR EACH ROW"
        )


def test_flavors_differ_only_in_json_passthrough() -> None:
    maria = render(MODELS["all_kinds"], "mariadb").triggers[0].sql
    mysql = render(MODELS["all_kinds"], "mysql").triggers[0].sql
    assert "JSON_EXTRACT(NEW.`doc`, '$')" in maria and "'doc', NEW.`doc`" in mysql
    assert "JSON_EXTRACT(ST_AsGeoJSON(NEW.`geo`), '$')" in maria and "'geo', ST_AsGeoJSON(NEW.`geo`)" in mysql


def test_unknown_flavor_is_refused() -> None:
    with pytest.raises(RenderError, match="unknown flavor 'postgres'"):
        render(MODELS["all_kinds"], "postgres")


def test_delete_trigger_keys_on_old_row_and_insert_on_new() -> None:
    rendered = render(MODELS["all_kinds"], "mariadb")
    insert, update, delete = (t.sql for t in rendered.triggers)
    assert "'key', JSON_OBJECT('id', NEW.`id`)" in insert and "'before', NULL" in insert
    assert (
        "'before', JSON_OBJECT('id', OLD.`id`" in update and "'after', JSON_OBJECT('id', NEW.`id`" in update
    )
    assert "'key', JSON_OBJECT('id', OLD.`id`)" in delete and "'after', NULL" in delete
