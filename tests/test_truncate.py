"""TRUNCATE fires no trigger; `check` sees it through performance_schema when that is on."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from outbox_triggers import commands, database, local_server

from .conftest import ORDERS, ORDERS_SPEC

pytestmark = pytest.mark.integration


@pytest.mark.skipif(local_server.find("mariadbd", "mysqld") is None, reason="no server binary installed")
def test_check_reports_a_truncate_after_the_triggers_went_in(tmp_path: Path) -> None:
    with local_server.throwaway(["--performance-schema=ON"]) as root_url:
        admin = database.engine(root_url)
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE shop")
        url = sa.engine.make_url(root_url).set(database="shop").render_as_string(hide_password=False)
        eng = database.engine(url)
        with eng.connect() as conn:
            conn.exec_driver_sql(ORDERS)
            conn.commit()
        spec = tmp_path / "outbox.yaml"
        spec.write_text(ORDERS_SPEC)
        commands.migrate(spec, url, output=open(tmp_path / "migrate.out", "w"))  # noqa: SIM115
        assert not [f for f in commands.check(spec, url).findings if f.kind == "truncated"]
        with eng.connect() as conn:
            conn.exec_driver_sql("INSERT INTO orders (total) VALUES (1)")
            conn.commit()
            conn.exec_driver_sql("TRUNCATE TABLE orders")
        (finding,) = [f for f in commands.check(spec, url).findings if f.kind == "truncated"]
        assert finding.table == "orders" and "1 time(s)" in finding.detail and "DROP" in finding.hint
        eng.dispose()
        admin.dispose()
