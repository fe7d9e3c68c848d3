"""V8 features: golden values worked out by hand, NaN semantics, point-in-time, batch = single."""

from __future__ import annotations

import hashlib
import math
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from shared.contracts import GameContext, HistoryTable, LineQuote, PredictionRequest
from shared.errors import PoisonMessage
from shared.features.sets import FEATURE_SET_HASHES, validate_feature_frame
from shared.features.v8 import V8_FEATURES, compute_features
from shared.features.window import (
    HISTORY_COLUMNS,
    HISTORY_LOOKBACK_DAYS,
    HISTORY_MAX_GAMES,
    TARGET_COLUMNS,
    frames_from_request,
    history_params,
)

D = date(2024, 11, 10)
PLAYER = 101
OTHER = 202
TEAM_A, TEAM_B, TEAM_C = 1610612737, 1610612738, 1610612739

_GAME_COLUMNS = [
    "game_date", "season", "opponent_team_id", "is_home", "minutes", "points",
    "fga", "fg3m", "fg3a", "ftm", "fta", "tov", "points_paint", "points_mid_range",
]  # fmt: skip

# Player 101's games. Every row's points = paint + mid + 3·fg3m + ftm, so zone shares add up to 1.
PLAYER_GAMES = [
    # date              season     opp     home   min  pts fga 3m 3a ft fta tov paint mid
    (date(2024, 4, 10), "2023-24", TEAM_C, False, 30, 20, 16, 2, 6, 4, 4, 2, 6, 4),  # 1
    (date(2024, 4, 12), "2023-24", TEAM_A, True, 30, 10, 10, 0, 2, 2, 2, 1, 6, 2),  # 2
    (date(2024, 10, 24), "2024-25", TEAM_B, True, 30, 15, 12, 1, 4, 2, 2, 2, 8, 2),  # 3
    (date(2024, 10, 26), "2024-25", TEAM_A, False, 36, 30, 20, 4, 8, 6, 7, 3, 10, 2),  # 4
    (date(2024, 10, 28), "2024-25", TEAM_C, True, 24, 12, 10, 1, 3, 1, 2, 1, 6, 2),  # 5
    (date(2024, 10, 31), "2024-25", TEAM_B, False, 30, 18, 14, 2, 5, 2, 3, 2, 8, 2),  # 6
    (date(2024, 11, 2), "2024-25", TEAM_A, True, 32, 22, 16, 2, 6, 4, 4, 2, 10, 2),  # 7
    (date(2024, 11, 4), "2024-25", TEAM_C, False, 30, 20, 15, 2, 5, 2, 2, 3, 8, 4),  # 8
    (date(2024, 11, 6), "2024-25", TEAM_B, True, 34, 25, 18, 3, 7, 4, 5, 2, 10, 2),  # 9
    (date(2024, 11, 9), "2024-25", TEAM_A, False, 36, 28, 20, 4, 9, 4, 5, 4, 8, 4),  # 10
]
# Rows on and after D, with absurd values: a point-in-time leak would be impossible to miss.
FUTURE_GAMES = [
    (D, "2024-25", TEAM_A, True, 48, 99, 40, 9, 20, 20, 25, 9, 40, 10),
    (D + timedelta(days=2), "2024-25", TEAM_A, True, 48, 99, 40, 9, 20, 20, 25, 9, 40, 10),
]
# Another player who has faced TEAM_A a lot (must not leak into player 101's features); one of his
# games lacks shot-zone data.
OTHER_GAMES = [
    (date(2024, 11, 1), "2024-25", TEAM_A, True, 20, 10, 8, 1, 3, 1, 2, 1, 4, 2),
    (date(2024, 11, 3), "2024-25", TEAM_A, False, 22, 12, 9, 1, 3, 3, 4, 1, None, None),
    (date(2024, 11, 7), "2024-25", TEAM_A, True, 18, 8, 7, 0, 2, 2, 2, 0, 4, 2),
]


def history_frame(*groups: tuple[int, list[tuple[object, ...]]]) -> pd.DataFrame:
    frames = [pd.DataFrame(rows, columns=_GAME_COLUMNS).assign(player_id=pid) for pid, rows in groups]
    frame = pd.concat(frames, ignore_index=True)
    return frame[list(HISTORY_COLUMNS)]


