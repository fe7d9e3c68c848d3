"""The worker's fast path gives exactly the features of the frame path training is checked against.

`features_from_request(request, names)` skips building DataFrames; `compute_features(
*frames_from_request(request), names)` is the path the training-parity test holds equal to training.
Every message of a real night, and the awkward payloads, must give the same bits both ways, for V8
and for the long-memory features of "v8hist".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from coordinator.batches import BatchCoordinator
from shared.contracts import GameContext, HistoryTable, LineQuote, PredictionRequest
from shared.features.v8 import HISTORY_DERIVED_FEATURES, V8_FEATURES, compute_features, features_from_request
from shared.features.window import frames_from_request
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.fakes import FakePublisher

D = date(2025, 1, 15)


def _same_both_ways(request: PredictionRequest) -> pd.DataFrame:
    fast = features_from_request(request)
    pd.testing.assert_frame_equal(fast, compute_features(*frames_from_request(request)), check_exact=True)
    assert tuple(fast.columns) == V8_FEATURES
    every = features_from_request(request, HISTORY_DERIVED_FEATURES)
    pd.testing.assert_frame_equal(
        every, compute_features(*frames_from_request(request), HISTORY_DERIVED_FEATURES), check_exact=True
    )
    pd.testing.assert_frame_equal(every[list(V8_FEATURES)], fast, check_exact=True)
    return every


def test_every_message_of_a_night_gives_the_same_features_both_ways(
    league_warehouse: DuckDbWarehouse, game_date: date
) -> None:
    load = BatchCoordinator(league_warehouse, FakePublisher(), Settings()).load(game_date, "b-parity")
    assert len(load.requests) > 50
    for request in load.requests:
        # Through JSON, as the worker receives it.
        _same_both_ways(PredictionRequest.model_validate_json(request.to_bytes()))


def _request(history: HistoryTable, **changes: object) -> PredictionRequest:
    fields: dict[str, object] = {
        "batch_id": "b1",
        "player_id": 101,
        "player_name": "Someone",
        "game": GameContext(
            game_id="g1",
            game_date=D,
            season="2024-25",
            team_id=1,
            team_abbr="AAA",
            opponent_team_id=2,
            opponent_abbr="BBB",
            is_home=False,
        ),
        "history": history,
        **changes,
    }
    return PredictionRequest.model_validate(fields)


def _history(n: int, *, season_break: int = 0, gaps: bool = False) -> HistoryTable:
    days = [D - timedelta(days=2 * (n - i)) for i in range(n)]
    return HistoryTable(
        game_date=days,
        season=["2023-24" if i < season_break else "2024-25" for i in range(n)],
        opponent_team_id=[2 if i % 3 == 0 else 3 for i in range(n)],
        is_home=[i % 2 == 0 for i in range(n)],
        minutes=[20.0 + i % 7 for i in range(n)],
        points=[10.0 + (i * 7) % 13 for i in range(n)],
        fga=[None if gaps and i % 4 == 0 else 9.0 for i in range(n)],
        fg3m=[2.0] * n,
        fg3a=[5.0] * n,
        ftm=[None if gaps and i % 5 == 0 else 3.0 for i in range(n)],
        fta=[4.0] * n,
        tov=[1.0] * n,
        points_paint=[None if gaps and i % 2 == 0 else 4.0 for i in range(n)],
        points_mid_range=[2.0] * n,
    )


@pytest.mark.parametrize(
    ("history", "changes"),
    [
        (HistoryTable(), {}),  # a rookie: no games at all
        (_history(1), {"injury_status": "DOUBTFUL"}),
        (_history(12, season_break=5, gaps=True), {}),
        (
            _history(90, season_break=30),
            {
                "line": LineQuote(
                    bookmaker="fanduel",
                    line=21.5,
                    snapshot_at=datetime(2025, 1, 15, tzinfo=UTC),
                    opening_line=None,
                ),
                "injury_status": "PROBABLE",
            },
        ),
        (
            _history(30),
            {
                "line": LineQuote(
                    bookmaker="draftkings",
                    line=18.0,
                    snapshot_at=datetime(2025, 1, 15, tzinfo=UTC),
                    opening_line=19.5,
                )
            },
        ),
    ],
)
def test_awkward_payloads_give_the_same_features_both_ways(
    history: HistoryTable, changes: dict[str, object]
) -> None:
    _same_both_ways(_request(history, **changes))


def test_game_context_reaches_the_features_the_same_way() -> None:
    game = GameContext(
        game_id="g9",
        game_date=D,
        season="2024-25",
        phase="playoffs",
        team_id=1,
        team_abbr="AAA",
        opponent_team_id=3,
        opponent_abbr="CCC",
        is_home=True,
        team_pace=101.5,
        team_off_rating=114.0,
        team_win_pct=0.61,
        team_rest_days=1,
        opponent_def_rating=109.0,
        opponent_pace=97.5,
        opponent_rest_days=None,
        opponent_paint_share_allowed=0.41,
        opponent_mid_share_allowed=None,
        opponent_three_share_allowed=0.33,
    )
    row = _same_both_ways(_request(_history(15, gaps=True), game=game)).iloc[0]
    assert row["playoff_game"] == 1.0 and row["home_away"] == 1.0 and row["back_to_back"] == 1.0
