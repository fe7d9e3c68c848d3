"""`nba-props import-lines`: The Odds API v4 event odds (current and historical) and a CSV into
`prop_line_snapshots`; the serving query never chooses a snapshot taken after tip-off."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from shared.warehouse.duckdb import DuckDbWarehouse
from tests.integration.import_fixtures import (  # noqa: F401 (scheduled_warehouse: the db fixture)
    FIXTURES,
    assert_refused,
    rows,
    run,
    scheduled_warehouse,
)

JOKIC, TRENT, WASHINGTON, JACKSON, SCHRODER = 101, 102, 103, 104, 108


def _lines(db: Path) -> pd.DataFrame:
    return rows(db, "SELECT * FROM prop_line_snapshots ORDER BY player_id, bookmaker, snapshot_at")


def test_event_odds_in_decimal_are_stored_as_american_per_player_and_bookmaker(db: Path) -> None:
    result = run(db, "import-lines", FIXTURES / "lines_event.json", "--aliases", FIXTURES / "aliases.csv")
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output and "2 unmatched names" in result.output
    lines = _lines(db)
    assert set(lines["game_id"]) == {"0022400601"}
    dk = lines.loc[(lines["player_id"] == JOKIC) & (lines["bookmaker"] == "draftkings")].iloc[0]
    assert (dk["line"], dk["over_price"], dk["under_price"]) == (28.5, -115, -105)
    assert dk["snapshot_at"] == pd.Timestamp("2025-01-15T22:05:00Z")  # the market's last_update
    pj = lines.loc[lines["player_id"] == WASHINGTON].iloc[0]
    assert (pj["over_price"], pj["under_price"]) == (110, -135)
    # The alias "Joker"; FanDuel offered only the over: the under stays NULL, never invented.
    fd = lines.loc[lines["bookmaker"] == "fanduel"].iloc[0]
    assert (fd["player_id"], fd["line"], fd["over_price"]) == (JOKIC, 29.5, -110)
    assert pd.isna(fd["under_price"])
    # Rebounds are another market: not read.
    assert len(lines) == 3


def test_a_re_import_adds_nothing(db: Path) -> None:
    args = ("import-lines", FIXTURES / "lines_event.json", "--aliases", FIXTURES / "aliases.csv")
    assert run(db, *args).exit_code == 0
    again = run(db, *args)
    assert again.exit_code == 0 and "0 added, 3 already stored" in again.output
    assert len(_lines(db)) == 3
    assert len(rows(db, "SELECT * FROM unmatched_names")) == 2


def test_unmatched_names_are_reported_and_recorded_with_file_and_path(db: Path) -> None:
    result = run(db, "import-lines", FIXTURES / "lines_event.json")  # no alias for "Joker"
    assert "'Someone Unknown' (no_match)" in result.output and "'Joker' (no_match)" in result.output
    unmatched = rows(db, "SELECT * FROM unmatched_names ORDER BY location")
    assert set(unmatched["raw_name"]) == {"Someone Unknown", "Joker"}
    assert set(unmatched["source_file"]) == {str(FIXTURES / "lines_event.json")}
    assert "$.bookmakers[1].markets[0].outcomes[0]" in set(unmatched["location"])
    assert set(unmatched.loc[unmatched["raw_name"] == "Joker", "normalised_name"]) == {"joker"}


def test_a_post_tipoff_snapshot_is_stored_but_the_serving_query_chooses_the_pre_tipoff_one(db: Path) -> None:
    assert run(db, "import-lines", FIXTURES / "lines_event.json").exit_code == 0
    historical = run(db, "import-lines", FIXTURES / "lines_historical.json")  # American, 02:29 UTC
    assert historical.exit_code == 0, historical.output
    stored = _lines(db)
    late = stored.loc[stored["snapshot_at"] == pd.Timestamp("2025-01-16T02:29:00Z")]
    assert list(late["line"]) == [22.5] and (late["over_price"].iloc[0], late["under_price"].iloc[0]) == (
        -150,
        120,
    )
    warehouse = DuckDbWarehouse(db, read_only=True)
    try:
        night = {"start_date": date(2025, 1, 15), "end_date": date(2025, 1, 15)}
        served = warehouse.records("lines", {**night, "player_ids": [JOKIC]})
    finally:
        warehouse.close()
    draftkings = [r for r in served if r["bookmaker"] == "draftkings"]
    assert [r["line"] for r in draftkings] == [28.5]


def test_the_csv_resolves_names_and_ids_and_keeps_missing_prices_null(db: Path) -> None:
    result = run(db, "import-lines", FIXTURES / "lines.csv")
    assert result.exit_code == 0, result.output
    assert "4 read, 3 added" in result.output and "'Chris Twofold' (ambiguous)" in result.output
    lines = _lines(db).set_index("player_id")
    assert set(lines.index) == {TRENT, JACKSON, SCHRODER}
    assert set(lines["game_id"]) == {"0022400602"}  # MIL at MEM, from each player's team
    assert lines.loc[TRENT, "bookmaker"] == "draftkings"
    assert pd.isna(lines.loc[JACKSON, "under_price"]) and lines.loc[JACKSON, "over_price"] == 105
    assert pd.isna(lines.loc[SCHRODER, "over_price"])


def test_every_bad_row_is_reported_and_nothing_is_written(db: Path) -> None:
    path = FIXTURES / "lines_malformed.csv"
    result = run(db, "import-lines", path)
    assert_refused(
        result,
        path,
        "line 2, column line: a points line must lie between 0 and 100",
        "line 3, column over_price: not American odds",
        "line 4, column line: not a finite number",
        "line 5, column bookmaker: missing value",
        "line 5, column snapshot_time: not an ISO-8601 time",
        "line 6, column game_date: no game of team 1610612743 on 2025-01-19",
    )
    json_path = FIXTURES / "lines_malformed.json"
    json_result = run(db, "import-lines", json_path)
    assert_refused(
        json_result,
        json_path,
        "$, column away_team: not an NBA team (got 'Gotham Knights')",
        "$.bookmakers[0].markets[0].outcomes[0], column price: not a number (got '1.9')",
        "$.bookmakers[0].markets[0].outcomes[1], column name: not Over or Under",
        "$.bookmakers[0].markets[0].outcomes[2], column description: not text",
        "$.bookmakers[0].markets[0].outcomes[2], column point: a points line must lie between 0 and 100",
    )
    assert _lines(db).empty and rows(db, "SELECT * FROM unmatched_names").empty


def test_a_snapshot_disagreeing_with_a_stored_one_is_refused(db: Path, tmp_path: Path) -> None:
    assert run(db, "import-lines", FIXTURES / "lines.csv").exit_code == 0
    changed = tmp_path / "changed.csv"
    changed.write_text(
        "player_id,game_date,bookmaker,line,over_price,under_price,snapshot_time\n"
        "102,2025-01-15,draftkings,12.5,-110,-110,2025-01-15T20:00:00Z\n"
    )
    result = run(db, "import-lines", changed)
    assert result.exit_code == 1 and f"{changed}, line 2, column line" in result.output
    assert list(_lines(db).set_index("player_id").loc[[TRENT], "line"]) == [11.5]
