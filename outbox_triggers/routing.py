"""Route events to destinations by a field: the spec's ``routing`` section.

The equivalent of the Debezium Event Router's ``route.by.field`` and
``route.topic.replacement``, for trigger events and application events alike:

- ``by``: the field whose value decides: ``aggregate_type`` (the default),
  ``event_type``, ``table``, or ``header.<name>`` (an application event's header);
- ``map``: known values, each to a destination name (or a list of them);
- ``template``: a destination named by the value, e.g. an SQS queue whose URL
  ends in ``orders-${routedByValue}``; ``${aggregate_type}``, ``${event_type}``
  and ``${table}`` are the event's own fields. Each value's publisher is made
  (and checked) the first time the value is seen;
- ``default``: where every other value goes.

Routing decides for every event except those of a table whose spec entry
names its own ``destination``. An event no route matches (no value, a value
neither the map nor the template covers and no default, a value that can't
name a destination, a templated destination that doesn't exist) goes to the
dead letters with the reason, under the destination name ``routing``: never
dropped silently, and never holding back the events behind it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the spec imports this module (placeholders, checks): nothing heavy at import
    from outbox_triggers.events import Event
    from outbox_triggers.publishers import Publisher
    from outbox_triggers.spec import Destination

SECTION = "routing"
DEAD_LETTER_DESTINATION = "routing"
FIELDS = ("aggregate_type", "event_type", "table")
HEADER = "header."
VALUE = "routedByValue"
PLACEHOLDERS = frozenset({VALUE, *FIELDS})
"""``${…}`` names the spec leaves in a routing template for each event, instead of the environment."""
_PLACEHOLDER = re.compile(r"\$\{(" + "|".join(sorted(PLACEHOLDERS)) + r")\}")
_NAMEABLE = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")
REFUSAL_MEMORY_S = 30.0


class Unroutable(Exception):
    """No route matches the event: it goes to the dead letters with ``reason``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Routing:
    """The spec's ``routing`` section, validated."""

    by: str = "aggregate_type"
    map: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default: tuple[str, ...] = ()
    template: Mapping[str, Any] | None = None
    explicit: frozenset[str] = frozenset()
    """Tables whose spec entry names its own destination: routing leaves them alone."""

    @property
    def names(self) -> tuple[str, ...]:
        """Every spec destination the map and the default name, once each."""
        return tuple(dict.fromkeys([*(n for ns in self.map.values() for n in ns), *self.default]))


def parse(document: Mapping[str, Any]) -> Routing | None:
    """The ``routing`` section of a (schema-valid) spec document; None when it has none."""
    section = document.get(SECTION)
    if not section:
        return None
    tables = document.get("tables") or {}
    return Routing(
        by=str(section.get("by", "aggregate_type")),
        map={str(value): _names(target) for value, target in (section.get("map") or {}).items()},
        default=_names(section.get("default", ())),
        template=section.get("template"),
        explicit=frozenset(name for name, body in tables.items() if "destination" in (body or {})),
    )


def spec_problems(document: Mapping[str, Any]) -> list[str]:
    """Destinations the routing section names that the spec does not define."""
    routing = parse(document)
    if routing is None:
        return []
    known = set(document.get("destinations") or {})
    where = {name: f"{SECTION}.map" for ns in routing.map.values() for name in ns}
    where.update({name: f"{SECTION}.default" for name in routing.default})
    defined = ", ".join(sorted(known)) or "none"
    return [
        f"{where[n]}: no destination named {n!r} (defined: {defined})"
        for n in routing.names
        if n not in known
    ]


def _names(target: Any) -> tuple[str, ...]:
    return (target,) if isinstance(target, str) else tuple(target or ())


