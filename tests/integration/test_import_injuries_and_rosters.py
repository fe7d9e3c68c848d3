"""`nba-props import-injuries` (CSV or JSON → `injury_reports`) and `import-rosters` (CSV → `rosters`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tests.integration.import_fixtures import (  # noqa: F401 (scheduled_warehouse: the db fixture)
    FIXTURES,
    assert_refused,
    rows,
    run,
    scheduled_warehouse,
)

JOKIC, TRENT, WASHINGTON, KYRIE, JACKSON = 101, 102, 103, 105, 104


def _injuries(db: Path) -> pd.DataFrame:
    return rows(db, "SELECT * FROM injury_reports ORDER BY player_id").set_index("player_id")


def test_injury_rows_join_their_teams_game_with_canonical_statuses(db: Path) -> None:
    result = run(db, "import-injuries", FIXTURES / "injuries.csv", "--aliases", FIXTURES / "aliases.csv")
    assert result.exit_code == 0, result.output
    assert "4 read, 3 added" in result.output and "'Nobody Atall' (no_match)" in result.output
    injuries = _injuries(db)
    assert injuries.loc[KYRIE, ["game_id", "status", "reason"]].tolist() == [
        "0022400601",
        "OUT",
        "Left knee; soreness",
    ]
    assert injuries.loc[JOKIC, "status"] == "QUESTIONABLE"
    assert injuries.loc[JACKSON, "game_id"] == "0022400602"  # through the alias "Jackson Junior"
    assert injuries.loc[JACKSON, "reported_at"] == pd.Timestamp("2025-01-15T23:00:00Z")
    assert pd.isna(injuries.loc[JACKSON, "reason"])
    again = run(db, "import-injuries", FIXTURES / "injuries.csv", "--aliases", FIXTURES / "aliases.csv")
    assert "0 added, 3 already stored" in again.output and len(_injuries(db)) == 3


def test_injury_json_is_read_like_the_csv(db: Path) -> None:
    result = run(db, "import-injuries", FIXTURES / "injuries.json")
    assert result.exit_code == 0, result.output
    injuries = _injuries(db)
    assert injuries.loc[TRENT, ["game_id", "status"]].tolist() == ["0022400602", "DOUBTFUL"]
    assert injuries.loc[WASHINGTON, ["game_id", "status"]].tolist() == ["0022400601", "AVAILABLE"]


def test_every_bad_injury_row_is_reported_and_nothing_is_written(db: Path) -> None:
    path = FIXTURES / "injuries_malformed.csv"
    result = run(db, "import-injuries", path)
    assert_refused(
        result,
        path,
        "line 2, column status: not one of Out/Doubtful/Questionable/Probable/Available (got 'Sore')",
        "line 3, column team: not an NBA team (got 'XXX')",
        "line 4, column game_date: no game of team 1610612742 on 2025-01-16",
        "line 5, column report_time: missing value",
        "line 5, column player: missing value",
    )
    assert _injuries(db).empty


def test_roster_spells_land_once_and_unmatched_players_are_recorded(db: Path) -> None:
    result = run(db, "import-rosters", FIXTURES / "rosters.csv")
    assert result.exit_code == 0, result.output
    assert "4 read, 3 added" in result.output and "'Mystery Man' (no_match)" in result.output
    spells = rows(db, "SELECT * FROM rosters ORDER BY player_id, from_date")
    assert spells[["player_id", "team_id"]].values.tolist() == [
        [JOKIC, 1610612743],
        [WASHINGTON, 1610612742],
        [WASHINGTON, 1610612766],
    ]
    assert pd.isna(spells["to_date"].iloc[0]) and str(spells["to_date"].iloc[1])[:10] == "2025-02-05"
    again = run(db, "import-rosters", FIXTURES / "rosters.csv")
    assert "0 added, 3 already stored" in again.output
    assert len(rows(db, "SELECT * FROM rosters")) == 3
    assert len(rows(db, "SELECT * FROM unmatched_names WHERE raw_name = 'Mystery Man'")) == 1


def test_bad_and_overlapping_roster_spells_are_reported_and_nothing_is_written(db: Path) -> None:
    path = FIXTURES / "rosters_malformed.csv"
    result = run(db, "import-rosters", path)
    assert_refused(
        result,
        path,
        "line 2, column to_date: before from_date",
        "line 3, column team: not an NBA team (got 'Springfield')",
        "line 5, column from_date: player 103 is on team 1610612742's roster then",
    )
    assert rows(db, "SELECT * FROM rosters").empty
