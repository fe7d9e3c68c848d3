"""The importers' own statements (stored-row reads, the tip-off fill-in) on DuckDB and on BigQuery
(the emulator): a schedule lands, a game stored without a tip-off gets one, a re-run adds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from nba_props.importer import conform
from nba_props.importers.lines import plan_lines
from nba_props.importers.names import PlayerNames
from nba_props.importers.schedule import plan_schedule
from nba_props.importers.store import write
from shared.warehouse import Warehouse
from shared.warehouse.bigquery import BigQueryWarehouse
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.integration.import_fixtures import FIXTURES
from tests.support.bq_emulator import BigQueryEmulator

BACKENDS = ["duckdb", pytest.param("bigquery", marks=pytest.mark.emulator)]


@pytest.fixture(params=BACKENDS)
def warehouse(request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    made: Warehouse
    if request.param == "duckdb":
        made = DuckDbWarehouse(":memory:")
    else:
        emulator: BigQueryEmulator = request.getfixturevalue("bq_emulator")
        made = BigQueryWarehouse(
            emulator.client(), request.getfixturevalue("bq_dataset"), default_timeout_s=60
        )
    made.create_schema()
    yield made
    made.close()


def _tipoffs(warehouse: Warehouse) -> dict[str, datetime | None]:
    games = warehouse.records("import_stored_games", {"game_ids": [], "game_dates": [date(2025, 1, 15)]})
    return {g["game_id"]: g["tipoff_utc"] for g in games}


def test_a_schedule_fills_a_missing_tipoff_and_a_re_run_adds_nothing(warehouse: Warehouse) -> None:
    stored = pd.DataFrame(
        [
            {
                "game_id": "0022400601",
                "game_date": "2025-01-15",
                "tipoff_utc": None,
                "home_team_id": 1610612743,
                "away_team_id": 1610612742,
                "season": "2024-25",
                "phase": "regular",
            }
        ]
    )
    warehouse.load_frame("schedule", conform(stored, "schedule"))
    plan = plan_schedule(warehouse, FIXTURES / "schedule_league.json")
    assert (len(plan.new["schedule"]), plan.already_stored, sorted(plan.tipoffs)) == (2, 1, ["0022400601"])
    write(warehouse, plan)
    assert _tipoffs(warehouse) == {
        "0022400601": datetime(2025, 1, 16, 2, tzinfo=UTC),
        "0022400602": datetime(2025, 1, 16, 1, tzinfo=UTC),
    }
    again = plan_schedule(warehouse, FIXTURES / "schedule_league.json")
    assert (again.added, again.already_stored, again.tipoffs) == (0, 3, {})


def test_lines_are_checked_against_stored_snapshots(warehouse: Warehouse) -> None:
    write(warehouse, plan_schedule(warehouse, FIXTURES / "schedule_league.json"))
    names = PlayerNames(
        [{"player_id": 101, "name": "Nikola Jokić"}, {"player_id": 103, "name": "P.J. Washington"}]
    )
    first = plan_lines(warehouse, FIXTURES / "lines_event.json", names)
    assert first.added == 2
    write(warehouse, first)
    again = plan_lines(warehouse, FIXTURES / "lines_event.json", names)
    assert (again.added, again.already_stored) == (0, 2)