class Router:
    """Picks each event's publishers by the routing field; a Dispatcher asks it for every event it decides."""

    def __init__(
        self,
        routing: Routing,
        built: Mapping[str, Publisher],
        create: Callable[[Destination], Publisher] | None = None,
    ) -> None:
        """``built``: the spec's publishers by name; ``create`` makes (and checks) a templated one."""
        self.routing = routing
        self._map = {value: [built[n] for n in names] for value, names in routing.map.items()}
        self._default = [built[n] for n in routing.default]
        self._create = create
        self._templated: dict[str, Publisher] = {}
        self._refused: dict[str, tuple[float, str]] = {}

    def publishers(self) -> list[Publisher]:
        """The spec publishers routing may pick (templated ones come later, as values appear)."""
        picked = [*(p for ps in self._map.values() for p in ps), *self._default]
        return list({p.name: p for p in picked}.values())

    def decides(self, table: str) -> bool:
        """True unless ``table``'s spec entry names its own destination."""
        return table not in self.routing.explicit

    def route(self, event: Event) -> Sequence[Publisher]:
        """The publishers ``event`` goes to; Unroutable when none."""
        by = self.routing.by
        fields = {} if by == "table" and self.routing.template is None else _fields(event.body)
        value = _value(by, event.table, fields)
        if value is not None and value in self._map:
            return self._map[value]
        if value is not None and self.routing.template is not None:
            return [self._templated_for(value, {**fields, "table": event.table})]
        if self._default:
            return self._default
        seen = "no value" if value is None else f"{value!r}"
        raise Unroutable(f"no route for {by} {seen}: not in routing.map, and routing has no default")

    def _templated_for(self, value: str, fields: Mapping[str, Any]) -> Publisher:
        publisher = self._templated.get(value)
        if publisher is not None:
            return publisher
        refused = self._refused.get(value)
        if refused and time.monotonic() - refused[0] < REFUSAL_MEMORY_S:
            raise Unroutable(refused[1])
        try:
            publisher = self._templated[value] = self._make(value, fields)
        except Unroutable as exc:
            self._refused[value] = (time.monotonic(), exc.reason)
            raise
        return publisher

    def _make(self, value: str, fields: Mapping[str, Any]) -> Publisher:
        """The templated destination for ``value``, made and checked."""
        from outbox_triggers.errors import OutboxError
        from outbox_triggers.spec import Destination

        if not _NAMEABLE.match(value):
            raise Unroutable(
                f"{self.routing.by} {value!r} can't name a destination: only letters, digits, '-', '_' "
                "and '.', at most 80; route it with routing.map instead"
            )
        template = dict(self.routing.template or {})
        values = {**{k: str(fields.get(k) or "") for k in FIELDS}, VALUE: value}
        options = {k: _fill(v, values) for k, v in template.items() if k not in ("type", "format")}
        destination = Destination(
            f"{SECTION}:{value}"[:64], str(template["type"]), options, str(template.get("format", "native"))
        )
        try:
            return (self._create or _create)(destination)
        except OutboxError as exc:
            raise Unroutable(f"routing template for {value!r}: {exc}") from None


def _create(destination: Destination) -> Publisher:
    from outbox_triggers import publishers
    from outbox_triggers.defaults import DEFAULT_MAX_IN_FLIGHT

    publisher = publishers.create(destination, DEFAULT_MAX_IN_FLIGHT)
    publisher.check()
    return publisher


def _fill(option: Any, values: Mapping[str, str]) -> Any:
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], option) if isinstance(option, str) else option


def _fields(body: str) -> dict[str, Any]:
    try:
        fields = json.loads(body)
    except ValueError:
        raise Unroutable("the event is not valid JSON, so no field can route it") from None
    if not isinstance(fields, dict):
        raise Unroutable(
            f"the event is a JSON {type(fields).__name__}, not an object, so no field can route it"
        )
    return fields


def _value(by: str, table: str, fields: Mapping[str, Any]) -> str | None:
    """The routing value of an event: a field, or a header; None when it has none."""
    if by == "table":
        return table
    if by.startswith(HEADER):
        headers = fields.get("headers")
        found = headers.get(by[len(HEADER) :]) if isinstance(headers, Mapping) else None
    else:
        found = fields.get(by)
    if found is None or isinstance(found, dict | list):
        return None
    return json.dumps(found) if isinstance(found, bool) else str(found)
