"""Zero-gap proof: triggers swapped again and again under concurrent writers lose and invent nothing.

Writer threads commit (and sometimes roll back) transactions on ``orders`` as
fast as they can, while the test replaces the table's triggers several times
through ``revision`` + ``migrate``, alternating what ``exclude_columns``
leaves out. Every transaction carries a unique marker. Afterwards every
committed insert, update and delete has exactly one event, no rolled-back
change has any, and events of both trigger versions are present.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa

from outbox_triggers import commands, database

from .conftest import ORDERS_SPEC, Project, wait_for

pytestmark = pytest.mark.integration
WRITERS = 8
REPLACEMENTS = 6
ROLLBACK_EVERY = 7
DELETE_EVERY = 5
MIN_TX_PER_S = 200
SPECS = (ORDERS_SPEC, ORDERS_SPEC.replace("[secret]", "[secret, total]"))


@dataclass
class Ledger:
    """What the writers did, under one lock."""

    committed: list[tuple[str, int]] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    aborted: int = 0
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def transactions(self) -> int:
        with self.lock:
            return len(self.committed) + len(self.rolled_back)


def writer(url: str, number: int, stop: threading.Event, ledger: Ledger) -> None:
    """Insert a marked row, mark it again by update, sometimes delete an older row; commit or roll back."""
    engine = database.engine(url, pool_size=1)
    mine: list[int] = []
    try:
        with engine.connect() as conn:
            count = 0
            while not stop.is_set():
                count += 1
                _transaction(conn, f"w{number}-{count}", count, mine, ledger)
    except BaseException as exc:  # reported by the test, not lost in the thread
        ledger.errors.append(exc)
    finally:
        engine.dispose()


def _transaction(conn: sa.Connection, marker: str, count: int, mine: list[int], ledger: Ledger) -> None:
    victim = mine.pop(0) if count % DELETE_EVERY == 0 and mine else None
    try:
        conn.exec_driver_sql("INSERT INTO orders (total, note) VALUES (%s, %s)", (count, marker))
        row = int(conn.exec_driver_sql("SELECT LAST_INSERT_ID()").scalar() or 0)
        conn.exec_driver_sql("UPDATE orders SET status = %s WHERE id = %s", (marker, row))
        if victim is not None:
            conn.exec_driver_sql("DELETE FROM orders WHERE id = %s", (victim,))
    except sa.exc.OperationalError:  # a lock wait or deadlock behind the trigger swap: nothing committed
        conn.rollback()
        _rolled_back(marker, victim, mine, ledger, aborted=True)
        return
    if count % ROLLBACK_EVERY == 0:
        conn.rollback()
        _rolled_back(marker, victim, mine, ledger)
        return
    conn.commit()  # an error here would leave the outcome unknown: let it fail the test
    mine.append(row)
    with ledger.lock:
        ledger.committed.append((marker, row))
        if victim is not None:
            ledger.deleted.append(victim)


def _rolled_back(
    marker: str, victim: int | None, mine: list[int], ledger: Ledger, aborted: bool = False
) -> None:
    if victim is not None:
        mine.insert(0, victim)
    with ledger.lock:
        ledger.rolled_back.append(marker)
        ledger.aborted += aborted


def test_trigger_replacement_under_load_loses_and_invents_nothing(orders: Project) -> None:
    ledger, stop = Ledger(), threading.Event()
    threads = [threading.Thread(target=writer, args=(orders.url, n, stop, ledger)) for n in range(WRITERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    held: list[float] = []
    try:
        wait_for(lambda: ledger.transactions >= 200 or ledger.errors, what="writers to get going")
        for round_ in range(REPLACEMENTS):
            orders.write_spec(SPECS[(round_ + 1) % 2])
            assert commands.revision(orders.spec_path, f"swap {round_}", orders.url) is not None
            report = orders.migrate()
            assert report.before != report.after and len(report.lock_held_ms) == 1
            held += report.lock_held_ms
            target = ledger.transactions + 200
            wait_for(lambda t=target: ledger.transactions >= t or ledger.errors, what="writes between swaps")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    elapsed = time.monotonic() - started
    assert not ledger.errors, ledger.errors[0]
    assert not any(t.is_alive() for t in threads)

    rate = ledger.transactions / elapsed
    _report(ledger, elapsed, rate, held)
    assert rate >= MIN_TX_PER_S, f"the workload ran at {rate:.0f} tx/s; the proof needs {MIN_TX_PER_S}+"
    _assert_exactly_once(orders, ledger)


def _assert_exactly_once(project: Project, ledger: Ledger) -> None:
    events = project.events()
    inserts = Counter(e["after"]["note"] for e in events if e["op"] == "insert")
    updates = Counter(e["after"]["status"] for e in events if e["op"] == "update")
    deletes = Counter(e["key"]["id"] for e in events if e["op"] == "delete")
    markers = [marker for marker, _ in ledger.committed]
    assert [m for m in markers if inserts[m] != 1] == [], "committed inserts without exactly one event"
    assert [m for m in markers if updates[m] != 1] == [], "committed updates without exactly one event"
    assert deletes == Counter(ledger.deleted), "committed deletes without exactly one event"
    ghosts = [m for m in ledger.rolled_back if inserts[m] or updates[m]]
    assert ghosts == [], "rolled-back changes left events"
    assert len(events) == 2 * len(markers) + len(ledger.deleted)
    with_total = {"total" in e["after"] for e in events if e["after"]}
    assert with_total == {True, False}, "both trigger versions captured writes"


def _report(ledger: Ledger, elapsed: float, rate: float, held: list[float]) -> None:
    work = f"{WRITERS} writers, {ledger.transactions} transactions in {elapsed:.1f}s = {rate:.0f} tx/s"
    outcome = (
        f"{len(ledger.committed)} committed, {len(ledger.rolled_back)} rolled back "
        f"({ledger.aborted} by lock errors), {len(ledger.deleted)} deletes"
    )
    locks = f"table write-lock held max {max(held):.1f} ms, mean {sum(held) / len(held):.1f} ms"
    print(f"\nzero-gap: {work} ({outcome}); {len(held)} trigger replacements, {locks}")
