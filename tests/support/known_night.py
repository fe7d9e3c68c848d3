"""A hand-made night whose every grade is known: one prediction per case grade.sql distinguishes.

Game g1 has box scores; game g2 has none yet (its results are missing). Backend-neutral: it is
written through the warehouse port only, so the same rows load into DuckDB and BigQuery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from shared.warehouse import Warehouse

GAME_DATE = date(2026, 12, 1)
PREDICTED_AT = datetime(2026, 12, 1, 23, 5, tzinfo=UTC)
GRADED_AT = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
BATCH = "20261201-current"
FAILED_BATCH = "20261201-failedearlier"
SUPERSEDED_BATCH = "20261201-superseded"


@dataclass(frozen=True)
class Case:
    player_id: int
    game_id: str
    recommendation: str
    line: float | None
    predicted: float
    actual: int | None  # None: no box-score row
    minutes: float = 30.0
    over_price: int | None = -110
    under_price: int | None = -110
    # What grade.sql must make of it.
    result: str = ""
    void_reason: str | None = None
    profit: float | None = None


CASES: tuple[Case, ...] = (
    Case(1, "g1", "OVER", 20.5, 24.0, 25, result="correct", profit=100 / 110),
    Case(2, "g1", "OVER", 20.5, 23.0, 18, result="incorrect", profit=-1.0),
    Case(3, "g1", "UNDER", 10.5, 7.0, 8, under_price=150, result="correct", profit=1.5),
    Case(4, "g1", "UNDER", 10.5, 8.0, 12, under_price=-120, result="incorrect", profit=-1.0),
    Case(5, "g1", "OVER", 15.0, 18.0, 15, result="push", profit=0.0),
    Case(6, "g1", "PASS", 12.5, 13.0, 9, result="no_pick"),
    Case(7, "g1", "NO_LINE", None, 5.0, 2, over_price=None, under_price=None, result="no_line"),
    Case(8, "g1", "OVER", 8.5, 11.0, None, result="void", void_reason="dnp_no_box_score"),
    Case(9, "g1", "UNDER", 6.5, 4.0, 0, minutes=0.0, result="void", void_reason="dnp_zero_minutes"),
    Case(10, "g2", "OVER", 19.5, 22.0, None, result="void", void_reason="results_missing"),
    Case(11, "g1", "OVER", 9.5, 12.0, 14, over_price=None, result="correct", profit=None),
)
G2_ACTUAL = 25  # p10's points once g2's box scores arrive

# What the summary of CASES must say (worked out by hand in the comments).
EXPECTED = {
    "predictions": 11,
    "voided": 3,
    "dnp": 2,
    "results_missing": 1,
    "graded": 8,
    "gradable": 9,
    "coverage": round(8 / 9, 4),
    # |pred - actual| of the 8 graded: 1, 5, 1, 4, 3, 4, 3, 2; signed: -1, 5, -1, -4, 3, 4, 3, -2
    "mae": round(23 / 8, 4),
    "bias": round(7 / 8, 4),
    # the 7 graded rows with a line: |line - actual| = 4.5, 2.5, 2.5, 1.5, 0, 3.5, 4.5
    "line_mae": round(19 / 7, 4),
    "model_mae_same_rows": round(20 / 7, 4),
    # picks p1..p5, p11: correct p1 p3 p11, incorrect p2 p4, push p5
    "correct": 3,
    "incorrect": 2,
    "pushes": 1,
    "hit_rate": 0.6,
    # priced decided bets p1 p2 p3 p4: 100/110 - 1 + 1.5 - 1
    "roi_bets": 4,
    "roi": round((100 / 110 - 1 + 1.5 - 1) / 4, 4),
    # predicted - line of the 10 lined predictions, voids included:
    # 3.5 + 2.5 - 3.5 - 2.5 + 3 + 0.5 + 2.5 - 2.5 + 2.5 + 2.5 = 8.5
    "mean_predicted_minus_line": 0.85,
}


def prediction_row(case: Case, batch_id: str = BATCH, **changes: Any) -> dict[str, Any]:
    edge = None if case.line is None else case.predicted - case.line
    row: dict[str, Any] = {
        "prediction_id": f"{batch_id}-{case.player_id}",
        "batch_id": batch_id,
        "game_date": GAME_DATE,
        "game_id": case.game_id,
        "player_id": case.player_id,
        "player_name": f"Player {case.player_id:02d}",
        "team_abbr": "BOS",
        "opponent_abbr": "NYK",
        "line": case.line,
        "bookmaker": None if case.line is None else "draftkings",
        "predicted_points": case.predicted,
        "edge": edge,
        "recommendation": case.recommendation,
        "confidence": None if case.line is None else 0.5 + case.player_id / 100,
        "prob_over": None if case.line is None else 0.55,
        "model_version": "v8-test",
        "feature_set_hash": "abc",
        "features_json": "{}",
        "context_json": None,
        "message_id": f"m{case.player_id}",
        "delivery_attempt": 1,
        "written_at": PREDICTED_AT,
        "over_price": case.over_price,
        "under_price": case.under_price,
    }
    row.update(changes)
    return row


def box_row(player_id: int, game_id: str, points: int, minutes: float) -> dict[str, Any]:
    return {
        "game_id": game_id,
        "game_date": GAME_DATE,
        "season": "2026-27",
        "player_id": player_id,
        "team_id": 1,
        "opponent_team_id": 2,
        "is_home": True,
        "starter": None,
        "minutes": minutes,
        "points": points,
    }


def _batch(warehouse: Warehouse, batch_id: str, status: str, created: datetime) -> None:
    warehouse.execute(
        "batch_insert", {"batch_id": batch_id, "game_date": GAME_DATE, "status": status, "now": created}
    )


def load_known_night(warehouse: Warehouse) -> None:
    """Schema, schedule, three batches and their predictions, and g1's box scores."""
    warehouse.create_schema()
    warehouse.append(
        "schedule",
        [
            {
                "game_id": g,
                "game_date": GAME_DATE,
                "tipoff_utc": datetime(2026, 12, 2, 0, 30, tzinfo=UTC),
                "home_team_id": 1,
                "away_team_id": 2,
                "season": "2026-27",
                "phase": "regular",
            }
            for g in ("g1", "g2")
        ],
    )
    # An earlier batch that failed after some predictions, and one superseded by --force: neither
    # may be graded where the current batch predicted the same player.
    _batch(warehouse, FAILED_BATCH, "failed", PREDICTED_AT - timedelta(hours=2))
    _batch(warehouse, SUPERSEDED_BATCH, "superseded", PREDICTED_AT - timedelta(hours=1))
    _batch(warehouse, BATCH, "complete", PREDICTED_AT)
    rows = [prediction_row(c) for c in CASES]
    rows.append(prediction_row(CASES[1], FAILED_BATCH, predicted_points=10.0, recommendation="UNDER"))
    rows.append(prediction_row(CASES[0], SUPERSEDED_BATCH, predicted_points=12.0, recommendation="UNDER"))
    warehouse.append("predictions_raw", rows)
    warehouse.append(
        "player_game_logs",
        [box_row(c.player_id, c.game_id, c.actual, c.minutes) for c in CASES if c.actual is not None]
        # Another player of g1 who was not predicted: not graded, does not matter.
        + [box_row(99, "g1", 30, 36.0)],
    )


def add_g2_box_scores(warehouse: Warehouse) -> None:
    warehouse.append("player_game_logs", [box_row(10, "g2", G2_ACTUAL, 31.0), box_row(98, "g2", 7, 20.0)])


def graded(warehouse: Warehouse) -> pd.DataFrame:
    frame = warehouse.query(
        "grade_rows", {"start_date": GAME_DATE, "end_date": GAME_DATE, "grading_run_id": None}
    )
    return frame.set_index("player_id").sort_index()