def target(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "player_id": PLAYER,
        "game_id": "0022400123",
        "game_date": D,
        "season": "2024-25",
        "phase": "regular",
        "is_home": True,
        "opponent_team_id": TEAM_A,
        "team_pace": 100.0,
        "team_off_rating": 112.0,
        "team_win_pct": 0.6,
        "team_rest_days": 1,
        "opponent_def_rating": 110.0,
        "opponent_pace": 98.0,
        "opponent_rest_days": 3,
        "opponent_paint_share_allowed": 0.4,
        "opponent_mid_share_allowed": 0.1,
        "opponent_three_share_allowed": 0.35,
        "injury_status": "QUESTIONABLE",
        "line": 22.5,
        "opening_line": 21.5,
    }
    row.update(overrides)
    return row


def targets_frame(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(TARGET_COLUMNS))


def features_of(history: pd.DataFrame, *rows: dict[str, object]) -> pd.DataFrame:
    return compute_features(history, targets_frame(*rows))


@pytest.fixture
def history() -> pd.DataFrame:
    return history_frame((PLAYER, PLAYER_GAMES + FUTURE_GAMES), (OTHER, OTHER_GAMES))


# Points in date order: 20 10 | 15 30 12 18 22 20 25 28 (| = season change); minutes:
# 30 30 | 30 36 24 30 32 30 34 36.
GOLDEN = {
    # last 5 = 18 22 20 25 28 → 113 / 5
    "points_avg_last_5": 22.6,
    # last 10 = all ten → 200 / 10
    "points_avg_last_10": 20.0,
    # 2024-25 only: 15+30+12+18+22+20+25+28 = 170 over 8 games
    "points_avg_season": 21.25,
    # deviations from 20: 0 -10 -5 10 -8 -2 2 0 5 8 → squares sum to 386; ddof=1 → / 9
    "points_std_last_10": math.sqrt(386 / 9),
    # D-7 = Nov 3 … D-1 = Nov 9: Nov 4, 6 and 9
    "games_in_last_7_days": 3.0,
    # 30 + 34 + 36 = 100 minutes / 144
    "fatigue_score": 100 / 144,
    # 0.4·0.4 + 0.13·0.1 + 0.315·0.35 = 0.16 + 0.013 + 0.11025
    "shot_zone_mismatch_score": 0.28325,
    # ((100 + 98) / 2) / 100
    "pace_score": 0.99,
    # usage = FGA + 0.44·FTA + TOV. Last 3 (games 8-10): 18.88 + 22.2 + 26.2 = 67.28 over 100 min.
    # Season (games 3-10): 14.88+26.08+11.88+17.32+19.76+18.88+22.2+26.2 = 157.2 over 252 min.
    "usage_spike_score": (67.28 / 100) / (157.2 / 252) - 1,
    # min(1, 7) - min(3, 7)
    "rest_advantage": -2.0,
    "injury_risk": 0.5,
    # last 5 points 18 22 20 25 28 at x = 0..4: Σ(x-2)(y-22.6) = 9.2+0.6+0+2.4+10.8 = 23; Σ(x-2)² = 10
    "recent_trend": 2.3,
    # last 3 minutes 30 34 36 → 100/3; last 10 → 312/10
    "minutes_change": 100 / 3 - 31.2,
    "opponent_def_rating": 110.0,
    "opponent_pace": 98.0,
    "home_away": 1.0,
    # team_rest_days == 1
    "back_to_back": 1.0,
    "playoff_game": 0.0,
    # paint over the last 10: 6+6+8+10+6+8+10+8+10+8 = 80 of 200 points
    "pct_paint": 0.4,
    # mid: 4+2+2+2+2+2+2+4+2+4 = 26 of 200
    "pct_mid_range": 0.13,
    # 3·fg3m: 3·(2+0+1+4+1+2+2+2+3+4) = 3·21 = 63 of 200
    "pct_three": 0.315,
    # ftm: 4+2+2+6+1+2+4+2+4+4 = 31 of 200
    "pct_free_throw": 0.155,
    "team_pace": 100.0,
    "team_off_rating": 112.0,
    "team_win_pct": 0.6,
    "vegas_points_line": 22.5,
    "vegas_opening_line": 21.5,
    # 22.5 - 21.5
    "vegas_line_move": 1.0,
    "has_vegas_line": 1.0,
    # vs TEAM_A before D: games 2, 4, 7, 10 → 10 + 30 + 22 + 28 = 90 over 4
    "avg_points_vs_opponent": 22.5,
    "games_vs_opponent": 4.0,
    # 312 minutes / 10
    "minutes_avg_last_10": 31.2,
    # 200 points / 312 minutes
    "ppm_avg_last_10": 200 / 312,
}


