"""Render the capture model into SQL with the Jinja templates.

Rendering is pure: a :class:`~outbox_triggers.model.Model` and a flavor in,
:class:`Rendered` SQL out. No database is touched, so golden-file tests cover
every flavor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2

from outbox_triggers import captures, defaults, event_size, identifiers, trigger_session
from outbox_triggers.errors import RenderError
from outbox_triggers.model import Capture, Model, Trigger
from outbox_triggers.takeover import Takeover

FLAVORS = defaults.FLAVORS


@dataclass(frozen=True)
class RenderedTrigger:
    """One CREATE TRIGGER statement and what it belongs to."""

    name: str
    table: str
    operation: str
    sql: str


@dataclass(frozen=True)
class Rendered:
    """All the DDL for a model: the events table and every table's triggers."""

    events_table: str
    events_table_sql: str
    triggers: tuple[RenderedTrigger, ...]
    support: tuple[tuple[str, str], ...] = ()
    captures: tuple[tuple[str, str, str, str], ...] = ()
    """Each tracked table's capture record (version, table, columns, key) for the registry."""

    def trigger(self, name: str) -> RenderedTrigger:
        """The trigger called ``name``."""
        return next(t for t in self.triggers if t.name == name)

    def for_table(self, table: str) -> tuple[RenderedTrigger, ...]:
        """The triggers of one tracked table."""
        return tuple(t for t in self.triggers if t.table == table)

    @property
    def tables(self) -> tuple[str, ...]:
        """Tracked tables, in spec order."""
        return tuple(dict.fromkeys(t.table for t in self.triggers))


def template_dir() -> Path:
    """Where the templates are: inside the installed package, else the source checkout."""
    packaged = Path(str(resources.files("outbox_triggers"))) / "templates"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "templates"


@cache
def _environment(directory: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=False,
    )
    env.filters["ident"] = identifiers.quote
    env.filters["lit"] = identifiers.literal
    env.filters["tojson"] = lambda value: json.dumps(value, ensure_ascii=False)
    env.globals["growth"] = event_size.growth
    env.globals["chunk"] = event_size.BASE64_CHUNK_BYTES
    return env


def _render(template: str, **context: object) -> str:
    try:
        return _environment(template_dir()).get_template(template).render(**context).strip()
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {template} failed to render: {exc}") from exc


def template(name: str, **context: object) -> str:
    """Render one template with ``context`` (the snapshot statements use this)."""
    return _render(name, **context)


def render(model: Model, flavor: str) -> Rendered:
    """Render the events table and every trigger of ``model`` for ``flavor``."""
    if flavor not in FLAVORS:
        raise RenderError(f"unknown flavor {flavor!r}; expected one of {', '.join(FLAVORS)}")
    triggers = tuple(
        RenderedTrigger(t.name, t.table, t.operation, render_trigger(model, c, t, flavor))
        for c in model.captures
        for t in c.triggers
    ) + tuple(
        RenderedTrigger(o.trigger.name, o.table, "insert", render_takeover(model, o, flavor))
        for o in model.takeovers
    )
    events_sql = _render("events_table.sql.j2", events_table=model.events_table)
    support = tuple(
        (table, _render(template, table=table))
        for table, template in (
            (identifiers.dead_letters_table(model.events_table), "dead_letters_table.sql.j2"),
            (identifiers.delivered_table(model.events_table), "delivered_table.sql.j2"),
        )
    )
    registry = identifiers.captures_table(model.events_table)
    support += ((registry, captures_table_sql(registry)),)
    records = tuple((r.version, r.table, r.columns, r.key) for r in captures.records(model))
    return Rendered(model.events_table, events_sql, triggers, support, records)


def captures_table_sql(table: str) -> str:
    """The ``CREATE TABLE IF NOT EXISTS`` of the capture registry ``table``."""
    return _render("captures_table.sql.j2", table=table)


def render_trigger(model: Model, capture: Capture, trigger: Trigger, flavor: str) -> str:
    """The CREATE TRIGGER statement for one trigger."""
    return _render(
        "trigger.sql.j2", capture=capture, trigger=trigger, events_table=model.events_table, flavor=flavor
    )


def render_takeover(model: Model, takeover: Takeover, flavor: str) -> str:
    """The CREATE TRIGGER statement of a Debezium outbox table taken over."""
    return _render(
        "outbox_trigger.sql.j2",
        takeover=takeover,
        trigger=takeover.trigger,
        events_table=model.events_table,
        flavor=flavor,
    )


def script(rendered: Rendered, delimiter: str = "$$") -> str:
    """The rendered DDL as one script the ``mysql`` client can run."""
    parts = [rendered.events_table_sql + ";", *(sql + ";" for _, sql in rendered.support)]
    registry = identifiers.captures_table(rendered.events_table)
    parts += captures.insert_script(registry, tuple(captures.Record(*r) for r in rendered.captures))
    parts += [f"{statement};" for statement in trigger_session.PIN]
    for trig in rendered.triggers:
        parts.append(f"DROP TRIGGER IF EXISTS {identifiers.quote(trig.name)};")
        parts.append(f"DELIMITER {delimiter}\n{trig.sql}{delimiter}\nDELIMITER ;")
    return "\n\n".join(parts) + "\n"
