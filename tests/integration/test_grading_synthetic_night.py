"""A synthetic night end to end on the embedded default: predict it over HTTP, let its box scores
arrive, POST /grade, and hold every graded figure to one computed independently from the frames."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from nba_props.embedded import EmbeddedStack
from nba_props.league import generate_league
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.conftest import SEED

pytestmark = pytest.mark.timeout(240)


def _wait_for_end(http: httpx.Client, batch_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = http.get("/status", params={"batch_id": batch_id}).json()
        if status["status"] not in {"loading", "publishing", "running"}:
            return status
        time.sleep(0.05)
    raise AssertionError(f"batch did not finish in {timeout_s} s: {status}")


def _box_scores_of(game_date: date) -> pd.DataFrame:
    """The night's real results: the same league, cut a day later (history before it is unchanged)."""
    later = generate_league(SEED, players_per_team=12, played_through=game_date)
    logs = later.player_game_logs
    return logs.loc[logs["game_date"] == pd.Timestamp(game_date)].reset_index(drop=True)


def _alert_log(warehouse: DuckDbWarehouse) -> list[tuple[str, str]]:
    frame = warehouse.sql("SELECT kind, decision FROM alert_log ORDER BY raised_at")
    return list(zip(frame["kind"], frame["decision"], strict=True))


def test_a_predicted_night_is_graded_against_its_box_scores_and_reported(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    # A bias limit no night can meet: batch completion raises it, grading finds it again.
    settings = settings.model_copy(update={"alert_bias_max_points": 0.001})
    with (
        EmbeddedStack(settings, warehouse=league_warehouse) as stack,
        httpx.Client(base_url=stack.coordinator_url, timeout=120) as http,
    ):
        batch = http.post("/start", json={"game_date": game_date.isoformat()}).json()
        assert _wait_for_end(http, batch["batch_id"])["status"] == "complete"
        assert _alert_log(league_warehouse) == [("prediction_bias", "claimed")], (
            "raised once the batch completed"
        )

        # Graded before the box scores are in: nothing can be graded, and that is an alert.
        early = http.post("/grade", json={"game_date": game_date.isoformat()})
        assert early.status_code == 200, early.text
        assert early.json()["summary"]["coverage"] == 0.0
        assert {a["kind"]: a["sent"] for a in early.json()["alerts"]} == {
            "grading_coverage": True,
            "prediction_bias": False,  # already sent at batch completion: a duplicate
        }

        actual = _box_scores_of(game_date)
        league_warehouse.load_frame("player_game_logs", actual)
        response = http.post("/grade", json={"game_date": game_date.isoformat()})
        assert response.status_code == 200, response.text
        body = response.json()
        stored = http.get("/grade", params={"date": game_date.isoformat()})
        page = http.get("/report", params={"date": game_date.isoformat()})
        # Read before the stack closes the warehouse.
        predictions = league_warehouse.sql(
            "SELECT * FROM predictions WHERE game_date = $d AND batch_id = $b",
            {"d": game_date, "b": batch["batch_id"]},
        )
        graded = league_warehouse.sql(
            "SELECT * FROM graded_predictions WHERE game_date = $d", {"d": game_date}
        )
        alert_log = _alert_log(league_warehouse)

    summary = body["summary"]

    # One graded row per prediction, the early run replaced.
    assert len(graded) == len(predictions) == summary["predictions"] > 0
    assert set(graded["prediction_id"]) == set(predictions["prediction_id"])
    assert set(graded["grading_run_id"]) == {body["grading_run_id"]}

    # Independently: join the predictions with the box scores in pandas.
    joined = predictions.merge(
        actual[["player_id", "points", "minutes"]], on="player_id", how="left", validate="one_to_one"
    )
    played = joined["points"].notna() & (joined["minutes"] > 0)
    assert summary["dnp"] == int((~played).sum()) == summary["voided"]
    assert summary["coverage"] == 1.0 and summary["results_missing"] == 0
    by_id = graded.set_index("prediction_id")
    expected_actual = joined.loc[played].set_index("prediction_id")["points"]
    assert (by_id.loc[expected_actual.index, "actual_points"] == expected_actual).all()
    assert (by_id.loc[joined.loc[~played, "prediction_id"], "result"] == "void").all()

    scored = joined.loc[played]
    error = scored["predicted_points"] - scored["points"]
    assert summary["mae"] == pytest.approx(error.abs().mean(), abs=1e-4)
    assert summary["bias"] == pytest.approx(error.mean(), abs=1e-4)
    lined = scored.loc[scored["line"].notna()]
    assert summary["line_mae"] == pytest.approx((lined["line"] - lined["points"]).abs().mean(), abs=1e-4)

    picks = scored.loc[scored["recommendation"].isin(["OVER", "UNDER"])]
    over = picks["recommendation"] == "OVER"
    won = np.where(over, picks["points"] > picks["line"], picks["points"] < picks["line"])
    decided = picks["points"] != picks["line"]
    assert summary["picks"]["decided"] == int(decided.sum()) > 0
    assert summary["picks"]["correct"] == int((won & decided).sum())
    price = np.where(over, picks["over_price"], picks["under_price"]).astype(float)
    profit = np.where(won, np.where(price < 0, 100 / -price, price / 100), -1.0)[decided.to_numpy()]
    assert summary["roi"]["roi"] == pytest.approx(profit.mean(), abs=1e-4)
    assert not np.isnan(price).any(), "every line the synthetic books offer carries its prices"
    assert [a["kind"] for a in body["alerts"]] == ["prediction_bias"]

    # Stored and served.
    assert stored.status_code == 200 and stored.json()["grading_run_id"] == body["grading_run_id"]
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert html.count("<svg") == 3 and "<script" not in html.lower()
    assert str(predictions["player_name"].iloc[0]) in html
    assert alert_log == [
        ("prediction_bias", "claimed"),
        ("grading_coverage", "claimed"),
        ("prediction_bias", "duplicate"),
        ("prediction_bias", "duplicate"),
    ]
