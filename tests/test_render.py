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
    Column("id", "integer", "bigint(20) unsigned", nullable=False),
    Column("amount", "decimal", "decimal(12,2)", scale=2, precision=12),
    Column("ratio", "float", "double"),
    Column("flags", "bit", "bit(8)"),
    Column("name", "string", "varchar(50)", charset="latin1", max_chars=50, max_bytes=50),
    Column("blob", "binary", "blob", max_bytes=65535),
    Column("state", "enum", "enum('a','b')", members=("a", "b"), max_chars=1),
    Column("tags", "set", "set('x','y''z','w\\\"v')", members=("x", "y'z", 'w\\"v'), max_chars=11),
    Column("born", "date", "date"),
    Column("at", "datetime", "datetime(3)", fsp=3),
    Column("stamp", "timestamp", "timestamp(6)", fsp=6),
    Column("dur", "time", "time", fsp=0),
    Column("yr", "year", "year(4)"),
    Column("doc", "json", "json"),
    Column("geo", "spatial", "point"),
)
SMALL = (
    Column("id", "integer", "int(11)", nullable=False),
    Column("qty", "integer", "int(10) unsigned zerofill", zerofill=True),
    Column("code", "string", "char(3)", charset="ascii", max_chars=3, max_bytes=3),
    Column("seen", "timestamp", "timestamp", auto_updated=True, nullable=False),
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
    "small_changed_before": Model(
        "outbox_events",
        (
            Capture(
                "stock",
                SMALL,
                SMALL[:1],
                ("update",),
                before_image="changed",
                event_types={"update": "StockChanged"},
                aggregate_type="Stock",
            ),
        ),
    ),
    "limited": Model(
        "outbox_events",
        (
            Capture(
                "docs",
                (
                    Column("id", "integer", "int", nullable=False),
                    Column("body", "string", "text", max_chars=65535),
                ),
                (Column("id", "integer", "int", nullable=False),),
                ("update",),
                before_image="changed",
                max_event_bytes=65536,
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


def test_flavors_differ_only_in_json_columns() -> None:
    maria = render(MODELS["all_kinds"], "mariadb").triggers[0].sql
    mysql = render(MODELS["all_kinds"], "mysql").triggers[0].sql
    assert "JSON_EXTRACT(CONVERT(NEW.`doc` USING utf8mb4) COLLATE utf8mb4_bin, '$')" in maria
    assert (
        "JSON_EXTRACT" not in mysql and "IFNULL(CONVERT(NEW.`doc` USING utf8mb4) COLLATE utf8mb4_bin" in mysql
    )
    for name in ("awkward_names", "small_changed_before", "limited"):
        assert render(MODELS[name], "mariadb") == render(MODELS[name], "mysql"), name


def test_unknown_flavor_is_refused() -> None:
    with pytest.raises(RenderError, match="unknown flavor 'postgres'"):
        render(MODELS["all_kinds"], "postgres")


def test_delete_trigger_keys_on_old_row_and_insert_on_new() -> None:
    rendered = render(MODELS["all_kinds"], "mariadb")
    insert, update, delete = (t.sql for t in rendered.triggers)
    assert (
        """', "key": ', '{"id": ', NEW.`id`, '}'""" in insert
        and """', "before": null, "after": '""" in insert
    )
    assert (
        """', "before": ', '{"id": ', OLD.`id`""" in update
        and """', "after": ', '{"id": ', NEW.`id`""" in update
    )
    assert """', "key": ', '{"id": ', OLD.`id`, '}'""" in delete and """', "after": null'""" in delete
    assert "NEW." not in delete and "OLD." not in insert
