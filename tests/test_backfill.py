"""``outbox-triggers backfill`` against the live MariaDB: every row once, in chunks, resumable, online."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from outbox_triggers import backfill, backfills, lock
from outbox_triggers.errors import BackfillError
from outbox_triggers.spec import load

from .conftest import Project, wait_for

pytestmark = pytest.mark.integration

SPEC = """\
version: 1
tables:
  orders:
    exclude_columns: [secret]
    destination: [default, search]
  order_lines: {}
  codes: {}
  docs:
    max_event_bytes: 4096
destinations:
  default:
    type: sqs
    queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/orders
  search:
    type: sqs
    queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/search
  audit:
    type: sqs
    queue_url: https://sqs.us-east-1.amazonaws.com/123456789012/audit
"""
TABLES = (
    "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, status VARCHAR(20) NOT NULL DEFAULT 'new', "
    "total DECIMAL(10,2) NOT NULL, version INT NOT NULL DEFAULT 0, note TEXT NULL, secret VARCHAR(50) NULL)",
    "CREATE TABLE order_lines (order_id INT NOT NULL, line VARCHAR(20) NOT NULL, qty INT NOT NULL, "
    "PRIMARY KEY (order_id, line))",
    "CREATE TABLE codes (code VARCHAR(30) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci PRIMARY KEY, "
    "label VARCHAR(50) NOT NULL)",
    "CREATE TABLE docs (id INT PRIMARY KEY, title VARCHAR(50) NOT NULL, body LONGTEXT NULL)",
    "CREATE TABLE untracked (id INT PRIMARY KEY)",
)


@pytest.fixture
def shop(project: Project) -> Project:
    project.sql(*TABLES)
    project.write_spec(SPEC)
    project.migrate()
    return project


def fill_orders(project: Project, count: int) -> None:
    values = ", ".join(f"({i}, 'new', {i}.50, 'note {i}', 's')" for i in range(1, count + 1))
    project.sql(
        f"INSERT INTO orders (id, status, total, note, secret) VALUES {values}", "DELETE FROM outbox_events"
    )


def run(project: Project, table: str, **kwargs: Any) -> backfill.Running:
    spec = load(project.spec_path)
    with project.engine.connect() as conn:
        return backfill.start(conn, spec, table, **kwargs)


def reads(project: Project, table: str | None = None) -> list[dict[str, Any]]:
    return [e for e in project.events() if e["op"] == "read" and (table is None or e["table"] == table)]


def stored(project: Project) -> list[backfills.Backfill]:
    with project.engine.connect() as conn:
        return backfills.read(conn, "outbox_events")


def table_rows(project: Project, sql: str) -> list[tuple[Any, ...]]:
    with project.engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).all()]


def test_every_row_once_in_chunks_with_markers(shop: Project) -> None:
    fill_orders(shop, 1234)
    done = run(shop, "orders")
    assert (done.state, done.done, done.sent_now) == ("done", 1234, 1234)
    events = shop.events()
    assert events[0]["op"] == "snapshot_start" and events[-1]["op"] == "snapshot_end"
    assert {events[0]["backfill"], events[-1]["backfill"]} == {str(done.id)}
    assert events[0]["key"] is None and events[0]["after"] is None and events[0]["table"] == "orders"
    got = reads(shop)
    assert [e["key"]["id"] for e in got] == list(range(1, 1235))  # once each, in key order
    assert len({e["id"] for e in got}) == 1234
    first = got[0]
    assert first["after"] == {"id": 1, "status": "new", "total": "1.50", "version": 0, "note": "note 1"}
    assert first["before"] is None and first["backfill"] == str(done.id) and "destination" not in first
    [row] = stored(shop)
    assert (row.state, row.rows_done, row.finished_at is not None) == ("done", 1234, True)
    assert row.last_key == (1234,)


def test_composite_varchar_and_empty_tables(shop: Project) -> None:
    values = ", ".join(f"({o}, 'l{line:03d}', {o * line})" for o in range(1, 40) for line in range(1, 16))
    shop.sql(f"INSERT INTO order_lines VALUES {values}")
    words = ["b", "A", "a-1", "Zed", "ünï", "é", "😀x", "  lead", "x" * 30]
    shop.sql(
        "INSERT INTO codes VALUES " + ", ".join(f"('{w}', 'w{i}')" for i, w in enumerate(words)),
        "DELETE FROM outbox_events",
    )
    assert run(shop, "order_lines").done == 39 * 15
    assert run(shop, "codes").done == len(words)
    assert run(shop, "docs").done == 0
    got = {(e["key"]["order_id"], e["key"]["line"]) for e in reads(shop, "order_lines")}
    assert got == set(table_rows(shop, "SELECT order_id, line FROM order_lines"))
    assert len(reads(shop, "order_lines")) == 39 * 15
    assert sorted(e["key"]["code"] for e in reads(shop, "codes")) == sorted(words)
    assert [e["op"] for e in shop.events() if e["table"] == "docs"] == ["snapshot_start", "snapshot_end"]


def test_composite_key_across_many_small_chunks(shop: Project) -> None:
    values = ", ".join(f"({o}, 'l{line}', 1)" for o in range(1, 30) for line in range(1, 12))
    shop.sql(f"INSERT INTO order_lines VALUES {values}", "DELETE FROM outbox_events")
    spec = load(shop.spec_path)
    with shop.engine.connect() as conn:
        checked = backfill.target(conn, spec, "order_lines", None, None)
        assert checked.capture.table == "order_lines"
    original = backfill.FIRST_CHUNK
    try:
        backfill.FIRST_CHUNK = 7
        done = run(shop, "order_lines", pace=backfill.Pace(target_chunk_s=1e-9))
    finally:
        backfill.FIRST_CHUNK = original
    keys = [(e["key"]["order_id"], e["key"]["line"]) for e in reads(shop, "order_lines")]
    assert len(keys) == len(set(keys)) == 29 * 11 == done.done


def test_where_and_destination(shop: Project) -> None:
    fill_orders(shop, 100)
    done = run(shop, "orders", where="id % 10 = 3 AND note LIKE 'note%'", destination="search")
    got = reads(shop)
    assert [e["key"]["id"] for e in got] == list(range(3, 100, 10)) and done.done == 10
    assert {e["destination"] for e in got} == {"search"}
    assert all(e["destination"] == "search" for e in shop.events())
    [row] = stored(shop)
    assert (row.where, row.destination) == ("id % 10 = 3 AND note LIKE 'note%'", "search")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "table 'nope' does not exist"),
        (["untracked"], "table 'untracked' is not tracked"),
        (["orders", "--where", "id >"], "does not work on table 'orders'"),
        (["orders", "--where", "id > 1; DELETE FROM orders"], "no ';'"),
        (["orders", "--where", "1) OR (1"], "closes nothing"),
        (["orders", "--where", "id > 1 -- x"], "no comments"),
        (["orders", "--destination", "nowhere"], "'nowhere' is not in the spec's destinations"),
        (["orders", "--destination", "audit"], "does not receive table 'orders'"),
        (["orders", "--resume"], "--resume carries on the backfills as they started"),
        ([], "name the table to backfill, or pass --resume"),
    ],
)
def test_bad_input_is_refused_before_writing(shop: Project, args: list[str], message: str) -> None:
    fill_orders(shop, 3)
    result = cli(shop, "backfill", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and result.stderr.startswith("FAILED: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert shop.events() == [] and shop.scalar("SELECT COUNT(*) FROM orders") == 3
    assert "outbox_events_backfills" not in set(
        r[0] for r in table_rows(shop, "SHOW TABLES")
    ) or not table_rows(shop, "SELECT * FROM outbox_events_backfills")


def test_a_second_backfill_of_a_table_is_refused_unless_forced(shop: Project) -> None:
    fill_orders(shop, 50)
    name = lock.lock_name(shop.engine.url.database or "", "outbox_events.backfill.orders")
    with shop.engine.connect() as other:
        assert other.exec_driver_sql("SELECT GET_LOCK(%s, 0)", (name,)).scalar() == 1
        with pytest.raises(BackfillError, match="already running"):
            run(shop, "orders")
        assert shop.events() == []
        assert run(shop, "order_lines").state == "done"  # another table is not held back
        assert run(shop, "orders", force=True).done == 50


def test_rate_ceiling(shop: Project) -> None:
    fill_orders(shop, 300)
    began = time.monotonic()
    done = run(shop, "orders", pace=backfill.Pace(max_rows_per_second=1000))
    assert done.done == 300
    assert time.monotonic() - began >= 0.2  # the first 200-row chunk, then 100 more at 1000/s


def test_backs_off_while_the_backlog_is_too_long(shop: Project) -> None:
    fill_orders(shop, 30)
    shop.sql("INSERT INTO orders (total) VALUES (1), (2)")  # two events wait for the relay
    stop = threading.Event()
    paused: list[str] = []

    def progress(running: backfill.Running) -> None:
        if running.paused:
            paused.append(running.paused)
            stop.set()

    done = run(shop, "orders", pace=backfill.Pace(max_backlog=1), stop=stop, progress=progress)
    assert done.state == "stopped" and "backlog" in paused[0]
    assert done.done == 0 and [e["op"] for e in shop.events()] == ["insert", "insert", "snapshot_start"]


def test_large_values_are_left_out_as_a_trigger_leaves_them(shop: Project) -> None:
    shop.sql(
        "INSERT INTO docs VALUES (1, 'small', 'tiny'), (2, 'big', REPEAT('é', 5000)), (3, 'none', NULL)",
        "DELETE FROM outbox_events",
    )
    shop.sql("UPDATE docs SET title = CONCAT(title, '!')")
    trigger_events = {e["key"]["id"]: e for e in shop.events()}
    shop.sql("DELETE FROM outbox_events")
    assert run(shop, "docs").done == 3
    got = {e["key"]["id"]: e for e in reads(shop, "docs")}
    assert got[1]["after"]["body"] == "tiny" and "omitted" not in got[1]
    assert got[3]["after"]["body"] is None
    assert "body" not in got[2]["after"] and got[2]["after"]["title"] == "big!"
    assert got[2]["omitted"] == {"reason": "max_event_bytes", "limit": 4096, "after": {"body": 10000}}
    assert got[2]["omitted"]["after"] == trigger_events[2]["omitted"]["after"]
    with shop.engine.connect() as conn:
        sizes = conn.exec_driver_sql("SELECT LENGTH(payload) FROM outbox_events").scalars().all()
    assert max(sizes) <= 4096


def cli(project: Project, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "outbox_triggers", *args],
        env={**os.environ, "DATABASE_URL": project.url, "OUTBOX_SPEC": str(project.spec_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


def spawn(project: Project, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "outbox_triggers", *args],
        env={**os.environ, "DATABASE_URL": project.url, "OUTBOX_SPEC": str(project.spec_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows_done(project: Project) -> int:
    try:
        return int(project.scalar("SELECT COALESCE(MAX(rows_done), 0) FROM outbox_events_backfills") or 0)
    except sa.exc.ProgrammingError:
        return 0


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM])
def test_resume_after_a_crash_or_a_stop_sends_each_row_once(shop: Project, stop: signal.Signals) -> None:
    fill_orders(shop, 3000)
    for round_ in range(2):
        child = (
            spawn(shop, "backfill", "orders", "--max-rows-per-second", "2000")
            if round_ == 0
            else spawn(shop, "backfill", "--resume", "--max-rows-per-second", "2000")
        )
        floor = rows_done(shop) + 300
        wait_for(lambda f=floor: rows_done(shop) >= f, timeout=60, what=f"{floor} rows backfilled")
        child.send_signal(stop)
        _, err = child.communicate(timeout=30)
        if stop == signal.SIGTERM:
            assert child.returncode == 0, err
            assert "stopped after" in err
            assert shop.scalar("SELECT state FROM outbox_events_backfills") == "stopped"
        else:
            assert child.returncode == -signal.SIGKILL
    result = cli(shop, "backfill", "--resume")
    assert result.returncode == 0, result.stderr
    assert "3000 row(s)" in result.stderr or "row(s) sent" in result.stderr
    keys = [e["key"]["id"] for e in reads(shop)]
    assert sorted(keys) == list(range(1, 3001))  # none twice, none skipped
    ops = [e["op"] for e in shop.events() if e["op"].startswith("snapshot")]
    assert ops == ["snapshot_start", "snapshot_end"]
    assert shop.scalar("SELECT state FROM outbox_events_backfills") == "done"


def test_status_shows_backfills(shop: Project) -> None:
    fill_orders(shop, 20)
    run(shop, "orders")
    text = cli(shop, "status")
    assert text.returncode == 0, text.stderr
    assert "backfill 1 of orders: done, 20 of " in text.stdout
    report = json.loads(cli(shop, "status", "--format", "json").stdout)
    [entry] = report["backfills"]
    assert (entry["table"], entry["state"], entry["rows_done"]) == ("orders", "done", 20)


class Writers:
    """Threads that update, delete and insert random orders while a backfill runs, bumping ``version``."""

    def __init__(self, project: Project, keys: int, threads: int = 3) -> None:
        self.project, self.keys, self.stop = project, keys, threading.Event()
        self.threads = [threading.Thread(target=self._write, args=(n,)) for n in range(threads)]
        self.writes = 0
        self.errors: list[BaseException] = []

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(30)

    def _write(self, n: int) -> None:
        rng = random.Random(n)
        try:
            with self.project.engine.connect() as conn:
                while not self.stop.is_set():
                    self._one(conn, rng)
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def _one(self, conn: sa.Connection, rng: random.Random) -> None:
        key, roll = rng.randint(1, self.keys), rng.random()
        if roll < 0.8:
            sql = "UPDATE orders SET version = version + 1, total = total + 1 WHERE id = %s"
        elif roll < 0.9:
            sql = "DELETE FROM orders WHERE id = %s"
        else:
            sql = "INSERT IGNORE INTO orders (id, total, version) VALUES (%s, 0, 1000)"
        try:
            conn.exec_driver_sql(sql, (key,))
            conn.commit()
            self.writes += 1
        except sa.exc.OperationalError as exc:
            conn.rollback()
            if exc.orig is None or exc.orig.args[0] not in (1205, 1213):
                raise


def check_never_older(project: Project) -> None:
    """Per key, in seq order: versions never go back, no read revives a deleted row, the end is the table."""
    state: dict[int, dict[str, Any] | None] = {}
    for event in project.events():
        if event["op"].startswith("snapshot"):
            continue
        key = event["key"]["id"]
        seen = state.get(key)
        if event["op"] == "delete":
            state[key] = None
            continue
        after = event["after"]
        if event["op"] == "read":
            assert key not in state or seen is not None, f"a read of {key} after its delete"
        if seen is not None and event["op"] != "insert":
            assert after["version"] >= seen["version"], f"key {key} went back: {seen} then {after}"
        state[key] = after
    table = {r[0]: r for r in table_rows(project, "SELECT id, version, total FROM orders")}
    live = {k: v for k, v in state.items() if v is not None}
    assert set(live) == set(table)
    for key, after in live.items():
        assert (after["version"], after["total"]) == (table[key][1], f"{table[key][2]:.2f}")


def test_never_older_than_a_change_under_concurrent_writers(shop: Project) -> None:
    fill_orders(shop, 2000)
    with Writers(shop, 2200) as writers:
        wait_for(lambda: writers.writes > 20, what="writers started")
        original = backfill.FIRST_CHUNK
        try:
            backfill.FIRST_CHUNK = 50
            done = run(shop, "orders", pace=backfill.Pace(max_rows_per_second=4000, target_chunk_s=0.01))
        finally:
            backfill.FIRST_CHUNK = original
        wait_for(lambda: writers.writes > 200, what="more writes after the backfill")
    assert not writers.errors, writers.errors
    assert done.state == "done" and done.done > 1000
    ops = [e["op"] for e in shop.events()]
    during = ops[ops.index("snapshot_start") : ops.index("snapshot_end")]
    assert during.count("read") > 1000 and during.count("update") > 20  # the writes interleaved
    check_never_older(shop)


@pytest.fixture
def tiny_chunks() -> Iterator[None]:
    original = backfill.FIRST_CHUNK
    backfill.FIRST_CHUNK = 5
    yield
    backfill.FIRST_CHUNK = original


def test_unfinished_backfills_in_prometheus_metrics(shop: Project) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from outbox_triggers.backfill_metrics import BackfillCollector

    registry = CollectorRegistry()
    registry.register(BackfillCollector(shop.engine, "outbox_events", every_s=0))
    assert "outbox_backfill_rows_done{" not in generate_latest(registry).decode()  # no table yet
    fill_orders(shop, 500)
    stop = threading.Event()
    stopped = run(shop, "orders", stop=stop, progress=lambda running: stop.set())
    assert (stopped.state, stopped.done) == ("stopped", 200)  # after its first chunk
    text = generate_latest(registry).decode()
    assert 'outbox_backfill_rows_done{backfill="1",state="stopped",table="orders"} 200.0' in text
    assert "outbox_backfill_rows_estimated{" in text
    spec = load(shop.spec_path)
    with shop.engine.connect() as conn:
        [resumed] = backfill.resume(conn, spec)
    assert (resumed.state, resumed.sent_now, resumed.done) == ("done", 300, 500)
    assert sorted(e["key"]["id"] for e in reads(shop)) == list(range(1, 501))
    assert "outbox_backfill_rows_done{" not in generate_latest(registry).decode()
    assert [e["op"] for e in shop.events()].count("snapshot_end") == 1


def test_a_chunk_of_several_inserts_with_large_rows_among_them(shop: Project) -> None:
    values = ", ".join(f"({o}, 'l{line:02d}', 1)" for o in range(1, 131) for line in range(1, 21))
    shop.sql(f"INSERT INTO order_lines VALUES {values}")
    body = {True: "REPEAT(0x61, 9000)", False: "'small'"}
    docs = ", ".join(f"({i}, 't{i}', {body[i % 700 == 0]})" for i in range(1, 2501))
    shop.sql(f"INSERT INTO docs VALUES {docs}", "DELETE FROM outbox_events")
    saved = backfill.FIRST_CHUNK
    backfill.FIRST_CHUNK = 5000  # one chunk: three INSERTs of 1,000 rows or fewer
    try:
        assert run(shop, "order_lines").done == 2600
        assert run(shop, "docs").done == 2500
    finally:
        backfill.FIRST_CHUNK = saved
    lines = [(e["key"]["order_id"], e["key"]["line"]) for e in reads(shop, "order_lines")]
    assert sorted(lines) == sorted(set(table_rows(shop, "SELECT order_id, line FROM order_lines")))
    got = {e["key"]["id"]: e for e in reads(shop, "docs")}
    assert sorted(got) == list(range(1, 2501))
    assert [k for k, e in got.items() if "omitted" in e] == [700, 1400, 2100]


def test_a_writer_holding_rows_is_never_deadlocked_by_a_chunk(shop: Project) -> None:
    """A writer holds row 50, the backfill reaches it, then the writer changes row 10 of the same chunk.

    A chunk that waited for row 50 while holding rows 1-49 would make that second UPDATE a deadlock,
    and InnoDB would roll back the writer, the lighter transaction (error 1213). With NOWAIT the chunk
    lets go, sends what it can, and only a one-row chunk, holding nothing else, waits for row 50.
    """
    fill_orders(shop, 200)
    writer = shop.engine.connect()
    try:
        writer.exec_driver_sql("UPDATE orders SET version = 1 WHERE id = 50")
        result: list[backfill.Running] = []
        worker = threading.Thread(target=lambda: result.append(run(shop, "orders")))
        worker.start()
        wait_for(  # the rows before the held one are sent, and their locks released
            lambda: len(reads(shop)) >= 49, timeout=30, what="the backfill sending rows 1-49"
        )
        writer.exec_driver_sql("UPDATE orders SET version = 2 WHERE id = 10")  # would deadlock
        writer.commit()
        worker.join(30)
    finally:
        writer.close()
    assert result and (result[0].state, result[0].done) == ("done", 200)
    got = reads(shop)
    assert sorted(e["key"]["id"] for e in got) == list(range(1, 201))
    held = next(e for e in got if e["key"]["id"] == 50)
    assert held["after"]["version"] == 1, "the held row is read once the writer committed: its image"


@pytest.mark.parametrize("share", [0.9, 0.0])
def test_a_backfill_yields_to_writers_only_while_they_write(shop: Project, share: float) -> None:
    fill_orders(shop, 3000)
    alone = run(shop, "orders", pace=backfill.Pace(writer_share=share))
    assert alone.yielded_s == 0.0, "nobody writes: full speed"
    stop, threads = threading.Event(), []

    def write(n: int) -> None:
        rng = random.Random(n)
        with shop.engine.connect() as conn:
            while not stop.is_set():
                conn.exec_driver_sql(
                    "UPDATE orders SET version = version + 1 WHERE id = %s", (rng.randint(1, 3000),)
                )
                conn.commit()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        beside = run(shop, "orders", pace=backfill.Pace(writer_share=share), force=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert beside.state == "done"
    assert (beside.yielded_s > 0) == (share > 0), "it pauses for the writers, unless told not to"
