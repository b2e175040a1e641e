"""Unit tests for the spec loader: parsing, defaults, interpolation and error messages (no database)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import jsonschema
import pytest
import yaml

from outbox_triggers import spec
from outbox_triggers.errors import EXIT_USAGE, SpecError
from outbox_triggers.spec import Destination, Spec, TableSpec

FULL_EXAMPLE = """\
version: 1
events_table: outbox_events
tables:
  orders: {}
  customers:
    operations: [insert, update]
    exclude_columns: [password_hash]
    destination: crm
destinations:
  default:
    type: sqs
    queue_url: ${ORDERS_QUEUE_URL}
  crm:
    type: sqs
    queue_url: ${CRM_QUEUE_URL}
"""
FULL_ENV = {
    "ORDERS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/orders",
    "CRM_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/crm",
}

DEFAULT_DEST = """\
destinations:
  default:
    type: sqs
    queue_url: https://sqs.example/q
"""
MINIMAL = "version: 1\ntables:\n  orders:\n" + DEFAULT_DEST
ORDERS = "version: 1\ntables:\n  orders: {}\n"
LONG_NAME = "x" * 65


def problem_lines(exc: SpecError) -> list[str]:
    """The indented problem lines of an ``<origin> is invalid:`` message."""
    return [line.strip() for line in str(exc).splitlines()[1:]]


def parse_error(text: str, environ: dict[str, str] | None = None) -> SpecError:
    with pytest.raises(SpecError) as info:
        spec.parse(text, environ=environ or {})
    return info.value


def test_minimal_spec_gets_all_defaults() -> None:
    parsed = spec.parse(MINIMAL, environ={}, base_dir=Path("/srv/app"))

    assert parsed.tables == (TableSpec("orders", ("insert", "update", "delete"), destinations=("default",)),)
    assert parsed.destinations == {
        "default": Destination("default", "sqs", {"queue_url": "https://sqs.example/q"})
    }
    assert parsed.events_table == "outbox_events"
    assert parsed.url is None
    assert parsed.migrations_dir == Path("/srv/app/outbox_migrations")


def test_minimal_spec_without_base_dir_resolves_migrations_dir_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert spec.parse(MINIMAL, environ={}).migrations_dir == tmp_path / "outbox_migrations"


def test_full_example_parses_into_expected_dataclasses() -> None:
    parsed = spec.parse(FULL_EXAMPLE, environ=FULL_ENV)

    assert isinstance(parsed, Spec)
    assert parsed.tables == (
        TableSpec(
            name="orders",
            operations=("insert", "update", "delete"),
            exclude_columns=(),
            destinations=("default",),
        ),
        TableSpec(
            name="customers",
            operations=("insert", "update"),
            exclude_columns=("password_hash",),
            destinations=("crm",),
        ),
    )
    assert parsed.table("customers").exclude_columns == ("password_hash",)
    assert parsed.destinations == {
        "default": Destination("default", "sqs", {"queue_url": FULL_ENV["ORDERS_QUEUE_URL"]}),
        "crm": Destination("crm", "sqs", {"queue_url": FULL_ENV["CRM_QUEUE_URL"]}),
    }
    assert parsed.events_table == "outbox_events"
    assert parsed.source["destinations"]["crm"]["queue_url"] == FULL_ENV["CRM_QUEUE_URL"]


def test_spec_objects_are_frozen() -> None:
    parsed = spec.parse(MINIMAL, environ={})
    with pytest.raises(AttributeError):
        parsed.events_table = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        parsed.tables[0].operations = ()  # type: ignore[misc]


def test_operations_are_normalised_to_insert_update_delete_order() -> None:
    text = "version: 1\ntables:\n  orders:\n    operations: [delete, update, insert]\n" + DEFAULT_DEST
    assert spec.parse(text, environ={}).table("orders").operations == ("insert", "update", "delete")

    text = "version: 1\ntables:\n  orders:\n    operations: [delete, insert]\n" + DEFAULT_DEST
    assert spec.parse(text, environ={}).table("orders").operations == ("insert", "delete")


def test_destination_list_becomes_tuple_in_spec_order() -> None:
    text = textwrap.dedent("""\
        version: 1
        tables:
          orders:
            destination: [crm, default]
        destinations:
          default: {type: sqs, queue_url: https://q/default}
          crm: {type: sqs, queue_url: https://q/crm, max_batch_bytes: 2048}
        """)
    parsed = spec.parse(text, environ={})

    assert parsed.table("orders").destinations == ("crm", "default")
    assert parsed.destinations["crm"].options == {"queue_url": "https://q/crm", "max_batch_bytes": 2048}


def test_explicit_top_level_settings_are_kept() -> None:
    text = (
        textwrap.dedent("""\
        version: 1
        url: mysql+pymysql://app@db/shop
        events_table: my_events
        migrations_dir: db/outbox
        tables:
          orders: {}
        """)
        + DEFAULT_DEST
    )
    parsed = spec.parse(text, environ={}, base_dir=Path("/srv/app"))

    assert parsed.url == "mysql+pymysql://app@db/shop"
    assert parsed.events_table == "my_events"
    assert parsed.migrations_dir == Path("/srv/app/db/outbox")


def test_table_that_needs_quoting_is_accepted_as_is() -> None:
    text = 'version: 1\ntables:\n  "order items": {}\n' + DEFAULT_DEST
    assert [t.name for t in spec.parse(text, environ={}).tables] == ["order items"]


# --- load() --------------------------------------------------------------------------------------


def test_load_resolves_migrations_dir_relative_to_the_spec_file(tmp_path: Path) -> None:
    spec_dir = tmp_path / "conf"
    spec_dir.mkdir()
    path = spec_dir / "outbox.yaml"
    path.write_text(FULL_EXAMPLE + "migrations_dir: revisions\n", encoding="utf-8")

    parsed = spec.load(path, environ=FULL_ENV)

    assert parsed.migrations_dir == spec_dir / "revisions"
    assert [t.name for t in parsed.tables] == ["orders", "customers"]


def test_load_default_migrations_dir_sits_beside_the_spec_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert spec.load(str(path), environ={}).migrations_dir == tmp_path / "outbox_migrations"


def test_load_keeps_an_absolute_migrations_dir(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    path = tmp_path / "conf" / "outbox.yaml"
    path.parent.mkdir()
    path.write_text(MINIMAL + f"migrations_dir: {target}\n", encoding="utf-8")
    assert spec.load(path, environ={}).migrations_dir == target


def test_load_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SpecError) as info:
        spec.load(missing)
    message = str(info.value)
    assert str(missing) in message
    assert "not found" in message
    assert "--spec" in message
    assert "OUTBOX_SPEC" in message
    assert info.value.exit_code == EXIT_USAGE


def test_load_directory_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read spec file"):
        spec.load(tmp_path)


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "outbox.yaml"
    path.write_text("version: 2\ntables:\n  orders: {}\n", encoding="utf-8")
    with pytest.raises(SpecError) as info:
        spec.load(path, environ={})
    assert str(info.value).startswith(f"{path} is invalid:")
    assert "version: 2 is not supported; expected 1" in str(info.value)


def test_load_non_utf8_file_is_a_spec_error(tmp_path: Path) -> None:
    path = tmp_path / "outbox.yaml"
    path.write_bytes("version: 1\ntables:\n  caf\xe9: {}\n".encode("latin-1"))
    with pytest.raises(SpecError, match=r"(?i)utf-8"):
        spec.load(path, environ={})


# --- malformed specs -----------------------------------------------------------------------------

MALFORMED = [
    pytest.param("- orders\n- customers\n", "(top level)", "expected a mapping", id="top-level-list"),
    pytest.param("just text\n", "(top level)", "expected a mapping", id="top-level-scalar"),
    pytest.param("", "(top level)", "expected a mapping", id="empty-document"),
    pytest.param(
        "tables:\n  orders: {}\n" + DEFAULT_DEST, "(top level)", "'version' is required", id="missing-version"
    ),
    pytest.param(
        "version: 2\ntables:\n  orders: {}\n" + DEFAULT_DEST,
        "version",
        "2 is not supported; expected 1",
        id="version-2",
    ),
    pytest.param(
        "version: '1'\ntables:\n  orders: {}\n" + DEFAULT_DEST,
        "version",
        "'1' is not supported; expected 1",
        id="version-as-string",
    ),
    pytest.param("version: 1\n" + DEFAULT_DEST, "(top level)", "'tables' is required", id="missing-tables"),
    pytest.param(
        "version: 1\ntables: {}\n" + DEFAULT_DEST, "tables", "must name at least one entry", id="empty-tables"
    ),
    pytest.param(
        "version: 1\ntables: [orders]\n" + DEFAULT_DEST,
        "tables",
        "expected a mapping, got a list",
        id="tables-as-list",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders: [insert]\n" + DEFAULT_DEST,
        "tables.orders",
        "expected a mapping or nothing, got a list",
        id="table-body-as-list",
    ),
    pytest.param(
        ORDERS + "colour: blue\n" + DEFAULT_DEST,
        "(top level)",
        "unknown key 'colour' (expected one of: destinations, events_table, migrations_dir, relay, routing, "
        "tables, url, version)",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    exlude_columns: [secret]\n" + DEFAULT_DEST,
        "tables.orders",
        "unknown key 'exlude_columns' (expected one of: acknowledge_fk_cascades, aggregate_id",
        id="unknown-table-key",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    operations: insert\n" + DEFAULT_DEST,
        "tables.orders.operations",
        "expected a list, got a string",
        id="operations-not-a-list",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    operations: []\n" + DEFAULT_DEST,
        "tables.orders.operations",
        "at least one entry",
        id="operations-empty",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    operations: [insert, update, insert]\n" + DEFAULT_DEST,
        "tables.orders.operations",
        "lists the same entry twice",
        id="operations-duplicate",
    ),
    pytest.param(
        "version: 1\ntables:\n  customers:\n    operations: [insert, upsert]\n" + DEFAULT_DEST,
        "tables.customers.operations[1]",
        "'upsert' is not one of insert, update, delete",
        id="operation-unknown",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    exclude_columns: [secret, note, 3]\n" + DEFAULT_DEST,
        "tables.orders.exclude_columns[2]",
        "expected a string, got an integer",
        id="exclude-columns-non-string",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    exclude_columns: secret\n" + DEFAULT_DEST,
        "tables.orders.exclude_columns",
        "expected a list, got a string",
        id="exclude-columns-not-a-list",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    exclude_columns: [secret, secret]\n" + DEFAULT_DEST,
        "tables.orders.exclude_columns",
        "lists the same entry twice",
        id="exclude-columns-duplicate",
    ),
    pytest.param(
        f"version: 1\ntables:\n  orders:\n    exclude_columns: [ok, {LONG_NAME}]\n" + DEFAULT_DEST,
        "tables.orders.exclude_columns[1]",
        f"'{LONG_NAME}' is 65 characters long; at most 64",
        id="exclude-column-too-long",
    ),
    pytest.param(
        f"version: 1\ntables:\n  {LONG_NAME}: {{}}\n" + DEFAULT_DEST,
        f"tables.{LONG_NAME}",
        f"'{LONG_NAME}' is 65 characters long; at most 64",
        id="table-name-too-long",
    ),
    pytest.param(
        f"version: 1\nevents_table: {LONG_NAME}\ntables:\n  orders: {{}}\n" + DEFAULT_DEST,
        "events_table",
        "characters long; at most 64",
        id="events-table-too-long",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    destination: crm\n" + DEFAULT_DEST,
        "tables.orders.destination",
        "no destination named 'crm' (defined: default)",
        id="destination-undefined",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    destination: [default, crm]\n" + DEFAULT_DEST,
        "tables.orders.destination[1]",
        "no destination named 'crm' (defined: default)",
        id="destination-list-entry-undefined",
    ),
    pytest.param(
        ORDERS,
        "tables.orders.destination",
        "no destination named 'default' (defined: none)",
        id="implicit-default-destination-missing",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    destination: 5\n" + DEFAULT_DEST,
        "tables.orders.destination",
        "expected a string",
        id="destination-not-a-string",
    ),
    pytest.param(
        ORDERS + "destinations: [default]\n",
        "destinations",
        "expected a mapping, got a list",
        id="destinations-as-list",
    ),
    pytest.param(
        ORDERS + "destinations:\n  default:\n    queue_url: https://q\n",
        "destinations.default",
        "'type' is required",
        id="destination-missing-type",
    ),
    pytest.param(
        ORDERS + "destinations:\n  default:\n    type: kafka\n",
        "destinations.default.type",
        "'kafka' is not one of sqs, sns, kinesis, eventbridge",
        id="destination-unknown-type",
    ),
    pytest.param(
        ORDERS + "destinations:\n  default:\n    type: sqs\n",
        "destinations.default",
        "'queue_url' is required",
        id="sqs-without-queue-url",
    ),
    pytest.param(
        ORDERS + DEFAULT_DEST + "    region: eu-west-1\n",
        "destinations.default",
        "unknown key 'region' (expected one of: cloudevents, debezium, format, group_by, max_batch_bytes, "
        "maxwell, queue_url, type)",
        id="sqs-unknown-key",
    ),
    pytest.param(
        ORDERS + DEFAULT_DEST + "    format: debezium\n    debezium: {decimal.handling.mode: exact}\n",
        'destinations.default.debezium["decimal.handling.mode"]',
        "'exact' is not one of precise, string, double",
        id="debezium-option-value",
    ),
    pytest.param(
        ORDERS + DEFAULT_DEST + "    format: maxwell\n    maxwell: {output_nulls: false, xoffset: true}\n",
        "destinations.default.maxwell",
        "unknown key 'xoffset'",
        id="maxwell-unknown-option",
    ),
    pytest.param(
        ORDERS + DEFAULT_DEST + "    maxwell: {output_nulls: false}\n",
        "destinations.default.maxwell",
        "options of format maxwell, but the destination's format is native",
        id="format-options-for-another-format",
    ),
    pytest.param(
        ORDERS + DEFAULT_DEST + "    max_batch_bytes: 100\n",
        "destinations.default.max_batch_bytes",
        "100 is less than the minimum of 1024",
        id="max-batch-bytes-too-small",
    ),
    pytest.param(
        ORDERS + DEFAULT_DEST + "    max_batch_bytes: 2000000\n",
        "destinations.default.max_batch_bytes",
        "2000000 is greater than the maximum of 1048576",
        id="max-batch-bytes-too-large",
    ),
    pytest.param(
        ORDERS + DEFAULT_DEST + "    max_batch_bytes: lots\n",
        "destinations.default.max_batch_bytes",
        "expected an integer, got a string",
        id="max-batch-bytes-not-integer",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders: {}\n  outbox_events: {}\n" + DEFAULT_DEST,
        "tables.outbox_events",
        "the events table itself cannot be tracked",
        id="default-events-table-tracked",
    ),
    pytest.param(
        "version: 1\nevents_table: audit_log\ntables:\n  orders: {}\n  audit_log: {}\n" + DEFAULT_DEST,
        "tables.audit_log",
        "the events table itself cannot be tracked",
        id="custom-events-table-tracked",
    ),
    pytest.param(
        "version: 1\ntables:\n  order items:\n    operations: [upsert]\n" + DEFAULT_DEST,
        'tables["order items"].operations[0]',
        "'upsert' is not one of insert, update, delete",
        id="quoted-table-name-in-path",
    ),
    pytest.param(
        "version: 1\ntables:\n  order-items:\n    destination: crm\n" + DEFAULT_DEST,
        'tables["order-items"].destination',
        "no destination named 'crm'",
        id="quoted-table-name-in-reference-path",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders: {}\nurl: ''\n" + DEFAULT_DEST, "url", "non-empty", id="url-empty"
    ),
]


@pytest.mark.parametrize(("text", "path", "fragment"), MALFORMED)
def test_malformed_spec_reports_path_and_reason(text: str, path: str, fragment: str) -> None:
    error = parse_error(text)

    assert str(error).startswith("<spec> is invalid:\n")
    lines = problem_lines(error)
    matching = [line for line in lines if line.startswith(f"{path}: ")]
    assert matching, f"no problem at path {path!r} in {lines}"
    assert any(fragment in line for line in matching), f"{fragment!r} not in {matching}"
    assert error.exit_code == EXIT_USAGE


def test_required_example_message_is_exact() -> None:
    text = "version: 1\ntables:\n  customers:\n    operations: [insert, upsert]\n" + DEFAULT_DEST
    assert problem_lines(parse_error(text)) == [
        "tables.customers.operations[1]: 'upsert' is not one of insert, update, delete"
    ]


def test_origin_is_used_as_message_prefix() -> None:
    with pytest.raises(SpecError) as info:
        spec.parse("version: 2\ntables:\n  orders: {}\n", origin="conf/outbox.yaml", environ={})
    assert str(info.value).startswith("conf/outbox.yaml is invalid:")


MISREPORTED = [
    pytest.param(
        f"version: 1\ntables:\n  {LONG_NAME}: {{}}\n" + DEFAULT_DEST,
        f"tables.{LONG_NAME}",
        "64",
        id="table-name-too-long-states-limit",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    destination: [default, default]\n" + DEFAULT_DEST,
        "tables.orders.destination",
        "twice",
        id="destination-list-duplicate",
    ),
    pytest.param(
        "version: 1\ntables:\n  orders:\n    destination: []\n" + DEFAULT_DEST,
        "tables.orders.destination",
        "at least one entry",
        id="destination-list-empty",
    ),
    pytest.param(
        "version: 1\nevents_table: my events\ntables:\n  orders: {}\n  my events: {}\n" + DEFAULT_DEST,
        'tables["my events"]',
        "the events table itself cannot be tracked",
        id="events-table-tracked-quoted-path",
    ),
]


@pytest.mark.parametrize(("text", "path", "fragment"), MISREPORTED)
def test_malformed_spec_message_quality(text: str, path: str, fragment: str) -> None:
    matching = [line for line in problem_lines(parse_error(text)) if line.startswith(f"{path}: ")]
    assert any(fragment in line for line in matching), matching


def test_invalid_yaml_reports_line_and_column() -> None:
    text = "version: 1\ntables:\n  orders: {}\n\tcustomers: {}\n"
    with pytest.raises(SpecError) as info:
        spec.parse(text, origin="outbox.yaml", environ={})
    message = str(info.value)
    assert message.startswith("outbox.yaml: not valid YAML at line 4, column 1:")
    assert "'\\t'" in message


def test_unclosed_flow_sequence_is_invalid_yaml() -> None:
    with pytest.raises(SpecError, match=r"not valid YAML at line \d+, column \d+"):
        spec.parse("version: 1\ntables:\n  orders: [insert\n", environ={})


def test_several_problems_are_reported_together() -> None:
    text = (
        textwrap.dedent("""\
        version: 1
        colour: blue
        tables:
          orders:
            operations: [upsert]
          customers:
            exclude_columns: [1]
        """)
        + DEFAULT_DEST
    )
    lines = problem_lines(parse_error(text))

    assert any(line.startswith("(top level): unknown key 'colour'") for line in lines)
    assert any(line.startswith("tables.orders.operations[0]: 'upsert'") for line in lines)
    assert any(line.startswith("tables.customers.exclude_columns[0]: expected a string") for line in lines)
    assert len(lines) == 3


def test_several_reference_problems_are_reported_together() -> None:
    text = "version: 1\ntables:\n  orders:\n    destination: a\n  customers:\n    destination: [b]\n"
    text += DEFAULT_DEST
    lines = problem_lines(parse_error(text))
    assert lines == [
        "tables.orders.destination: no destination named 'a' (defined: default)",
        "tables.customers.destination[0]: no destination named 'b' (defined: default)",
    ]


def test_undefined_destination_lists_every_defined_one_sorted() -> None:
    text = ORDERS.replace("orders: {}", "orders:\n    destination: nope") + textwrap.dedent("""\
        destinations:
          zeta: {type: sqs, queue_url: https://q/z}
          alpha: {type: sqs, queue_url: https://q/a}
        """)
    assert "no destination named 'nope' (defined: alpha, zeta)" in str(parse_error(text))


# --- ${VAR} interpolation ------------------------------------------------------------------------

ENV_DEST = ORDERS + "destinations:\n  default:\n    type: sqs\n    queue_url: @VALUE@\n"


def env_dest(value: str) -> str:
    return ENV_DEST.replace("@VALUE@", value)


def test_unset_variable_names_path_and_variable() -> None:
    error = parse_error(env_dest("${ORDERS_QUEUE_URL}"))
    message = str(error)
    assert "destinations.default.queue_url: environment variable ORDERS_QUEUE_URL is not set" in message
    assert "${ORDERS_QUEUE_URL:-fallback}" in message


def test_unset_variable_in_list_item_names_indexed_path() -> None:
    text = "version: 1\ntables:\n  orders:\n    exclude_columns: [a, '${SECRET_COL}']\n" + DEFAULT_DEST
    assert "tables.orders.exclude_columns[1]: environment variable SECRET_COL is not set" in str(
        parse_error(text)
    )


def test_unset_variable_uses_fallback() -> None:
    parsed = spec.parse(env_dest("${ORDERS_QUEUE_URL:-https://q/fallback}"), environ={})
    assert parsed.destinations["default"].options["queue_url"] == "https://q/fallback"


def test_set_variable_wins_over_fallback() -> None:
    text = env_dest("${ORDERS_QUEUE_URL:-https://q/fallback}")
    parsed = spec.parse(text, environ={"ORDERS_QUEUE_URL": "https://q/real"})
    assert parsed.destinations["default"].options["queue_url"] == "https://q/real"


def test_set_variable_is_substituted_inside_text() -> None:
    text = env_dest("https://sqs.${REGION}.amazonaws.com/${ACCOUNT:-000}/orders")
    parsed = spec.parse(text, environ={"REGION": "eu-west-1"})
    assert (
        parsed.destinations["default"].options["queue_url"]
        == "https://sqs.eu-west-1.amazonaws.com/000/orders"
    )


def test_text_that_is_not_a_variable_reference_is_left_alone() -> None:
    text = env_dest("'$PLAIN and ${1BAD}'")
    parsed = spec.parse(text, environ={"PLAIN": "x", "1BAD": "y"})
    assert parsed.destinations["default"].options["queue_url"] == "$PLAIN and ${1BAD}"


def test_interpolation_defaults_to_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OT_TEST_QUEUE_URL", "https://q/from-os")
    parsed = spec.parse(env_dest("${OT_TEST_QUEUE_URL}"))
    assert parsed.destinations["default"].options["queue_url"] == "https://q/from-os"


def test_schema_problems_and_unset_variables_are_reported_together() -> None:
    text = env_dest("${NOPE}").replace("version: 1", "version: 2")
    message = str(parse_error(text))
    assert "version: 2 is not supported" in message
    assert "environment variable NOPE is not set" in message


def test_every_unset_variable_is_reported_together() -> None:
    message = str(parse_error(FULL_EXAMPLE))
    assert "destinations.default.queue_url: environment variable ORDERS_QUEUE_URL is not set" in message
    assert "destinations.crm.queue_url: environment variable CRM_QUEUE_URL is not set" in message


def test_variable_expanding_to_empty_queue_url_is_rejected() -> None:
    error = parse_error(env_dest("${ORDERS_QUEUE_URL}"), environ={"ORDERS_QUEUE_URL": ""})
    assert "destinations.default.queue_url" in str(error)


# --- JSON Schema ---------------------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = spec.schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert jsonschema.validators.validator_for(schema) is jsonschema.Draft202012Validator


def test_schema_validates_the_readme_example() -> None:
    document = yaml.safe_load(FULL_EXAMPLE)
    jsonschema.Draft202012Validator(spec.schema()).validate(document)


def test_schema_rejects_an_invalid_document() -> None:
    validator = jsonschema.Draft202012Validator(spec.schema())
    document = yaml.safe_load(FULL_EXAMPLE)
    document["tables"]["customers"]["operations"] = ["upsert"]
    assert not validator.is_valid(document)


def test_schema_returns_a_copy() -> None:
    first = spec.schema()
    first["title"] = "changed"
    first.pop("properties")
    second = spec.schema()
    assert second["title"] == "outbox-triggers spec"
    assert "tables" in second["properties"]


# --- format_path ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([], "(top level)"),
        (["version"], "version"),
        (["tables", "orders", "exclude_columns", 2], "tables.orders.exclude_columns[2]"),
        (["tables", "order items", "operations", 1], 'tables["order items"].operations[1]'),
        (["tables", "café"], 'tables["café"]'),
        (["tables", "2024_orders"], 'tables["2024_orders"]'),
    ],
)
def test_format_path(parts: list[str | int], expected: str) -> None:
    assert spec.format_path(parts) == expected


def test_a_destination_carries_the_options_of_its_format_apart_from_its_own() -> None:
    text = (
        ORDERS
        + DEFAULT_DEST
        + "    format: debezium\n    debezium:\n      schemas.enable: true\n      binary.handling.mode: hex\n"
    )
    built = spec.parse(text)
    destination = built.destinations["default"]
    assert destination.format == "debezium"
    assert destination.format_options == {"schemas.enable": True, "binary.handling.mode": "hex"}
    assert "debezium" not in destination.options
