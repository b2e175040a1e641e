"""Where the time goes: ``python -m bench.profile trigger|relay`` (not part of ``make bench``).

``trigger`` splits the per-row cost of capture by installing cut-down variants
of the trigger on the same table, in interleaved rounds of 100-row (``--single``:
1-row) transactions: an empty trigger body, an INSERT of a constant into the events
table (small, then as large as a real event), the real trigger with ``UUID()``
replaced by a constant, and the real trigger. Each is reported as µs per changed
row over no trigger at all.

``relay`` drains a backlog under pyinstrument and prints the call tree.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable, Sequence

from bench.common import EVENTS, TABLE, NullSink, captured_database, connect, interleave, median, server_url
from bench.drain import backlog_database, relay_round
from bench.settings import FULL, Settings
from bench.write_path import Workload, Writer
from outbox_triggers import database, identifiers
from outbox_triggers.render import RenderedTrigger

OPS = {"insert": "INSERT", "update": "UPDATE", "delete": "DELETE"}
EVENT_SIZED = "x" * 450


def _variant(name: str, body: Callable[[str], str]) -> Callable[[Sequence[RenderedTrigger]], list[str]]:
    def build(product: Sequence[RenderedTrigger]) -> list[str]:
        return [
            f"CREATE TRIGGER bench_{name}_{op} AFTER {OPS[op]} ON {TABLE} FOR EACH ROW {body(op)}"
            for op in OPS
        ]

    return build


def _constant(payload: str) -> Callable[[str], str]:
    events = identifiers.quote(EVENTS)
    return lambda op: (
        f"INSERT INTO {events} (table_name, key_hash, payload) VALUES ('{TABLE}', 0, '{payload}')"
    )


def _edited(tag: str, edit: Callable[[str], str]) -> Callable[[Sequence[RenderedTrigger]], list[str]]:
    def build(product: Sequence[RenderedTrigger]) -> list[str]:
        return [edit(t.sql).replace(identifiers.quote(t.name), f"bench_{tag}_{t.operation}") for t in product]

    return build


def _no_uuid(sql: str) -> str:
    return sql.replace("UUID()", "'00000000-0000-0000-0000-000000000000'")


def _no_ts(sql: str) -> str:
    return sql.replace(
        "DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')", "'2026-01-01T00:00:00.000000Z'"
    )


def _raw_datetimes(sql: str) -> str:
    return re.sub(r"IF\((\w+\.`\w+`) = 0, NULL, LEFT\(DATE_FORMAT\(\1, '[^']*'\), \d+\)\)", r"\1", sql)


def _cast_datetimes(sql: str) -> str:
    """The same text from CAST … AS CHAR instead of DATE_FORMAT (a candidate template change)."""
    sql = sql.replace(
        "DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')",
        "CONCAT(REPLACE(CAST(UTC_TIMESTAMP(6) AS CHAR), ' ', 'T'), 'Z')",
    )
    return re.sub(
        r"IF\((\w+\.`\w+`) = 0, NULL, LEFT\(DATE_FORMAT\(\1, '[^']*'\), \d+\)\)",
        r"IF(\1 = 0, NULL, REPLACE(CAST(\1 AS CHAR), ' ', 'T'))",
        sql,
    )


def _no_before(sql: str) -> str:
    return re.sub(
        r"'before', JSON_OBJECT\((?:[^()]|\([^()]*(?:\([^()]*(?:\([^()]*\))*[^()]*\))*[^()]*\))*\)",
        "'before', NULL",
        sql,
    )


VARIANTS: dict[str, Callable[[Sequence[RenderedTrigger]], list[str]]] = {
    "none": lambda product: [],
    "empty body": _variant("empty", lambda op: "SET @outbox_bench = 1"),
    "insert '{}'": _variant("small", _constant("{}")),
    "insert 450 B": _variant("sized", _constant(EVENT_SIZED)),
    "real, UUID() constant": _edited("nouuid", _no_uuid),
    "real, ts constant": _edited("nots", _no_ts),
    "real, raw DATETIME": _edited("rawdt", _raw_datetimes),
    "real, no before image": _edited("nobefore", _no_before),
    "real, CAST not DATE_FORMAT": _edited("cast", _cast_datetimes),
    "real trigger": lambda product: [t.sql for t in product],
}


def trigger_costs(server: str, settings: Settings, single: bool = False) -> dict[str, float]:
    """µs per changed row that each variant adds over no trigger, in 100-row (or 1-row) transactions."""
    with captured_database(server, "profile", settings.write_prefill) as (url, product):
        admin = connect(url, autocommit=True)
        cur = admin.cursor()
        installed: list[str] = [t.name for t in product]
        writer = Writer(url, Workload(settings.write_prefill), Workload.single if single else Workload.batch)

        def mode(name: str) -> Callable[[], float]:
            def run() -> float:
                for trigger in installed:
                    cur.execute(f"DROP TRIGGER IF EXISTS {identifiers.quote(trigger)}")
                installed.clear()
                for sql in VARIANTS[name](product):
                    cur.execute(sql)
                    installed.append(sql.split()[2].strip("`"))
                return writer.rate(settings.write_seconds, warmup=30 if single else 6)

            return run

        rates = interleave({name: mode(name) for name in VARIANTS}, settings.write_rounds)
        writer.close()
        admin.close()
    return {
        name: median([1e6 / rate - 1e6 / base for rate, base in zip(values, rates["none"], strict=True)])
        for name, values in rates.items()
    }


def relay_profile(server: str, events: int) -> str:
    """pyinstrument's call tree for one relay drain of ``events`` events."""
    from pyinstrument import Profiler  # type: ignore[import-not-found,unused-ignore]

    with backlog_database(server, "profile", events) as url:
        engine = database.engine(url, pool_size=2)
        relay_round(engine, url, events // 4, FULL, NullSink())
        profiler = Profiler(interval=0.0005)
        profiler.start()
        rate = relay_round(engine, url, events, FULL, NullSink())
        profiler.stop()
        engine.dispose()
    text: str = profiler.output_text(unicode=False, color=False)
    return f"{rate:,.0f} events/s under the profiler\n" + text


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("trigger", "relay"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--single", action="store_true", help="1-row transactions instead of 100-row ones")
    args = parser.parse_args()
    with server_url() as server:
        if args.what == "trigger":
            costs = trigger_costs(server, dataclasses.replace(FULL, write_rounds=args.rounds), args.single)
            for name, micros in costs.items():
                print(f"{name:24} {micros:7.2f} µs/row")
        else:
            print(relay_profile(server, FULL.drain_events))


if __name__ == "__main__":
    main()
