"""`nba-props import-schedule`: the NBA season-schedule JSON and a CSV into `schedule`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from nba_props.importer import conform
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.integration.import_fixtures import FIXTURES, assert_refused, rows, run, seeded_warehouse


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return seeded_warehouse(tmp_path / "warehouse.duckdb")


def _schedule(db: Path) -> pd.DataFrame:
    return rows(db, "SELECT * FROM schedule ORDER BY game_id").set_index("game_id")


def test_the_league_schedule_json_lands_with_utc_tipoffs_eastern_dates_and_phases(db: Path) -> None:
    result = run(db, "import-schedule", FIXTURES / "schedule_league.json")
    assert result.exit_code == 0, result.output
    assert "5 read, 3 added, 0 already stored" in result.output
    assert (
        "1 skipped: All-Star games" in result.output and "1 skipped: teams not decided yet" in result.output
    )
    games = _schedule(db)
    assert list(games.index) == ["0022400601", "0022400602", "0022400650"]
    den = games.loc["0022400601"]
    assert den["tipoff_utc"] == pd.Timestamp("2025-01-16T02:00:00Z")
    assert str(den["game_date"])[:10] == "2025-01-15"  # 9 pm Eastern on the 15th
    assert (den["home_team_id"], den["away_team_id"]) == (1610612743, 1610612742)
    assert (den["season"], den["phase"]) == ("2024-25", "regular")
    # Only gameDateTimeEst: Eastern wall-clock time although written with a "Z".
    assert games.loc["0022400602", "tipoff_utc"] == pd.Timestamp("2025-01-16T01:00:00Z")
    # A neutral-site game keeps the schedule's home and away.
    assert (games.loc["0022400650", "home_team_id"], games.loc["0022400650", "away_team_id"]) == (
        1610612754,
        1610612759,
    )


def test_a_re_import_adds_nothing_and_an_agreeing_csv_only_adds_its_new_game(db: Path) -> None:
    assert run(db, "import-schedule", FIXTURES / "schedule_league.json").exit_code == 0
    again = run(db, "import-schedule", FIXTURES / "schedule_league.json")
    assert again.exit_code == 0 and "0 added, 3 already stored" in again.output
    csv = run(db, "import-schedule", FIXTURES / "schedule.csv")  # CRLF, a blank line, names and ids
    assert csv.exit_code == 0, csv.output
    assert "3 read, 1 added, 2 already stored" in csv.output
    games = _schedule(db)
    assert len(games) == 4
    assert games.loc["0022400700", "tipoff_utc"] == pd.Timestamp("2025-02-02T00:30:00Z")
    # The CSV gives no tip-off for 0022400602: the stored one stays.
    assert games.loc["0022400602", "tipoff_utc"] == pd.Timestamp("2025-01-16T01:00:00Z")


def test_a_stored_game_without_a_tipoff_gets_the_schedules_tipoff(db: Path) -> None:
    warehouse = DuckDbWarehouse(db)
    game = {"game_id": "0022400601", "game_date": "2025-01-15", "tipoff_utc": None}
    frame = pd.DataFrame([{**game, "home_team_id": 1610612743, "away_team_id": 1610612742}])
    warehouse.load_frame("schedule", conform(frame.assign(season="2024-25", phase="regular"), "schedule"))
    warehouse.close()
    result = run(db, "import-schedule", FIXTURES / "schedule_league.json")
    assert result.exit_code == 0, result.output
    assert "1 tip-off times filled in" in result.output
    assert _schedule(db).loc["0022400601", "tipoff_utc"] == pd.Timestamp(datetime(2025, 1, 16, 2, tzinfo=UTC))


def test_a_conflicting_stored_game_is_reported_and_nothing_is_written(db: Path, tmp_path: Path) -> None:
    assert run(db, "import-schedule", FIXTURES / "schedule_league.json").exit_code == 0
    moved = tmp_path / "moved.csv"
    moved.write_text(
        "game_id,game_date,tipoff_utc,home,away\n"
        "0022400900,2025-03-01,2025-03-02T00:00:00Z,BOS,NYK\n"
        "0022400601,2025-01-16,2025-01-17T02:00:00Z,DEN,DAL\n"
    )
    result = run(db, "import-schedule", moved)
    assert result.exit_code == 1
    assert f"{moved}, line 3, column game_date" in result.output
    assert "never overwritten" in result.output and "nothing was written" in result.output
    assert "0022400900" not in _schedule(db).index


def test_every_bad_csv_row_is_reported_with_its_line_and_column(db: Path) -> None:
    path = FIXTURES / "schedule_malformed.csv"  # also starts with a BOM
    result = run(db, "import-schedule", path)
    assert_refused(
        result,
        path,
        "line 2, column game_date: not a date",
        "line 3, column tipoff_utc: not an ISO-8601 time",
        "line 3, column away: a team cannot play itself",
        "line 4, column home: not an NBA team (got 'Springfield Atoms')",
        "line 5: 4 fields where the header has 5",
    )
    assert _schedule(db).empty


def test_every_bad_json_game_is_reported_with_its_path(db: Path) -> None:
    path = FIXTURES / "schedule_malformed.json"
    result = run(db, "import-schedule", path)
    assert_refused(
        result,
        path,
        "$.leagueSchedule.seasonYear: not a season",
        "$.leagueSchedule.gameDates[0].games[0], column gameId: not text",
        "$.leagueSchedule.gameDates[0].games[0], column awayTeam.teamId: not an NBA team",
        "$.leagueSchedule.gameDates[0].games[1], column gameDateTimeUTC: not an ISO-8601 time",
        "$.leagueSchedule.gameDates[0].games[2]: expected an object",
        "$.leagueSchedule.gameDates[1].games: expected a list",
    )
    assert _schedule(db).empty