def test_the_feature_set_is_v8_in_its_fixed_order() -> None:
    assert len(V8_FEATURES) == 33
    assert V8_FEATURES[0] == "points_avg_last_5"
    assert V8_FEATURES[-1] == "ppm_avg_last_10"
    assert set(GOLDEN) == set(V8_FEATURES)
    expected_hash = hashlib.sha256(",".join(V8_FEATURES).encode()).hexdigest()[:16]
    assert expected_hash == FEATURE_SET_HASHES["v8"]


def test_every_feature_matches_its_hand_computed_value(history: pd.DataFrame) -> None:
    row = features_of(history, target()).iloc[0]
    for name in V8_FEATURES:
        assert row[name] == pytest.approx(GOLDEN[name], rel=1e-12, abs=1e-12), name


def test_the_result_has_one_float_row_per_target_with_the_targets_index(history: pd.DataFrame) -> None:
    targets = targets_frame(target(), target(player_id=OTHER), target(player_id=999))
    targets.index = pd.Index([30, 10, 20])
    features = compute_features(history, targets)
    assert list(features.index) == [30, 10, 20]
    assert tuple(features.columns) == V8_FEATURES
    assert set(features.dtypes) == {np.dtype("float64")}
    validate_feature_frame(features)


def test_rows_on_or_after_the_game_date_are_ignored(history: pd.DataFrame) -> None:
    past_only = history.loc[pd.to_datetime(history["game_date"]) < pd.Timestamp(D)]
    assert len(past_only) < len(history)
    pd.testing.assert_frame_equal(features_of(history, target()), features_of(past_only, target()))


def test_history_row_order_does_not_matter(history: pd.DataFrame) -> None:
    shuffled = history.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(features_of(history, target()), features_of(shuffled, target()))


def test_no_line_means_has_vegas_line_zero_and_line_features_nan(history: pd.DataFrame) -> None:
    rows = [target(line=None, opening_line=21.5), target(line=np.nan, opening_line=None)]
    features = features_of(history, *rows)
    assert list(features["has_vegas_line"]) == [0.0, 0.0]
    for name in ("vegas_points_line", "vegas_opening_line", "vegas_line_move"):
        assert features[name].isna().all(), name


def test_a_line_outside_the_contract_bounds_counts_as_no_line(history: pd.DataFrame) -> None:
    features = features_of(history, target(line=0.0), target(line=150.0), target(opening_line=0.0))
    assert list(features["has_vegas_line"]) == [0.0, 0.0, 1.0]
    assert features["vegas_points_line"].isna().tolist() == [True, True, False]
    # A line without a valid opening line: the line stays, opening and move are unknown.
    assert np.isnan(features.at[2, "vegas_opening_line"]) and np.isnan(features.at[2, "vegas_line_move"])


def test_missing_zone_data_makes_zone_shares_nan_but_not_the_others(history: pd.DataFrame) -> None:
    row = features_of(history, target(player_id=OTHER)).iloc[0]
    assert np.isnan(row["pct_paint"]) and np.isnan(row["pct_mid_range"])
    assert np.isnan(row["shot_zone_mismatch_score"])
    # 3·fg3m over his three games: 3·(1+1+0) = 6 of 30 points; ftm 1+3+2 = 6 of 30.
    assert row["pct_three"] == pytest.approx(6 / 30)
    assert row["pct_free_throw"] == pytest.approx(6 / 30)


def test_a_new_season_has_no_season_average_yet(history: pd.DataFrame) -> None:
    opener = target(game_date=date(2025, 10, 22), season="2025-26")
    row = features_of(history, opener).iloc[0]
    assert np.isnan(row["points_avg_season"])
    assert np.isnan(row["usage_spike_score"])
    # The recent form still comes from last season's games (the 2 future rows count now: D, D+2).
    assert row["points_avg_last_5"] == pytest.approx((25 + 28 + 99 + 99 + 20) / 5)


def test_a_player_without_history_gets_nan_averages_and_zero_counts(history: pd.DataFrame) -> None:
    row = features_of(history, target(player_id=999)).iloc[0]
    assert row["games_in_last_7_days"] == 0.0
    assert row["fatigue_score"] == 0.0
    assert row["games_vs_opponent"] == 0.0
    for name in (
        "points_avg_last_5",
        "points_avg_season",
        "points_std_last_10",
        "recent_trend",
        "ppm_avg_last_10",
    ):
        assert np.isnan(row[name]), name
    # Context features do not depend on history.
    assert row["pace_score"] == pytest.approx(0.99)
    assert np.isnan(compute_features(history.iloc[0:0], targets_frame(target())).iloc[0]["points_avg_last_5"])


