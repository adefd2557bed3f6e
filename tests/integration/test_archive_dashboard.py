"""The "Store history" dashboard: committed JSON is current, and every panel's SQL runs on the
real PostgreSQL (Grafana's macros substituted) and returns the fixture's numbers."""

from __future__ import annotations

import json

import pytest
from psycopg.rows import dict_row

from services.archive import dashboard
from services.archive.rows import alert_row
from services.archive.transactions import import_transactions
from services.archive.writer import ArchiveWriter
from storesight.contracts import AlertEvent, to_timestamp
from tests.integration.archive_fixture import TRANSACTIONS_CSV, at, drop_schema, fresh_schema, load_fixture


@pytest.fixture(scope="module")
def loaded(postgres_url, tmp_path_factory):
    conn, name = fresh_schema(postgres_url, "t_dash")
    load_fixture(conn)
    path = tmp_path_factory.mktemp("tx") / "till.csv"
    path.write_text(TRANSACTIONS_CSV)
    import_transactions(conn, path)
    event = AlertEvent(event_id="e1", incident_id="i1", rule_id="r1", store_id="ny", to_state=AlertEvent.STATE_FIRING,
                       from_state=AlertEvent.STATE_PENDING, at=to_timestamp(at("2026-11-01T06:40:00Z")))
    ArchiveWriter(conn).write([], [alert_row(event)])
    yield conn, name
    drop_schema(conn, name)


def grafana_expand(sql: str, schema: str) -> str:
    return (sql.replace("storesight.", f"{schema}.").replace("$store", "ny")
            .replace("$__timeFrom()", "'2026-10-31T04:00:00Z'").replace("$__timeTo()", "'2026-11-08T23:00:00Z'"))


def test_committed_dashboard_json_is_current():
    assert dashboard.main(["--check"]) == 0
    board = json.loads(dashboard.OUT.read_text())
    assert board["title"] == "Store history" and len(board["panels"]) == len(dashboard.PANELS)


@pytest.mark.parametrize("panel", dashboard.PANELS, ids=[p[0] for p in dashboard.PANELS])
def test_every_panel_query_runs_and_returns_rows(loaded, panel):
    conn, schema = loaded
    got = conn.cursor(row_factory=dict_row).execute(grafana_expand(panel[3], schema)).fetchall()
    assert got, f"panel {panel[0]!r} returned nothing on the fixture"
    if panel[0].startswith("Weekday x hour"):
        assert next(r for r in got if r["hour_of_day"] == 1)["sun"] == 4  # both 01:00 hours of the DST day
    if panel[0].startswith("Daily"):
        assert [(str(r["local_date"]), r["visitors"]) for r in got] == [
            ("2026-10-31", 7), ("2026-11-01", 15), ("2026-11-08", 6)]
    if panel[0].startswith("Store ranking"):
        assert [(r["store_id"], r["visitors"]) for r in got] == [("ny", 28), ("lis", 20)]  # 7 + 15 + 6


def test_template_variable_lists_the_stores(loaded):
    conn, schema = loaded
    query = dashboard.dashboard()["templating"]["list"][0]["query"]
    assert [r[0] for r in conn.execute(grafana_expand(query, schema))] == ["far", "lis", "ny"]
