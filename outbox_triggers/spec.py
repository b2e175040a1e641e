"""Load, interpolate and validate the YAML spec into frozen dataclasses.

Validation happens in two layers: the JSON Schema shipped beside this module
(``outbox-spec.schema.json``, published for editors), then cross-references
the schema cannot express. Every problem is reported with its spec path, e.g.
``tables.customers.operations[1]: 'upsert' is not one of insert, update, delete``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from outbox_triggers import defaults, identifiers, routing, takeover
from outbox_triggers.errors import SpecError
from outbox_triggers.routing import Routing

DEFAULT_SPEC_PATH = defaults.DEFAULT_SPEC_PATH
DEFAULT_EVENTS_TABLE = "outbox_events"
DEFAULT_DESTINATION = "default"
OPERATIONS = ("insert", "update", "delete")
MIN_EVENT_BYTES = 4096
MAX_EVENT_BYTES = 64 * 1024 * 1024
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TableSpec:
    """One tracked table as the spec declares it (see the README's spec reference)."""

    name: str
    operations: tuple[str, ...] = OPERATIONS
    columns: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()
    ignore_columns: tuple[str, ...] = ()
    skip_noop_updates: bool = True
    before_image: str = "full"
    when: Mapping[str, str] = field(default_factory=dict)
    event_types: Mapping[str, str] = field(default_factory=dict)
    aggregate_type: str | None = None
    aggregate_id: str | None = None
    key_columns: tuple[str, ...] = ()
    acknowledge_fk_cascades: bool = False
    destinations: tuple[str, ...] = (DEFAULT_DESTINATION,)
    max_event_bytes: int | None = None
    debezium_outbox: Mapping[str, Any] | None = None
    """Set: a Debezium outbox table taken over (see :mod:`outbox_triggers.takeover`), not a captured one."""


@dataclass(frozen=True)
class Destination:
    """A named place events are published to, with its type-specific options."""

    name: str
    type: str
    options: Mapping[str, Any] = field(default_factory=dict)
    format: str = "native"
    format_options: Mapping[str, Any] = field(default_factory=dict)
    """The options of ``format`` (the destination's ``maxwell:``/``debezium:``/``cloudevents:`` block)."""


@dataclass(frozen=True)
class Spec:
    """The validated spec: what to capture and where it goes."""

    tables: tuple[TableSpec, ...]
    destinations: Mapping[str, Destination]
    events_table: str = DEFAULT_EVENTS_TABLE
    url: str | None = None
    migrations_dir: Path = Path("outbox_migrations")
    partitions: int = 1
    keep_delivered_s: int | None = None
    routing: Routing | None = None
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def table(self, name: str) -> TableSpec:
        """Return the tracked table called ``name``."""
        return next(t for t in self.tables if t.name == name)


def schema() -> dict[str, Any]:
    """Return the JSON Schema of the spec format."""
    return dict(_schema())


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("outbox_triggers").joinpath("outbox-spec.schema.json").read_text("utf-8")
    return dict(json.loads(text))


def load(path: str | os.PathLike[str], environ: Mapping[str, str] | None = None) -> Spec:
    """Read the spec at ``path``, substitute ``${VAR}`` and validate it."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"spec file {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except FileNotFoundError:
        raise SpecError(
            f"spec file {path} not found: write one (see README, 'Spec reference') "
            "or point --spec / OUTBOX_SPEC at it"
        ) from None
    except OSError as exc:
        raise SpecError(f"cannot read spec file {path}: {exc.strerror}") from None
    return parse(text, origin=str(path), environ=environ, base_dir=path.parent)


def parse(
    text: str,
    origin: str = "<spec>",
    environ: Mapping[str, str] | None = None,
    base_dir: Path | None = None,
) -> Spec:
    """Validate spec text and build the :class:`Spec`."""
    missing: list[str] = []
    document = _unicode(_parse_yaml(text, origin), missing)
    document = _interpolate(document, os.environ if environ is None else environ, missing)
    _raise_all(origin, missing + _schema_problems(document))
    _raise_all(origin, _reference_problems(document))
    return _build(document, base_dir or Path.cwd())


def _parse_yaml(text: str, origin: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise SpecError(f"{origin}: not valid YAML{where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"{origin}: not valid YAML: {exc}") from None


def _raise_all(origin: str, problems: Sequence[str]) -> None:
    if problems:
        raise SpecError(f"{origin} is invalid:\n  " + "\n  ".join(problems))


def format_path(parts: Sequence[str | int]) -> str:
    """Render a JSON path as ``tables.orders.exclude_columns[2]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out or "(top level)"


def _schema_problems(document: Any) -> list[str]:
    if not isinstance(document, dict):
        return ["(top level): expected a mapping with 'version' and 'tables'"]
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return list(dict.fromkeys(f"{format_path(_error_path(e))}: {_describe(e)}" for e in _leaf_errors(errors)))


def _error_path(error: jsonschema.ValidationError) -> list[str | int]:
    """The spec path of an error; a bad mapping key is reported at the key itself."""
    path: list[str | int] = list(error.absolute_path)
    key: Any = error.instance
    return [*path, key] if "propertyNames" in error.schema_path else path


def _leaf_errors(errors: Sequence[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    """For oneOf/anyOf, the complaint of the alternative that fits the value's type."""
    for error in errors:
        if error.validator in ("oneOf", "anyOf", "allOf") and error.context:
            fitting = [e for e in error.context if e.validator != "type"]
            yield min(fitting or error.context, key=lambda e: len(e.schema_path))
        else:
            yield error


def _describe(error: jsonschema.ValidationError) -> str:
    kind = error.validator
    detail: Any = error.validator_value
    instance: Any = error.instance
    schema: dict[str, Any] = dict(error.schema) if isinstance(error.schema, Mapping) else {}
    if kind == "enum":
        return f"{instance!r} is not one of {', '.join(map(str, detail))}"
    if kind == "const":
        return f"{instance!r} is not supported; expected {detail!r}"
    if kind == "additionalProperties":
        known = ", ".join(sorted(schema.get("properties", {})))
        extra = ", ".join(repr(k) for k in instance if k not in schema.get("properties", {}))
        return f"unknown key {extra}" + (f" (expected one of: {known})" if known else "")
    if kind == "required":
        return error.message.replace("is a required property", "is required")
    if kind == "type":
        return f"expected {_type_name(detail)}, got {_type_name(type(instance).__name__)}"
    if kind == "uniqueItems":
        return "lists the same entry twice"
    if kind == "minProperties":
        return "must name at least one entry"
    if kind == "maxLength":
        return f"{instance!r} is {len(instance)} characters long; at most {detail} are allowed"
    if kind == "minItems":
        return "must list at least one entry"
    return str(error.message)


def _type_name(name: Any) -> str:
    names = {
        "object": "a mapping",
        "dict": "a mapping",
        "array": "a list",
        "list": "a list",
        "string": "a string",
        "str": "a string",
        "integer": "an integer",
        "int": "an integer",
        "NoneType": "nothing",
        "null": "nothing",
        "bool": "a boolean",
        "float": "a number",
    }
    if isinstance(name, list):
        return " or ".join(names.get(str(n), str(n)) for n in name)
    return names.get(str(name), str(name))


def _unicode(value: Any, problems: list[str], path: tuple[Any, ...] = ()) -> Any:
    """Join the surrogate pairs YAML leaves from ``"\\ud83d\\ude00"`` escapes; report lone surrogates."""
    if isinstance(value, dict):
        return {_unicode(k, problems, path): _unicode(v, problems, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_unicode(v, problems, (*path, i)) for i, v in enumerate(value)]
    if not isinstance(value, str) or not any("\ud800" <= ch <= "\udfff" for ch in value):
        return value
    try:
        return value.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        problems.append(
            f"{format_path(list(path))}: {value!r} holds half of a surrogate pair, which is not a character; "
            "write characters beyond U+FFFF as themselves or as \\U0001F600"
        )
        return value


def _interpolate(
    value: Any, environ: Mapping[str, str], missing: list[str], path: tuple[Any, ...] = ()
) -> Any:
    """Substitute ``${VAR}`` / ``${VAR:-default}``; note each unset variable in ``missing``."""
    if isinstance(value, dict):
        return {k: _interpolate(v, environ, missing, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, environ, missing, (*path, i)) for i, v in enumerate(value)]
    if isinstance(value, str):
        return _ENV_REF.sub(lambda m: _env_value(m, environ, missing, path), value)
    return value


def _env_value(
    match: re.Match[str], environ: Mapping[str, str], missing: list[str], path: tuple[Any, ...]
) -> str:
    name, default = match.group(1), match.group(2)
    if path[:1] == (routing.SECTION,) and name in routing.PLACEHOLDERS and default is None:
        return match.group(0)  # filled per event by the router
    if name in environ:
        return environ[name]
    if default is not None:
        return default
    hint = f"(export it, or write ${{{name}:-fallback}})"
    missing.append(f"{format_path(list(path))}: environment variable {name} is not set {hint}")
    return match.group(0)


def _reference_problems(document: dict[str, Any]) -> list[str]:
    destinations = document.get("destinations") or {}
    events_table = document.get("events_table", DEFAULT_EVENTS_TABLE)
    problems = _name_problems(["events_table"], events_table)
    for name, table in document["tables"].items():
        problems += _name_problems(["tables", name], name) + _table_problems(name, table or {})
        targets = (table or {}).get("destination", () if document.get("routing") else DEFAULT_DESTINATION)
        for i, target in enumerate([targets] if isinstance(targets, str) else targets):
            if target not in destinations:
                where = ["tables", name, "destination"] + ([] if isinstance(targets, str) else [i])
                known = ", ".join(sorted(destinations)) or "none"
                problems.append(f"{format_path(where)}: no destination named {target!r} (defined: {known})")
    if events_table in document["tables"]:
        problems.append(f"{format_path(['tables', events_table])}: the events table itself cannot be tracked")
    problems += routing.spec_problems(document)
    for name, destination in destinations.items():
        if destination.get("type") == "kinesis" and {"stream_name", "stream_arn"} <= destination.keys():
            at = format_path(["destinations", name])
            problems.append(f"{at}: give either stream_name or stream_arn, not both")
        problems += _format_option_problems(name, destination)
    return problems


_FORMAT_OPTIONS = ("maxwell", "debezium", "cloudevents")


def _format_option_problems(name: str, destination: Mapping[str, Any]) -> list[str]:
    """A block of format options (``maxwell:``, ``debezium:``, ``cloudevents:``) only with that format."""
    chosen = destination.get("format", "native")
    problems = []
    mode = (destination.get("cloudevents") or {}).get("mode") if chosen == "cloudevents" else None
    if mode == "binary" and destination.get("type") not in ("sqs", "sns"):
        where = format_path(["destinations", name, "cloudevents", "mode"])
        problems.append(f"{where}: binary mode needs message attributes, which only sqs and sns have")
    return problems + [
        f"{format_path(['destinations', name, block])}: options of format {block}, "
        f"but the destination's format is {chosen} (set format: {block}, or remove the block)"
        for block in _FORMAT_OPTIONS
        if block in destination and block != chosen
    ]


def _table_problems(name: str, table: dict[str, Any]) -> list[str]:
    """Column names MySQL can hold, and option combinations that contradict each other."""
    where: list[str | int] = ["tables", name]
    problems = [
        problem
        for option in ("columns", "exclude_columns", "ignore_columns", "key_columns")
        for i, column in enumerate(table.get(option, []))
        for problem in _name_problems([*where, option, i], column)
    ]
    if "columns" in table and "exclude_columns" in table:
        problems.append(f"{format_path(where)}: give either columns or exclude_columns, not both")
    size = _bytes(table.get("max_event_bytes"))
    if size is not None and not MIN_EVENT_BYTES <= size <= MAX_EVENT_BYTES:
        problems.append(
            f"{format_path([*where, 'max_event_bytes'])}: {size} bytes is outside "
            f"{MIN_EVENT_BYTES}..{MAX_EVENT_BYTES}"
        )
    problems += takeover.spec_problems(format_path(where), table)
    when = table.get("when", {})
    for op, condition in ({"": when} if isinstance(when, str) else when).items():
        if ";" in condition:
            path = [*where, "when"] + ([op] if op else [])
            problems.append(f"{format_path(path)}: a condition is one SQL expression; ';' is not allowed")
    return problems


def _name_problems(path: list[str | int], name: str) -> list[str]:
    try:
        identifiers.check(name, "name")
    except SpecError as exc:
        return [f"{format_path(path)}: {exc}"]
    return []


def _build(document: dict[str, Any], base_dir: Path) -> Spec:
    destinations = {
        name: Destination(
            name=name,
            type=d["type"],
            options={k: v for k, v in d.items() if k not in ("type", "format", *_FORMAT_OPTIONS)},
            format=d.get("format", "native"),
            format_options=dict(d.get(d.get("format", "native")) or {}),
        )
        for name, d in (document.get("destinations") or {}).items()
    }
    return Spec(
        tables=tuple(_build_table(name, body or {}) for name, body in document["tables"].items()),
        destinations=destinations,
        events_table=document.get("events_table", DEFAULT_EVENTS_TABLE),
        url=document.get("url"),
        migrations_dir=base_dir / document.get("migrations_dir", "outbox_migrations"),
        partitions=int((document.get("relay") or {}).get("partitions", 1)),
        keep_delivered_s=_keep_seconds((document.get("relay") or {}).get("retention", "delete")),
        routing=routing.parse(document),
        source=document,
    )


def _build_table(name: str, body: dict[str, Any]) -> TableSpec:
    targets = body.get("destination", DEFAULT_DESTINATION)
    operations = tuple(op for op in OPERATIONS if op in body.get("operations", OPERATIONS))
    when = body.get("when", {})
    return TableSpec(
        name=name,
        operations=operations,
        columns=tuple(body.get("columns", ())),
        exclude_columns=tuple(body.get("exclude_columns", ())),
        ignore_columns=tuple(body.get("ignore_columns", ())),
        skip_noop_updates=bool(body.get("skip_noop_updates", True)),
        before_image=str(body.get("before_image", "full")),
        when=dict.fromkeys(operations, when) if isinstance(when, str) else dict(when),
        event_types=dict(body.get("event_types", {})),
        aggregate_type=body.get("aggregate_type"),
        aggregate_id=body.get("aggregate_id"),
        key_columns=tuple(body.get("key_columns", ())),
        acknowledge_fk_cascades=bool(body.get("acknowledge_fk_cascades", False)),
        destinations=(targets,) if isinstance(targets, str) else tuple(targets),
        max_event_bytes=_bytes(body.get("max_event_bytes")),
        debezium_outbox=_outbox_option(body.get(takeover.OPTION)),
    )


def _outbox_option(option: Any) -> Mapping[str, Any] | None:
    """``debezium_outbox: true`` or a mapping → the mapping; absent or false → None."""
    if option is None or option is False:
        return None
    return dict(option) if isinstance(option, Mapping) else {}


def _bytes(size: Any) -> int | None:
    """``4096`` or ``"512KiB"``/``"1 MiB"`` → bytes; None stays None."""
    if size is None or isinstance(size, int):
        return size
    number, unit = re.fullmatch(r"([0-9]+) ?(KiB|MiB)", str(size)).groups()  # type: ignore[union-attr]
    return int(number) * {"KiB": 1024, "MiB": 1024 * 1024}[unit]


def _keep_seconds(retention: Any) -> int | None:
    """``{keep: "7d"}`` → seconds; ``delete`` → None."""
    if not isinstance(retention, dict):
        return None
    text = str(retention["keep"])
    return int(text[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[text[-1]]