def test_short_histories_need_enough_games_for_spread_and_trend(history: pd.DataFrame) -> None:
    # Player 202 has 3 games before D (10, 12, 8): the trend needs 3, the std needs 2.
    row = features_of(history, target(player_id=OTHER)).iloc[0]
    assert row["recent_trend"] == pytest.approx(-1.0)  # x = 0,1,2 → Σ(x-1)(y-10) = 0+0+(1)(-2) = -2 over 2
    assert row["points_std_last_10"] == pytest.approx(2.0)
    one_game = features_of(history, target(player_id=OTHER, game_date=date(2024, 11, 2))).iloc[0]
    assert np.isnan(one_game["points_std_last_10"]) and np.isnan(one_game["recent_trend"])
    assert one_game["minutes_change"] == 0.0


def test_injury_status_maps_to_risk_and_unknown_is_nan(history: pd.DataFrame) -> None:
    statuses = ["AVAILABLE", "probable", "QUESTIONABLE", "DOUBTFUL", None, "GTD"]
    features = features_of(history, *(target(injury_status=s) for s in statuses))
    assert features["injury_risk"].tolist()[:4] == [0.0, 0.25, 0.5, 0.75]
    assert features["injury_risk"].iloc[4:].isna().all()


def test_unknown_rest_days_give_nan_back_to_back_and_rest_advantage(history: pd.DataFrame) -> None:
    features = features_of(
        history,
        target(team_rest_days=None),
        target(team_rest_days=2),
        target(team_rest_days=12, opponent_rest_days=1),
    )
    assert np.isnan(features.at[0, "back_to_back"]) and np.isnan(features.at[0, "rest_advantage"])
    assert features.at[1, "back_to_back"] == 0.0
    assert features.at[2, "rest_advantage"] == 6.0  # min(12, 7) - 1


def test_missing_team_context_is_nan_not_a_default(history: pd.DataFrame) -> None:
    row = features_of(history, target(team_pace=None, opponent_three_share_allowed=None)).iloc[0]
    assert np.isnan(row["team_pace"]) and np.isnan(row["pace_score"])
    assert np.isnan(row["shot_zone_mismatch_score"])


def test_playoff_games_and_away_games_are_flagged(history: pd.DataFrame) -> None:
    row = features_of(history, target(phase="playoffs", is_home=False)).iloc[0]
    assert row["playoff_game"] == 1.0 and row["home_away"] == 0.0


def test_history_is_cut_to_the_serving_window() -> None:
    # 100 games against TEAM_A, one every other day: only the last HISTORY_MAX_GAMES count.
    start = D - timedelta(days=200)
    games = [
        (start + timedelta(days=2 * i), "2024-25", TEAM_A, True, 30, 10, 8, 1, 3, 1, 2, 1, 4, 2)
        for i in range(100)
    ]
    row = features_of(history_frame((PLAYER, games)), target()).iloc[0]
    assert row["games_vs_opponent"] == HISTORY_MAX_GAMES
    # A game older than the lookback is outside the window even when the window is not full.
    old = [
        (
            D - timedelta(days=HISTORY_LOOKBACK_DAYS + 1),
            "2022-23",
            TEAM_A,
            True,
            30,
            50,
            8,
            1,
            3,
            1,
            2,
            1,
            4,
            2,
        )
    ]
    recent = [
        (D - timedelta(days=HISTORY_LOOKBACK_DAYS), "2023-24", TEAM_A, True, 30, 20, 8, 1, 3, 1, 2, 1, 4, 2)
    ]
    row = features_of(history_frame((PLAYER, old + recent)), target()).iloc[0]
    assert row["games_vs_opponent"] == 1.0 and row["avg_points_vs_opponent"] == 20.0


def test_history_params_ask_for_exactly_the_feature_window() -> None:
    params = history_params(D, [5, 3, 5])
    assert params == {
        "game_date": D,
        "history_start": D - timedelta(days=HISTORY_LOOKBACK_DAYS),
        "player_ids": [3, 5],
        "max_games": HISTORY_MAX_GAMES,
    }


# -- batch = single = payload ------------------------------------------------------------------------


