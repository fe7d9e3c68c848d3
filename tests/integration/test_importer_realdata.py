"""One real season through `import_game_logs` into a temporary DuckDB file (skipped without the data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nba_props.importer import import_game_logs
from shared.warehouse.duckdb import DuckDbWarehouse

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nba-player-game-logs"
SEASON_FILE = DATA / "player_logs_2023-24.csv.gz"

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not SEASON_FILE.is_file(), reason=f"real game logs not found at {DATA}"),
]


def test_a_real_season_imports_completely_and_consistently(tmp_path: Path) -> None:
    warehouse = DuckDbWarehouse(tmp_path / "real.duckdb")
    try:
        imported = import_game_logs(warehouse, [SEASON_FILE])
        counts = warehouse.sql(
            """
            SELECT
              (SELECT COUNT(*) FROM player_game_logs) AS logs,
              (SELECT COUNT(*) FROM schedule) AS games,
              (SELECT COUNT(*) FROM team_game_stats) AS team_games,
              (SELECT COUNT(*) FROM teams) AS teams,
              (SELECT COUNT(*) FROM players) AS players,
              (SELECT COUNT(*) FROM players WHERE team_id IS NULL) AS players_without_team
            """
        ).iloc[0]
        # 2023-24 regular season: 30 teams x 82 games / 2.
        assert imported.seasons == ["2023-24"] and imported.source_rows == counts["logs"] > 25_000
        assert counts["games"] == 1230 and counts["team_games"] == 2 * 1230 and counts["teams"] == 30
        assert counts["players"] == imported.players and counts["players_without_team"] == 0

        every_team_plays_82 = warehouse.sql(
            """
            SELECT team_id, COUNT(*) AS n FROM (
              SELECT home_team_id AS team_id FROM schedule UNION ALL SELECT away_team_id FROM schedule
            ) GROUP BY team_id
            """
        )
        assert set(every_team_plays_82["n"]) == {82} and len(every_team_plays_82) == 30

        # Box-score side and schedule side agree for every log row.
        disagreements = warehouse.sql(
            """
            SELECT COUNT(*) AS n FROM player_game_logs AS l JOIN schedule AS s USING (game_id)
            WHERE l.is_home != (l.team_id = s.home_team_id)
               OR l.opponent_team_id != CASE WHEN l.is_home THEN s.away_team_id ELSE s.home_team_id END
               OR l.game_date != s.game_date
            """
        )
        assert int(disagreements["n"].iloc[0]) == 0

        stats = warehouse.sql("SELECT pace, off_rating FROM team_game_stats")
        assert 95 < stats["pace"].mean() < 105 and 108 < stats["off_rating"].mean() < 120

        before = warehouse.sql("SELECT COUNT(*) AS n FROM player_game_logs")["n"].iloc[0]
        import_game_logs(warehouse, [SEASON_FILE])
        assert warehouse.sql("SELECT COUNT(*) AS n FROM player_game_logs")["n"].iloc[0] == before
    finally:
        warehouse.close()
