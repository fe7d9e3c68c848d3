"""`nba-props import-logs`: nba_api league game logs → teams, players, schedule, box scores, team stats."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from nba_props.importer import MalformedGameLog, import_game_logs, read_game_logs
from shared.warehouse.duckdb import DuckDbWarehouse

HEADER = [
    *("SEASON_ID", "PLAYER_ID", "PLAYER_NAME", "TEAM_ID", "TEAM_ABBREVIATION", "TEAM_NAME", "GAME_ID"),
    *("GAME_DATE", "MATCHUP", "WL", "MIN", "PTS", "FGM", "FGA", "FG_PCT", "FG3M", "FG3A", "FG3_PCT"),
    *("FTM", "FTA", "FT_PCT", "OREB", "DREB", "REB", "AST", "STL", "BLK", "TOV", "PF", "PLUS_MINUS"),
    "SEASON_LABEL",
]
DAL, UTA, NYK, LAL = (1610612742, "DAL"), (1610612762, "UTA"), (1610612752, "NYK"), (1610612747, "LAL")
TABLES = ("teams", "players", "schedule", "player_game_logs", "team_game_stats")


def _row(
    player: int, team: tuple[int, str], opponent: tuple[int, str], game: str, day: str, home: bool, pts: int
) -> dict[str, str]:
    matchup = f"{team[1]} {'vs.' if home else '@'} {opponent[1]}"
    return {
        "SEASON_ID": "22023",
        "PLAYER_ID": str(player),
        "PLAYER_NAME": f"Player {player}",
        "TEAM_ID": str(team[0]),
        "TEAM_ABBREVIATION": team[1],
        "TEAM_NAME": f"Team {team[1]}",
        "GAME_ID": game,
        "GAME_DATE": day,
        "MATCHUP": matchup,
        "WL": "W",
        "MIN": "30",
        "PTS": str(pts),
        "FGM": "5",
        "FGA": "10",
        "FG_PCT": "0.5",
        "FG3M": "2",
        "FG3A": "4",
        "FG3_PCT": "0.5",
        "FTM": str(pts - 12) if pts >= 12 else "0",
        "FTA": "4",
        "FT_PCT": "",
        "OREB": "1",
        "DREB": "3",
        "REB": "4",
        "AST": "2",
        "STL": "1",
        "BLK": "0",
        "TOV": "2",
        "PF": "3",
        "PLUS_MINUS": "-4",
        "SEASON_LABEL": "2023-24",
    }


def _game(
    game: str, day: str, home: tuple[int, str], away: tuple[int, str], base: int
) -> list[dict[str, str]]:
    return [_row(home[0] % 1000 * 10 + k, home, away, game, day, True, base + k) for k in range(2)] + [
        _row(away[0] % 1000 * 10 + k, away, home, game, day, False, base + 3 + k) for k in range(2)
    ]


def _write(path: Path, rows: list[dict[str, str]], *, gz: bool) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(rows)
    if gz:
        path.write_bytes(gzip.compress(buffer.getvalue().encode()))
    else:
        path.write_text(buffer.getvalue())
    return path


@pytest.fixture
def season_files(tmp_path: Path) -> list[Path]:
    """Two files: a gzipped one with two games, a plain one with a third (a player changed teams)."""
    first = _game("0022300001", "2023-10-24", DAL, UTA, 20) + _game("0022300002", "2023-10-25", NYK, LAL, 10)
    moved = _row(7421, LAL, DAL, "0022300003", "2023-10-27", False, 14)  # 742*10+1 played for DAL
    third = _game("0022300003", "2023-10-27", DAL, LAL, 12)
    second = [third[0], third[2], third[3], moved]
    return [
        _write(tmp_path / "player_logs_a.csv.gz", first, gz=True),
        _write(tmp_path / "player_logs_b.csv", second, gz=False),
    ]


@pytest.fixture
def warehouse() -> Iterator[DuckDbWarehouse]:
    wh = DuckDbWarehouse(":memory:")
    yield wh
    wh.close()


def _snapshot(wh: DuckDbWarehouse) -> dict[str, pd.DataFrame]:
    return {name: wh.sql(f"SELECT * FROM {name} ORDER BY ALL") for name in TABLES}


def test_imports_gzipped_and_plain_files_into_every_table(
    warehouse: DuckDbWarehouse, season_files: list[Path]
) -> None:
    imported = import_game_logs(warehouse, season_files)

    assert imported.source_rows == 12 and imported.games == 3 and imported.seasons == ["2023-24"]
    assert len(warehouse.sql("SELECT * FROM teams")) == 30
    schedule = warehouse.sql("SELECT * FROM schedule ORDER BY game_id")
    assert schedule["home_team_id"].tolist() == [DAL[0], NYK[0], DAL[0]]
    assert schedule["away_team_id"].tolist() == [UTA[0], LAL[0], LAL[0]]
    assert set(schedule["phase"]) == {"regular"} and set(schedule["season"]) == {"2023-24"}
    assert schedule["tipoff_utc"].isna().all()

    logs = warehouse.sql("SELECT * FROM player_game_logs ORDER BY game_id, player_id")
    assert len(logs) == 12
    first = logs.iloc[0]
    assert (first["player_id"], first["team_id"], first["opponent_team_id"]) == (7420, DAL[0], UTA[0])
    assert bool(first["is_home"]) and first["points"] == 20 and first["minutes"] == 30.0
    assert first["fta"] == 4 and first["plus_minus"] == -4
    assert logs["starter"].isna().all() and logs["points_paint"].isna().all()
    assert logs["points_mid_range"].isna().all()

    stats = warehouse.sql("SELECT * FROM team_game_stats WHERE game_id = '0022300001' ORDER BY team_id")
    dallas = stats.set_index("team_id").loc[DAL[0]]
    assert dallas["points"] == 20 + 21 and dallas["opp_points"] == 23 + 24
    assert dallas["possessions"] == pytest.approx(2 * (10 + 0.44 * 4 - 1 + 2))
    assert not bool(dallas["won"]) and bool(dallas["is_home"])


def test_a_player_belongs_to_the_team_of_his_latest_game(
    warehouse: DuckDbWarehouse, season_files: list[Path]
) -> None:
    # The later file first: the import order must not decide the current team.
    import_game_logs(warehouse, [season_files[1]])
    import_game_logs(warehouse, [season_files[0]])
    players = warehouse.sql("SELECT * FROM players").set_index("player_id")
    assert players.loc[7421, "team_id"] == LAL[0]
    assert players.loc[7420, "team_id"] == DAL[0]
    assert players["birth_date"].isna().all()


def test_importing_the_same_files_twice_changes_nothing(
    warehouse: DuckDbWarehouse, season_files: list[Path]
) -> None:
    import_game_logs(warehouse, season_files)
    before = _snapshot(warehouse)
    import_game_logs(warehouse, season_files)
    after = _snapshot(warehouse)
    for name in TABLES:
        pd.testing.assert_frame_equal(before[name], after[name], obj=name)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("PTS", "twelve", "not a number"),
        ("PTS", "", "missing value"),
        ("MIN", "-3", "minutes outside"),
        ("FGA", "7.5", "not a whole number"),
        ("GAME_DATE", "24/10/2023", "not a date"),
        ("MATCHUP", "DAL versus UTA", "MATCHUP"),
        ("MATCHUP", "DAL vs. XYZ", "unknown opponent"),
        ("TEAM_ID", "123", "not an NBA team id"),
        ("SEASON_LABEL", "2022-23", "disagrees with SEASON_ID"),
    ],
)
def test_a_malformed_cell_names_file_line_and_column_and_imports_nothing(
    warehouse: DuckDbWarehouse,
    season_files: list[Path],
    tmp_path: Path,
    column: str,
    value: str,
    message: str,
) -> None:
    rows = _game("0022300009", "2023-11-01", UTA, NYK, 8)
    rows[2][column] = value  # line 4 of the file: the header is line 1
    bad = _write(tmp_path / "bad.csv", rows, gz=False)
    warehouse.create_schema()

    with pytest.raises(MalformedGameLog, match=message) as caught:
        import_game_logs(warehouse, [*season_files, bad])  # the good files come first

    assert (caught.value.file, caught.value.line, caught.value.column) == (str(bad), 4, column)
    assert str(bad) in str(caught.value) and "line 4" in str(caught.value)
    assert {name: len(frame) for name, frame in _snapshot(warehouse).items()} == dict.fromkeys(TABLES, 0)


def test_a_missing_column_or_a_corrupt_gzip_is_refused_by_name(tmp_path: Path) -> None:
    rows = _game("0022300009", "2023-11-01", UTA, NYK, 8)
    for row in rows:
        del row["PTS"]
    no_points = tmp_path / "no_points.csv"
    with no_points.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[h for h in HEADER if h != "PTS"])
        writer.writeheader()
        writer.writerows(rows)
    with pytest.raises(MalformedGameLog, match="missing columns") as caught:
        read_game_logs([no_points])
    assert caught.value.column == "PTS"

    corrupt = tmp_path / "corrupt.csv.gz"
    corrupt.write_bytes(gzip.compress(b"SEASON_ID,PLAYER_ID\n22023,1\n")[:-12])
    with pytest.raises(MalformedGameLog, match=r"corrupt\.csv\.gz"):
        read_game_logs([corrupt])


def test_rows_of_one_game_that_disagree_on_home_and_away_are_refused(tmp_path: Path) -> None:
    rows = _game("0022300009", "2023-11-01", UTA, NYK, 8)
    rows[3]["MATCHUP"] = "NYK vs. UTA"  # the away side also claims home
    bad = _write(tmp_path / "bad.csv", rows, gz=False)
    with pytest.raises(MalformedGameLog, match="disagree") as caught:
        read_game_logs([bad])
    assert caught.value.column == "MATCHUP"


def test_the_cli_imports_a_directory_with_a_summary(season_files: list[Path], tmp_path: Path) -> None:
    from nba_props.cli import app

    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(
        app, ["import-logs", str(season_files[0].parent)], env={"NBA_PROPS_DUCKDB_PATH": str(db)}
    )
    assert result.exit_code == 0, result.output
    assert "3 games" in result.output and "12 rows" in result.output
    wh = DuckDbWarehouse(db, read_only=True)
    try:
        assert len(wh.sql("SELECT * FROM player_game_logs")) == 12
    finally:
        wh.close()


def test_the_cli_reports_a_malformed_file_and_exits_non_zero(tmp_path: Path) -> None:
    from nba_props.cli import app

    rows = _game("0022300009", "2023-11-01", UTA, NYK, 8)
    rows[1]["PTS"] = "x"
    bad = _write(tmp_path / "bad.csv", rows, gz=False)
    db = tmp_path / "cli.duckdb"
    result = CliRunner().invoke(app, ["import-logs", str(bad)], env={"NBA_PROPS_DUCKDB_PATH": str(db)})
    assert result.exit_code == 1
    assert "line 3" in result.output and "PTS" in result.output and "nothing was imported" in result.output


def test_a_game_id_that_lost_its_leading_zeros_is_the_same_game(
    warehouse: DuckDbWarehouse, tmp_path: Path
) -> None:
    padded = _game("0022300001", "2023-10-24", DAL, UTA, 20)
    spreadsheet = [dict(r, GAME_ID="22300001") for r in padded]  # a spreadsheet round trip
    import_game_logs(warehouse, [_write(tmp_path / "a.csv", padded, gz=False)])
    again = import_game_logs(warehouse, [_write(tmp_path / "b.csv", spreadsheet, gz=False)])

    assert again.new_rows == 0
    assert warehouse.sql("SELECT game_id FROM schedule")["game_id"].tolist() == ["0022300001"]
    assert len(warehouse.sql("SELECT * FROM player_game_logs")) == 4


@pytest.mark.parametrize("split", [False, True], ids=["in-one-import", "across-imports"])
def test_a_team_with_two_games_on_one_date_is_refused_and_imports_nothing(
    warehouse: DuckDbWarehouse, tmp_path: Path, split: bool
) -> None:
    first = _game("0022300010", "2023-10-24", DAL, UTA, 20)
    # DAL again, with other players: a team, not a player, plays twice.
    second = [
        dict(r, PLAYER_ID=str(int(r["PLAYER_ID"]) + 5))
        for r in _game("0022300011", "2023-10-24", NYK, DAL, 20)
    ]
    if split:
        import_game_logs(warehouse, [_write(tmp_path / "first.csv", first, gz=False)])
        rows = second
    else:
        rows = first + second
    before = _snapshot(warehouse) if split else None
    bad = _write(tmp_path / "bad.csv", rows, gz=False)
    warehouse.create_schema()

    with pytest.raises(MalformedGameLog, match="more than one game on 2023-10-24") as caught:
        import_game_logs(warehouse, [bad])

    assert caught.value.file == str(bad) and caught.value.column == "TEAM_ID"
    assert "0022300010" in str(caught.value) and "0022300011" in str(caught.value)
    if before is None:
        assert len(warehouse.sql("SELECT * FROM player_game_logs")) == 0
    else:
        for name, frame in _snapshot(warehouse).items():
            pd.testing.assert_frame_equal(before[name], frame, obj=name)


def test_a_player_with_two_games_on_one_date_is_refused(tmp_path: Path) -> None:
    rows = _game("0022300010", "2023-10-24", DAL, UTA, 20) + _game("0022300011", "2023-10-24", NYK, LAL, 9)
    rows[5]["PLAYER_ID"] = rows[0]["PLAYER_ID"]  # line 7: a NYK row under a DAL player's id
    with pytest.raises(MalformedGameLog, match="player 7420 has more than one game") as caught:
        read_game_logs([_write(tmp_path / "bad.csv", rows, gz=False)])
    assert caught.value.column == "PLAYER_ID"


def test_a_corrected_box_score_is_refused_with_the_stored_and_incoming_values(
    warehouse: DuckDbWarehouse, tmp_path: Path
) -> None:
    rows = _game("0022300007", "2023-10-24", DAL, UTA, 20)
    import_game_logs(warehouse, [_write(tmp_path / "first.csv", rows, gz=False)])
    before = _snapshot(warehouse)
    corrected = [dict(r) for r in rows] + _game("0022300008", "2023-10-25", NYK, LAL, 10)
    corrected[1]["PTS"] = "40"  # line 3
    bad = _write(tmp_path / "corrected.csv", corrected, gz=False)

    with pytest.raises(MalformedGameLog, match="already in the warehouse") as caught:
        import_game_logs(warehouse, [bad])

    assert (caught.value.file, caught.value.line, caught.value.column) == (str(bad), 3, "PTS")
    assert "points = 21, this file has 40" in str(caught.value)
    for name, frame in _snapshot(warehouse).items():  # nothing imported, not even the new game
        pd.testing.assert_frame_equal(before[name], frame, obj=name)


def test_team_stats_come_from_every_stored_box_score_of_a_game_completed_by_a_later_import(
    warehouse: DuckDbWarehouse, tmp_path: Path
) -> None:
    split = _game("0022300005", "2023-10-24", DAL, UTA, 20)  # one side per import
    partial = _game("0022300006", "2023-10-25", NYK, LAL, 10)  # one player per side first, then all
    import_game_logs(warehouse, [_write(tmp_path / "a.csv", [*split[:2], partial[0], partial[2]], gz=False)])
    done = import_game_logs(warehouse, [_write(tmp_path / "b.csv", [*split[2:], *partial], gz=False)])

    assert done.new_rows == 4 and done.source_rows == 6
    stats = warehouse.sql("SELECT game_id, team_id, points FROM team_game_stats ORDER BY game_id, team_id")
    assert stats.values.tolist() == [
        ["0022300005", DAL[0], 20 + 21],
        ["0022300005", UTA[0], 23 + 24],
        ["0022300006", LAL[0], 13 + 14],
        ["0022300006", NYK[0], 10 + 11],
    ]


def test_error_lines_are_physical_lines_despite_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    rows = _game("0022300001", "2023-10-24", DAL, UTA, 20)
    rows[0]["PLAYER_NAME"] = "Name\nwith a newline"  # the record of line 2 ends on line 3
    rows[3]["PTS"] = "twelve"
    path = _write(tmp_path / "odd.csv", rows, gz=False)
    lines = path.read_text().split("\n")
    lines.insert(4, "")  # a blank line 5
    path.write_text("\n".join(lines))
    physical = 1 + next(i for i, line in enumerate(path.read_text().split("\n")) if "twelve" in line)

    with pytest.raises(MalformedGameLog, match="not a number") as caught:
        read_game_logs([path])

    assert physical == 7 and caught.value.line == physical


def test_a_truncated_row_is_refused_with_its_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "cut.csv", _game("0022300001", "2023-10-24", DAL, UTA, 20), gz=False)
    lines = path.read_text().splitlines()
    lines[4] = lines[4][: lines[4].index(",-4,")]  # the last row loses PLUS_MINUS and SEASON_LABEL
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(MalformedGameLog, match="truncated") as caught:
        read_game_logs([path])

    assert (caught.value.file, caught.value.line, caught.value.column) == (str(path), 5, "PLUS_MINUS")