def random_league(seed: int, players: int = 60, targets: int = 1000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(1, players + 1):
        day = date(2022, 10, 18) + timedelta(days=int(rng.integers(0, 20)))
        for _ in range(int(rng.integers(0, 180))):
            day += timedelta(days=int(rng.choice([1, 2, 2, 3, 4, 120], p=[0.25, 0.3, 0.2, 0.1, 0.1, 0.05])))
            season = (
                f"{day.year if day.month >= 8 else day.year - 1}-{(day.year + (day.month >= 8)) % 100:02d}"
            )
            points = int(rng.integers(0, 45))
            zones = rng.random() > 0.05
            rows.append(
                {
                    "player_id": pid,
                    "game_date": day,
                    "season": season,
                    "opponent_team_id": TEAM_A + int(rng.integers(0, 6)),
                    "is_home": bool(rng.random() < 0.5),
                    "minutes": float(np.round(rng.uniform(0, 44), 3)),
                    "points": float(points),
                    "fga": float(rng.integers(0, 25)) if rng.random() > 0.03 else None,
                    "fg3m": float(rng.integers(0, 6)),
                    "fg3a": float(rng.integers(0, 12)),
                    "ftm": float(rng.integers(0, 10)),
                    "fta": float(rng.integers(0, 12)),
                    "tov": float(rng.integers(0, 6)),
                    "points_paint": float(rng.integers(0, points + 1)) if zones else None,
                    "points_mid_range": float(rng.integers(0, 8)) if zones else None,
                }
            )
    history = pd.DataFrame(rows)[list(HISTORY_COLUMNS)]
    t = []
    for i in range(targets):
        day = date(2022, 11, 1) + timedelta(days=int(rng.integers(0, 800)))
        season = f"{day.year if day.month >= 8 else day.year - 1}-{(day.year + (day.month >= 8)) % 100:02d}"
        t.append(
            target(
                player_id=int(rng.integers(1, players + 3)),
                game_id=f"g{i}",
                game_date=day,
                season=season,
                opponent_team_id=TEAM_A + int(rng.integers(0, 6)),
                team_rest_days=int(rng.integers(1, 5)),
                line=float(rng.choice([np.nan, 12.5, 20.0])),
                injury_status=rng.choice(np.array([None, "AVAILABLE", "PROBABLE"], dtype=object)),
            )
        )
    return history, targets_frame(*t)


@pytest.fixture(scope="module")
def batch() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    history, targets = random_league(5)
    return history, targets, compute_features(history, targets)


def window_of(history: pd.DataFrame, player_id: int, day: date) -> pd.DataFrame:
    """What history.sql returns for one player: the serving window, oldest first."""
    dates = pd.to_datetime(history["game_date"])
    rows = history.loc[
        (history["player_id"] == player_id)
        & (dates < pd.Timestamp(day))
        & (dates >= pd.Timestamp(day - timedelta(days=HISTORY_LOOKBACK_DAYS)))
    ]
    return rows.sort_values("game_date").tail(HISTORY_MAX_GAMES)


def test_one_target_equals_its_row_in_a_thousand_target_batch(
    batch: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    history, targets, features = batch
    assert features.notna().to_numpy().mean() > 0.7  # the batch exercises real values, not only NaN
    for i in range(0, len(targets), 37):
        one = targets.iloc[[i]]
        alone = compute_features(history, one)
        pd.testing.assert_frame_equal(alone, features.iloc[[i]], check_exact=True)
        own_window = window_of(history, int(one["player_id"].iloc[0]), one["game_date"].iloc[0])
        pd.testing.assert_frame_equal(compute_features(own_window, one), features.iloc[[i]], check_exact=True)


def request_for(targets: pd.DataFrame, history: pd.DataFrame, i: int) -> PredictionRequest:
    row = targets.iloc[i]
    window = window_of(history, int(row["player_id"]), row["game_date"])
    columns = {name: window[name].tolist() for name in HISTORY_COLUMNS[1:]}
    columns = {
        name: [None if isinstance(v, float) and math.isnan(v) else v for v in vs]
        for name, vs in columns.items()
    }
    line = row["line"]
    return PredictionRequest(
        batch_id="b1",
        player_id=int(row["player_id"]),
        player_name="Test Player",
        game=GameContext(
            game_id=str(row["game_id"]),
            game_date=row["game_date"],
            season=str(row["season"]),
            phase=row["phase"],
            team_id=TEAM_B,
            team_abbr="BBB",
            opponent_team_id=int(row["opponent_team_id"]),
            opponent_abbr="AAA",
            is_home=bool(row["is_home"]),
            team_pace=row["team_pace"],
            team_off_rating=row["team_off_rating"],
            team_win_pct=row["team_win_pct"],
            team_rest_days=int(row["team_rest_days"]),
            opponent_def_rating=row["opponent_def_rating"],
            opponent_pace=row["opponent_pace"],
            opponent_rest_days=int(row["opponent_rest_days"]),
            opponent_paint_share_allowed=row["opponent_paint_share_allowed"],
            opponent_mid_share_allowed=row["opponent_mid_share_allowed"],
            opponent_three_share_allowed=row["opponent_three_share_allowed"],
        ),
        injury_status=None if pd.isna(row["injury_status"]) else row["injury_status"],
        history=HistoryTable(**columns),
        line=None
        if math.isnan(line)
        else LineQuote(
            bookmaker="draftkings", line=line, snapshot_at=datetime(2024, 1, 1), opening_line=21.5
        ),
    )


def test_a_request_round_trips_into_the_same_feature_row(
    batch: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    history, targets, features = batch
    for i in range(3, len(targets), 97):
        request = request_for(targets, history, i)
        # Through JSON, as the message travels.
        request = PredictionRequest.model_validate_json(request.to_bytes())
        hist, one = frames_from_request(request)
        assert tuple(hist.columns) == HISTORY_COLUMNS and tuple(one.columns) == TARGET_COLUMNS
        assert len(hist) == len(request.history) and len(one) == 1
        pd.testing.assert_frame_equal(
            compute_features(hist, one), features.iloc[[i]].reset_index(drop=True), check_exact=True
        )


def test_frames_from_request_carry_the_payload_values() -> None:
    history = history_frame((PLAYER, PLAYER_GAMES + OTHER_GAMES[1:2]))
    history = history.sort_values("game_date", ignore_index=True)
    targets = targets_frame(target())
    request = request_for(targets, history, 0)
    hist, one = frames_from_request(request)
    assert hist["player_id"].eq(PLAYER).all()
    assert [d.date() for d in pd.to_datetime(hist["game_date"])] == list(history["game_date"])
    assert hist["points_paint"].isna().sum() == 1  # None in the payload → NaN, not 0
    assert one.at[0, "line"] == 22.5 and one.at[0, "opening_line"] == 21.5
    assert one.at[0, "injury_status"] == "QUESTIONABLE"
    pd.testing.assert_frame_equal(
        compute_features(hist, one), compute_features(history, targets), check_exact=True
    )


def test_a_request_without_line_or_context_gives_nan_not_defaults() -> None:
    request = PredictionRequest(
        batch_id="b1",
        player_id=PLAYER,
        player_name="Rookie",
        game=GameContext(
            game_id="g",
            game_date=D,
            season="2024-25",
            team_id=TEAM_B,
            team_abbr="BBB",
            opponent_team_id=TEAM_A,
            opponent_abbr="AAA",
            is_home=False,
        ),
        history=HistoryTable(),
    )
    row = compute_features(*frames_from_request(request)).iloc[0]
    assert row["has_vegas_line"] == 0.0 and row["games_vs_opponent"] == 0.0
    assert (
        row.drop(
            [
                "has_vegas_line",
                "games_vs_opponent",
                "games_in_last_7_days",
                "fatigue_score",
                "home_away",
                "playoff_game",
            ]
        )
        .isna()
        .all()
    )


# -- validation ---------------------------------------------------------------------------------------


def test_validation_refuses_columns_out_of_order(history: pd.DataFrame) -> None:
    features = features_of(history, target())
    swapped = list(V8_FEATURES)
    swapped[0], swapped[1] = swapped[1], swapped[0]
    with pytest.raises(PoisonMessage) as err:
        validate_feature_frame(features[swapped])
    assert err.value.reason == "invalid_features"


def test_validation_refuses_missing_columns_and_infinite_values(history: pd.DataFrame) -> None:
    features = features_of(history, target())
    with pytest.raises(PoisonMessage, match="missing"):
        validate_feature_frame(features.drop(columns="pace_score"))
    features.loc[0, "pace_score"] = np.inf
    with pytest.raises(PoisonMessage, match="pace_score"):
        validate_feature_frame(features)


def test_inputs_without_required_columns_are_refused(history: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="line"):
        compute_features(history, targets_frame(target()).drop(columns="line"))
