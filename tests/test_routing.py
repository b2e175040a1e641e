"""Routing by a field: map, default, template, and unroutable events in the dead letters."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from outbox_triggers import commands, emit, spec
from outbox_triggers.errors import SpecError
from outbox_triggers.events import Event
from outbox_triggers.publishers.stub import StubPublisher
from outbox_triggers.routing import Router, Unroutable, parse
from tests.conftest import ORDERS, Project, drain_queue

SPEC = """\
version: 1
tables:
  orders: {{}}
destinations:
  orders_q:
    type: sqs
    queue_url: ${{Q_ORDERS}}
  other_q:
    type: sqs
    queue_url: ${{Q_OTHER}}
routing:
{routing}
"""


@pytest.fixture
def queues(sqs: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    suffix = secrets.token_hex(4)
    urls = {
        name: sqs.create_queue(QueueName=f"{name}-{suffix}")["QueueUrl"]
        for name in ("orders", "other", "events-customer")
    }
    monkeypatch.setenv("Q_ORDERS", urls["orders"])
    monkeypatch.setenv("Q_OTHER", urls["other"])
    monkeypatch.setenv("Q_BASE", urls["orders"].rsplit("/", 1)[0])
    monkeypatch.setenv("SUFFIX", suffix)
    yield urls
    for url in urls.values():
        sqs.delete_queue(QueueUrl=url)


def _setup(project: Project, routing: str) -> Project:
    project.sql(ORDERS)
    project.write_spec(SPEC.format(routing=routing))
    project.migrate()
    return project


def _emit(project: Project, aggregate_type: str, headers: dict[str, Any] | None = None) -> str:
    with project.engine.begin() as conn:
        return emit(conn, aggregate_type=aggregate_type, aggregate_id=1, event_type="E", headers=headers)


def _dead(project: Project) -> list[tuple[str, str, str]]:
    with project.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT destination, error, payload FROM outbox_events_dead_letters ORDER BY seq"
        ).all()
    return [(d, e, json.loads(p)["id"]) for d, e, p in rows]


def test_map_default_and_trigger_events(project: Project, sqs: Any, queues: dict[str, str]) -> None:
    _setup(project, "  by: aggregate_type\n  map: {order: orders_q, orders: orders_q}\n  default: other_q")
    project.sql("INSERT INTO orders (total) VALUES (1)")
    paid = _emit(project, "order")
    moved = _emit(project, "customer")
    commands.relay(project.spec_path, project.url, once=True)
    to_orders = drain_queue(sqs, queues["orders"], expected=2, timeout=5)
    assert [b["op"] for b in to_orders] == ["insert", "event"] and to_orders[1]["id"] == paid
    assert [b["id"] for b in drain_queue(sqs, queues["other"], expected=1, timeout=5)] == [moved]
    assert project.scalar("SELECT COUNT(*) FROM outbox_events") == 0


def test_a_template_names_the_destination_by_value(
    project: Project, sqs: Any, queues: dict[str, str]
) -> None:
    template = "  template:\n    type: sqs\n    queue_url: ${Q_BASE}/${routedByValue}-${SUFFIX}"
    _setup(project, "  map: {order: orders_q}\n" + template)
    moved = _emit(project, "events-customer")
    missing = _emit(project, "nowhere")
    bad = _emit(project, "two words")
    after = _emit(project, "order")
    commands.relay(project.spec_path, project.url, once=True)
    assert [b["id"] for b in drain_queue(sqs, queues["events-customer"], expected=1, timeout=5)] == [moved]
    assert [b["id"] for b in drain_queue(sqs, queues["orders"], expected=1, timeout=5)] == [after]
    dead = _dead(project)
    assert [(d, i) for d, _, i in dead] == [("routing", missing), ("routing", bad)]
    assert (
        "routing template for 'nowhere': destination 'routing:nowhere': SQS queue is not usable" in dead[0][1]
    )
    assert "aggregate_type 'two words' can't name a destination" in dead[1][1]


def test_an_unroutable_event_is_dead_lettered_and_the_relay_goes_on(
    project: Project, sqs: Any, queues: dict[str, str]
) -> None:
    _setup(project, "  by: header.tenant\n  map: {acme: orders_q}")
    lost = _emit(project, "order", {"tenant": "globex"})
    no_header = _emit(project, "order")
    kept = _emit(project, "order", {"tenant": "acme"})
    project.sql("INSERT INTO orders (total) VALUES (1)")
    commands.relay(project.spec_path, project.url, once=True)
    assert [b["id"] for b in drain_queue(sqs, queues["orders"], expected=1, timeout=5)] == [kept]
    unrouted = "no route for header.tenant {}: not in routing.map, and routing has no default"
    dead = _dead(project)
    assert [(d, e) for d, e, _ in dead] == [
        ("routing", unrouted.format("'globex'")),
        ("routing", unrouted.format("no value")),
        ("routing", unrouted.format("no value")),  # the trigger's event: it has no headers
    ]
    assert [i for _, _, i in dead[:2]] == [lost, no_header]
    assert project.scalar("SELECT COUNT(*) FROM outbox_events") == 0


def _event(body: dict[str, Any], table: str = "t") -> Event:
    return Event(1, table, 0, json.dumps(body))


def _router(section: str) -> Router:
    document = spec.parse(
        "version: 1\ntables: {t: {}, u: {destination: b}}\n"
        "destinations: {a: {type: sqs, queue_url: qa}, b: {type: sqs, queue_url: qb}}\n" + section
    ).source
    routing = parse(document)
    assert routing is not None
    return Router(routing, {"a": StubPublisher("a"), "b": StubPublisher("b")})


def test_route_by_table_event_type_and_lists() -> None:
    by_table = _router("routing: {by: table, map: {t: [a, b]}}")
    assert [p.name for p in by_table.route(_event({}, "t"))] == ["a", "b"]
    assert not by_table.decides("u") and by_table.decides("t")
    by_type = _router("routing: {by: event_type, map: {Paid: a}, default: b}")
    assert [p.name for p in by_type.route(_event({"event_type": "Paid"}))] == ["a"]
    assert [p.name for p in by_type.route(_event({"event_type": "Other"}))] == ["b"]
    with pytest.raises(Unroutable, match="a JSON list, not an object"):
        by_type.route(Event(1, "t", 0, "[1]"))


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("routing: {map: {x: nope}}", "routing.map: no destination named 'nope'"),
        ("routing: {default: nope}", "routing.default: no destination named 'nope'"),
        ("routing: {by: colour}", "routing.by: 'colour' does not match"),
        ("routing: {template: {type: sqs, queue_url: 'q-${SOMETHING_UNSET}'}}", "SOMETHING_UNSET is not set"),
    ],
)
def test_bad_routing_is_refused(section: str, message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("$", r"\$")):
        spec.parse("version: 1\ntables: {t: {}}\ndestinations: {a: {type: sqs, queue_url: q}}\n" + section)


def test_status_counts_routed_events_under_routing(project: Project, queues: dict[str, str]) -> None:
    _setup(project, "  map: {order: orders_q}")
    project.sql("INSERT INTO orders (total) VALUES (1)")
    _emit(project, "order")
    status = commands.status(project.spec_path, project.url)
    assert status.destinations == {"orders_q": 0, "other_q": 0, "routing": 2}
