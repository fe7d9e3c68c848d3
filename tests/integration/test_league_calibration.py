"""The synthetic league against the real thing: the same figures, measured the same way, on the real
2022-23 and 2023-24 nba_api logs and on two fully played synthetic seasons.

Run as a module to print the side-by-side table in docs/calibration.md:
    python -m tests.integration.test_league_calibration
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from nba_props.league import generate_league
from nba_props.nba_teams import team_by_abbreviation

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nba-player-game-logs"
REAL_SEASONS = ("2022-23", "2023-24")
SEED = 7

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not DATA.is_dir(), reason=f"real game logs not found at {DATA}"),
]


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    tolerance: float
    why: str


# Tolerances are about the spread between real seasons (2018-19 to 2023-24, measured on the same
# files), so a synthetic league within them is indistinguishable from "another real season"; they
# are also 3-5 times the spread between seeds of the generator, so the test is not seed-fragile.
FIGURES = (
    Figure("points_mean", "Points per player-game, mean", 0.5, "real seasons 10.45-10.90"),
    Figure("points_std", "Points per player-game, std", 0.5, "real seasons 8.38-9.04"),
    Figure("share_20", "Share of 20+ point games", 0.015, "real seasons 14.4%-16.7%"),
    Figure("share_30", "Share of 30+ point games", 0.008, "real seasons 3.0%-4.4%"),
    Figure("mae_last10", "MAE of last-10 average (>= 5 prior games)", 0.2, "real seasons 4.60-4.75"),
    Figure("mae_last10_24min", "... for players averaging 24+ min over last 10", 0.25, "real 5.32-5.59"),
    Figure("share_back_to_back", "Share of team-games on a back-to-back", 0.025, "real seasons 15%-21%"),
    Figure("minutes_24min", "Minutes of players averaging 24+ min over last 10", 1.0, "real 29.8-30.7"),
)
# Reported for context, not asserted: they shape the figures above.
CONTEXT = (
    ("players_per_team_game", "Players with a box score per team-game"),
    ("share_0", "Share of scoreless games"),
    ("team_points_mean", "Team points per game, mean"),
    ("team_points_std", "Team points per game, std"),
)


def calibration_figures(logs: pd.DataFrame) -> dict[str, float]:
    """The figures for box-score rows with player_id, game_id, team_id, season, game_date (datetime),
    minutes and points. A player's previous games span seasons, as a bettor's memory does."""
    frame = logs.sort_values(["player_id", "game_date"], kind="stable").reset_index(drop=True)
    by_player = frame.groupby("player_id", sort=False)
    prior_games = by_player.cumcount()
    window = prior_games.clip(upper=10)

    def last_ten(column: str) -> pd.Series:
        running = by_player[column].cumsum()
        # Sum of the previous ten = running sum before this game minus the running sum 11 games back.
        before = running - frame[column]
        eleven_back = running.groupby(frame["player_id"]).shift(11).fillna(0)
        return (before - eleven_back) / window

    points, minutes = frame["points"], frame["minutes"]
    scored = prior_games >= 5
    regulars = scored & (last_ten("minutes") >= 24)
    error = (points - last_ten("points")).abs()

    team_games = frame.drop_duplicates(["team_id", "game_id"]).sort_values(["team_id", "game_date"])
    rest = team_games.groupby(["team_id", "season"])["game_date"].diff().dt.days
    team_points = frame.groupby(["game_id", "team_id"])["points"].sum()
    return {
        "points_mean": float(points.mean()),
        "points_std": float(points.std()),
        "share_20": float((points >= 20).mean()),
        "share_30": float((points >= 30).mean()),
        "mae_last10": float(error[scored].mean()),
        "mae_last10_24min": float(error[regulars].mean()),
        "share_back_to_back": float((rest == 1).mean()),
        "minutes_24min": float(minutes[regulars].mean()),
        "players_per_team_game": float(frame.groupby(["game_id", "team_id"]).size().mean()),
        "share_0": float((points == 0).mean()),
        "team_points_mean": float(team_points.mean()),
        "team_points_std": float(team_points.std()),
    }


def read_real_logs(seasons: tuple[str, ...] = REAL_SEASONS) -> pd.DataFrame:
    columns = ["PLAYER_ID", "TEAM_ID", "GAME_ID", "GAME_DATE", "MIN", "PTS", "SEASON_LABEL"]
    raw = pd.concat(
        [pd.read_csv(DATA / f"player_logs_{s}.csv.gz", usecols=columns) for s in seasons], ignore_index=True
    )
    return pd.DataFrame(
        {
            "player_id": raw["PLAYER_ID"],
            "game_id": raw["GAME_ID"],
            "team_id": raw["TEAM_ID"],
            "season": raw["SEASON_LABEL"],
            "game_date": pd.to_datetime(raw["GAME_DATE"]),
            "minutes": raw["MIN"].astype(float),
            "points": raw["PTS"],
        }
    )


def synthetic_logs(seed: int = SEED) -> pd.DataFrame:
    """Two full synthetic seasons, like the two real ones."""
    league = generate_league(seed, seasons=("2025-26", "2026-27"), played_through=date(2027, 7, 1))
    return league.player_game_logs


@pytest.fixture(scope="module")
def real() -> dict[str, float]:
    return calibration_figures(read_real_logs())


@pytest.fixture(scope="module")
def synthetic() -> dict[str, float]:
    return calibration_figures(synthetic_logs())


def test_the_real_figures_are_the_documented_ones(real: dict[str, float]) -> None:
    # Guards the measurement itself: docs/calibration.md quotes these.
    assert real["mae_last10"] == pytest.approx(4.71, abs=0.01)
    assert real["mae_last10_24min"] == pytest.approx(5.56, abs=0.01)


@pytest.mark.parametrize("figure", FIGURES, ids=[f.key for f in FIGURES])
def test_the_synthetic_league_matches_the_real_one(
    figure: Figure, real: dict[str, float], synthetic: dict[str, float]
) -> None:
    gap = synthetic[figure.key] - real[figure.key]
    assert abs(gap) <= figure.tolerance, (
        f"{figure.label}: synthetic {synthetic[figure.key]:.4f} vs real {real[figure.key]:.4f} "
        f"(tolerance {figure.tolerance}: {figure.why})"
    )


def test_every_team_of_the_real_logs_resolves_to_its_nba_team() -> None:
    frames = [
        pd.read_csv(path, usecols=["TEAM_ID", "TEAM_ABBREVIATION"]).drop_duplicates()
        for path in sorted(DATA.glob("player_logs_*.csv.gz"))
    ]
    pairs = pd.concat(frames).drop_duplicates()
    assert len(frames) == 9
    for row in pairs.itertuples():
        assert team_by_abbreviation(str(row.TEAM_ABBREVIATION)).team_id == row.TEAM_ID


def render_table(real: dict[str, float], synthetic: dict[str, float]) -> str:
    def shown(key: str, value: float) -> str:
        return f"{100 * value:.1f}%" if key.startswith("share") else f"{value:.2f}"

    lines = [
        "| Figure | Real 2022-24 | Synthetic (seed 7) | Tolerance |",
        "|---|---:|---:|---:|",
    ]
    for f in FIGURES:
        tolerance = f"±{100 * f.tolerance:.1f} pp" if f.key.startswith("share") else f"±{f.tolerance}"
        lines.append(
            f"| {f.label} | {shown(f.key, real[f.key])} | {shown(f.key, synthetic[f.key])} | {tolerance} |"
        )
    for key, label in CONTEXT:
        lines.append(f"| {label} | {shown(key, real[key])} | {shown(key, synthetic[key])} | (context) |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_table(calibration_figures(read_real_logs()), calibration_figures(synthetic_logs())))
