"""The long-memory history features of "v8hist": values worked out by hand on the V8 golden player,
the window cut, NaN semantics, and V8 left exactly as it was."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from shared.features.history import HISTORY_FEATURES
from shared.features.sets import FEATURE_SETS, V8HIST_FEATURES, feature_columns, union_of
from shared.features.v8 import HISTORY_DERIVED_FEATURES, V8_FEATURES, compute_features
from shared.features.window import HISTORY_LOOKBACK_DAYS, HISTORY_MAX_GAMES
from tests.unit.test_features import (
    FUTURE_GAMES,
    OTHER,
    OTHER_GAMES,
    PLAYER,
    PLAYER_GAMES,
    TEAM_A,
    D,
    history_frame,
    target,
    targets_frame,
)

# The golden player's ten games before D, latest first (lag 0 = Nov 9).
POINTS = [28, 25, 20, 22, 18, 12, 30, 15, 10, 20]
MINUTES = [36, 34, 30, 32, 30, 24, 36, 30, 30, 30]


def ewma(values: list[int], half_life: float) -> float:
    weights = [0.5 ** (lag / half_life) for lag in range(len(values))]
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)


GOLDEN = {
    "points_ewma_5": ewma(POINTS, 5),
    "points_ewma_10": ewma(POINTS, 10),
    "points_ewma_20": ewma(POINTS, 20),
    "minutes_ewma_10": ewma(MINUTES, 10),
    # every window game, both seasons: 200 points and 312 minutes over 10 games
    "points_avg_window": 20.0,
    "minutes_avg_window": 31.2,
    # FGA 16+10+12+20+10+14+16+15+18+20 = 151; FTA 4+2+2+7+2+3+4+2+5+5 = 36;
    # 3PA 6+2+4+8+3+5+6+5+7+9 = 55
    "fga_avg_last_10": 15.1,
    "fta_avg_last_10": 3.6,
    "fg3a_avg_last_10": 5.5,
    # Nov 9: 36 minutes, the day before D
    "minutes_last_game": 36.0,
    "days_since_last_game": 1.0,
}


def features(history: pd.DataFrame, **overrides: object) -> pd.Series:
    return compute_features(history, targets_frame(target(**overrides)), V8HIST_FEATURES).iloc[0]


@pytest.fixture
def history() -> pd.DataFrame:
    return history_frame((PLAYER, PLAYER_GAMES + FUTURE_GAMES), (OTHER, OTHER_GAMES))


def test_v8hist_is_v8_then_the_history_features_and_every_set_is_computable() -> None:
    assert V8HIST_FEATURES == (*V8_FEATURES, *HISTORY_FEATURES) == HISTORY_DERIVED_FEATURES
    assert set(GOLDEN) == set(HISTORY_FEATURES) and len(HISTORY_FEATURES) == 11
    assert FEATURE_SETS["v8"] == V8_FEATURES
    union = union_of(list(FEATURE_SETS))
    assert len(union) == len(set(union)) == 33 + 13 + 11


def test_every_history_feature_matches_its_hand_computed_value(history: pd.DataFrame) -> None:
    row = features(history)
    # The helper itself, by hand: with half-life 5, the game 5 back weighs exactly half the latest.
    assert ewma([0, 0, 0, 0, 0, 1], 5) == pytest.approx(0.5 / sum(0.5 ** (k / 5) for k in range(6)))
    for name, expected in GOLDEN.items():
        assert row[name] == pytest.approx(expected, rel=1e-12), name
    # Recent games weigh more: the latest are above the mean, so the short half-life is highest.
    assert row["points_ewma_5"] > row["points_ewma_10"] > row["points_ewma_20"] > row["points_avg_window"]


def test_adding_the_history_features_leaves_v8_bit_for_bit_unchanged(history: pd.DataFrame) -> None:
    targets = targets_frame(target(), target(player_id=OTHER), target(player_id=999))
    v8 = compute_features(history, targets)
    both = compute_features(history, targets, V8HIST_FEATURES)
    pd.testing.assert_frame_equal(both[list(V8_FEATURES)], v8, check_exact=True)
    picked = compute_features(history, targets, ["days_since_last_game", "points_avg_last_5"])
    assert list(picked.columns) == ["days_since_last_game", "points_avg_last_5"]
    pd.testing.assert_series_equal(picked["points_avg_last_5"], v8["points_avg_last_5"], check_exact=True)


def test_columns_of_the_context_alone_need_no_history_features(history: pd.DataFrame) -> None:
    targets = targets_frame(target(), target(player_id=OTHER)).set_axis([7, 3])
    context = pd.DataFrame({"travel_miles": [123.0, 0.0], "player_age": [24.5, np.nan]})
    out = feature_columns(history, targets, ["player_age", "travel_miles"], context=context)
    assert list(out.columns) == ["player_age", "travel_miles"] and list(out.index) == [7, 3]
    assert out.loc[7, "travel_miles"] == 123.0 and np.isnan(out.loc[3, "player_age"])


def test_a_name_that_is_not_a_history_feature_is_refused(history: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="travel_miles"):
        compute_features(history, targets_frame(target()), ["points_ewma_5", "travel_miles"])


def test_rows_on_or_after_the_game_date_do_not_move_them(history: pd.DataFrame) -> None:
    past = history.loc[pd.to_datetime(history["game_date"]) < pd.Timestamp(D)]
    pd.testing.assert_series_equal(features(history), features(past), check_exact=True)


def test_a_player_without_history_gets_nan(history: pd.DataFrame) -> None:
    row = features(history, player_id=999)
    assert row[list(HISTORY_FEATURES)].isna().all()


def test_one_missing_attempt_in_the_last_ten_makes_only_that_average_nan(history: pd.DataFrame) -> None:
    gap = history.copy()
    last_nov_4 = (gap["player_id"] == PLAYER) & (
        pd.to_datetime(gap["game_date"]) == pd.Timestamp(2024, 11, 4)
    )
    gap["fga"] = gap["fga"].astype(float)
    gap.loc[last_nov_4, "fga"] = np.nan
    row = features(gap)
    assert np.isnan(row["fga_avg_last_10"])
    assert row["fta_avg_last_10"] == pytest.approx(3.6) and row["points_ewma_5"] == pytest.approx(
        GOLDEN["points_ewma_5"]
    )


def test_the_window_is_the_serving_window() -> None:
    # 100 games, one every other day, 10 points each except the 18 oldest (99): only the last
    # HISTORY_MAX_GAMES count, so the window average is exactly 10.
    start = D - timedelta(days=200)
    games = [
        (
            start + timedelta(days=2 * i),
            "2024-25",
            TEAM_A,
            True,
            30,
            99 if i < 18 else 10,
            8,
            1,
            3,
            1,
            2,
            1,
            4,
            2,
        )
        for i in range(100)
    ]
    assert 100 - HISTORY_MAX_GAMES == 18
    row = features(history_frame((PLAYER, games)))
    assert row["points_avg_window"] == 10.0 and row["points_ewma_20"] == pytest.approx(10.0, rel=1e-12)
    # A game just older than the lookback does not count; its neighbour inside does.
    old = (
        D - timedelta(days=HISTORY_LOOKBACK_DAYS + 1),
        "2022-23",
        TEAM_A,
        True,
        40,
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
    inside = (
        D - timedelta(days=HISTORY_LOOKBACK_DAYS),
        "2023-24",
        TEAM_A,
        True,
        20,
        20,
        8,
        1,
        3,
        1,
        2,
        1,
        4,
        2,
    )
    row = features(history_frame((PLAYER, [old, inside])))
    assert row["points_avg_window"] == 20.0 and row["minutes_last_game"] == 20.0
    assert row["days_since_last_game"] == HISTORY_LOOKBACK_DAYS


@pytest.mark.parametrize("chunk", [2, 20_000])
def test_a_batch_of_every_target_equals_each_target_alone(
    history: pd.DataFrame, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chunk=2 cuts the nine targets into five gathers: a slicing slip at a chunk edge would show.
    monkeypatch.setattr("shared.features.history._CHUNK", chunk)
    rows = [
        target(player_id=p, game_date=D - timedelta(days=k)) for p in (PLAYER, OTHER, 999) for k in (0, 3, 9)
    ]
    batch = compute_features(history, targets_frame(*rows), V8HIST_FEATURES)
    for i, row in enumerate(rows):
        alone = compute_features(history, targets_frame(row), V8HIST_FEATURES)
        pd.testing.assert_frame_equal(batch.iloc[[i]].reset_index(drop=True), alone, check_exact=True)
