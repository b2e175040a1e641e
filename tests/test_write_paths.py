"""Every way MySQL can change a row, and the events each produces (see README, 'Write paths')."""

from __future__ import annotations

from pathlib import Path

import pytest

from outbox_triggers import database

from .conftest import Project

pytestmark = pytest.mark.integration

ACCOUNTS = (
    "CREATE TABLE accounts (id INT PRIMARY KEY, owner VARCHAR(20) NOT NULL, balance INT NOT NULL DEFAULT 0)"
)


@pytest.fixture
def accounts(project: Project) -> Project:
    project.sql(ACCOUNTS, "CREATE TABLE staging (id INT PRIMARY KEY, owner VARCHAR(20) NOT NULL)")
    project.write_spec(
        "version: 1\ntables:\n  accounts: {}\ndestinations:\n  default: {type: sqs, queue_url: x}\n"
    )
    project.migrate()
    return project


def ops(project: Project) -> list[tuple[str, int]]:
    return [(e["op"], e["key"]["id"]) for e in project.events()]


def test_insert_select_emits_one_insert_per_row(accounts: Project) -> None:
    accounts.sql(
        "INSERT INTO staging VALUES (1, 'a'), (2, 'b')",
        "INSERT INTO accounts (id, owner) SELECT * FROM staging",
    )
    assert ops(accounts) == [("insert", 1), ("insert", 2)]


def test_load_data_emits_one_insert_per_row(accounts: Project, tmp_path: Path) -> None:
    data = tmp_path / "accounts.tsv"
    data.write_text("1\tann\t10\n2\tbob\t20\n3\tcy\t30\n")
    eng = database.engine(accounts.url, connect_args={"local_infile": True})
    try:
        with eng.connect() as conn:
            conn.exec_driver_sql(f"LOAD DATA LOCAL INFILE '{data}' INTO TABLE accounts")
            conn.commit()
    finally:
        eng.dispose()
    assert ops(accounts) == [("insert", 1), ("insert", 2), ("insert", 3)]
    assert accounts.events()[2]["after"] == {"id": 3, "owner": "cy", "balance": 30}


def test_replace_of_an_existing_row_is_a_delete_then_an_insert(accounts: Project) -> None:
    accounts.sql(
        "INSERT INTO accounts VALUES (1, 'a', 5)", "REPLACE INTO accounts VALUES (1, 'b', 6), (2, 'c', 7)"
    )
    assert ops(accounts) == [("insert", 1), ("delete", 1), ("insert", 1), ("insert", 2)]
    assert accounts.events()[1]["before"]["owner"] == "a" and accounts.events()[2]["after"]["owner"] == "b"


def test_insert_on_duplicate_key_update_both_branches(accounts: Project) -> None:
    upsert = "INSERT INTO accounts VALUES (1, 'a', {}) ON DUPLICATE KEY UPDATE balance = VALUES(balance)"
    accounts.sql(upsert.format(5), upsert.format(9), upsert.format(9))
    events = accounts.events()
    assert ops(accounts) == [("insert", 1), ("update", 1)], "the no-op third upsert emits nothing"
    assert (events[1]["before"]["balance"], events[1]["after"]["balance"]) == (5, 9)


def test_update_of_the_primary_key_carries_old_key_in_before(accounts: Project) -> None:
    accounts.sql("INSERT INTO accounts VALUES (1, 'a', 5)", "UPDATE accounts SET id = 100 WHERE id = 1")
    update = accounts.events()[1]
    assert update["key"] == {"id": 100} and update["after"]["id"] == 100 and update["before"]["id"] == 1


def test_multi_table_update_and_delete(accounts: Project) -> None:
    accounts.sql(
        "INSERT INTO accounts VALUES (1, 'a', 0), (2, 'b', 0), (3, 'c', 0)",
        "INSERT INTO staging VALUES (1, 'a'), (3, 'c')",
        "UPDATE accounts a JOIN staging s ON s.id = a.id SET a.balance = 50, s.owner = 'x'",
        "DELETE a FROM accounts a JOIN staging s ON s.id = a.id WHERE a.id = 3",
    )
    assert ops(accounts)[3:] == [("update", 1), ("update", 3), ("delete", 3)]


def test_statements_inside_a_stored_procedure(accounts: Project) -> None:
    accounts.sql(
        "CREATE PROCEDURE open_account(IN p_id INT, IN p_owner VARCHAR(20)) "
        "BEGIN INSERT INTO accounts (id, owner) VALUES (p_id, p_owner); "
        "UPDATE accounts SET balance = 100 WHERE id = p_id; END",
        "CALL open_account(7, 'proc')",
    )
    assert ops(accounts) == [("insert", 7), ("update", 7)]


def test_truncate_fires_no_trigger(accounts: Project) -> None:
    accounts.sql("INSERT INTO accounts VALUES (1, 'a', 0)", "TRUNCATE TABLE accounts")
    assert ops(accounts) == [("insert", 1)], "TRUNCATE is invisible to triggers, as documented"
