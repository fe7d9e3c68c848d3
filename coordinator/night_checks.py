"""Checks of a night's predictions that need no box scores: run when a batch completes, and again
by grading the next morning (the alerts' signatures make the second raise a suppressed duplicate).

The rules are pure functions of plain frames, so they are tested without a warehouse; `NightChecks`
reads what they need in three queries and raises what they find through the one `AlertManager`.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd

from coordinator.alerts import Alert, AlertKind, AlertManager, Severity
from shared.logging import get_logger
from shared.settings import Settings
from shared.warehouse import Warehouse

log = get_logger(__name__)

DEAD_LETTERED = "dead_lettered"
# Fewer far predictions than this is never a pattern, whatever the share on a small night.
HISTORY_GAP_MIN_PLAYERS = 3


def _num(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce") if column in frame else pd.Series(dtype=float)


def night_warning(kind: AlertKind, summary: str, game_date: date, **details: object) -> Alert:
    """A warning about one night: keyed by its date, which leads the details."""
    key = game_date.isoformat()
    return Alert(kind, Severity.WARNING, summary, key=key, details={"game_date": key, **details})


def prediction_alerts(predictions: pd.DataFrame, *, game_date: date, settings: Settings) -> list[Alert]:
    """Out-of-range predictions and a night-wide bias against the lines.

    `predictions` has `predicted_points`, `line` (NULL for NO_LINE) and `player_name`.
    """
    alerts: list[Alert] = []
    if predictions.empty:
        return alerts
    predicted = _num(predictions, "predicted_points")
    low, high = settings.alert_prediction_min_points, settings.alert_prediction_max_points
    outside = (predicted < low) | (predicted > high)
    if outside.any():
        examples = predictions.loc[outside].assign(_p=predicted[outside]).sort_values("_p")
        alerts.append(
            night_warning(
                AlertKind.PREDICTIONS_OUT_OF_RANGE,
                f"{int(outside.sum())} of {len(predictions)} predictions for {game_date} are outside "
                f"[{low:g}, {high:g}] points",
                game_date,
                count=int(outside.sum()),
                predictions=len(predictions),
                below=int((predicted < low).sum()),
                above=int((predicted > high).sum()),
                examples=[
                    {"player": str(r["player_name"]), "predicted_points": round(float(r["_p"]), 2)}
                    for _, r in pd.concat([examples.head(3), examples.tail(3)])
                    .drop_duplicates(subset=["_p", "player_name"])
                    .iterrows()
                ],
            )
        )
    line = _num(predictions, "line")
    lined = line.notna()
    if lined.any():
        bias = float((predicted[lined] - line[lined]).mean())
        if abs(bias) > settings.alert_bias_max_points:
            alerts.append(
                night_warning(
                    AlertKind.PREDICTION_BIAS,
                    f"Predictions for {game_date} sit {bias:+.2f} points from the lines on average "
                    f"(limit ±{settings.alert_bias_max_points:g})",
                    game_date,
                    mean_predicted_minus_line=round(bias, 3),
                    predictions_with_line=int(lined.sum()),
                    threshold=settings.alert_bias_max_points,
                )
            )
    return alerts


def _last_10_average(features_json: object) -> float:
    """points_avg_last_10 from a stored feature vector; NaN when absent or unreadable."""
    try:
        value = json.loads(str(features_json)).get("points_avg_last_10")
    except (ValueError, AttributeError):
        return float("nan")
    return float(value) if isinstance(value, int | float) else float("nan")


def history_gap_alert(predictions: pd.DataFrame, *, game_date: date, settings: Settings) -> Alert | None:
    """Too many predictions far from the players' own last-10 averages: the signature of features
    that reach the model wrong (a renamed column, a bad default), which a range check misses when
    a 4-point bench player is predicted 20.

    ``predictions`` has `player_name`, `predicted_points` and `features_json` (the stored vector).
    Players without a last-10 average (no games yet) are not counted.
    """
    if predictions.empty:
        return None
    predicted = _num(predictions, "predicted_points").to_numpy(dtype=np.float64)
    average = np.array([_last_10_average(v) for v in predictions["features_json"]], dtype=np.float64)
    gap = predicted - average
    known = np.isfinite(gap)
    far = known & (np.abs(np.where(known, gap, 0.0)) > settings.alert_history_gap_points)
    count, judged = int(far.sum()), int(known.sum())
    if count < HISTORY_GAP_MIN_PLAYERS or count <= settings.alert_history_gap_max_share * judged:
        return None
    order = np.argsort(-np.abs(np.where(far, gap, 0.0)), kind="stable")[: min(count, 5)]
    return night_warning(
        AlertKind.PREDICTIONS_FAR_FROM_HISTORY,
        f"{count} of {judged} predictions for {game_date} are more than "
        f"{settings.alert_history_gap_points:g} points from the player's last-10 average",
        game_date,
        count=count,
        predictions_with_history=judged,
        threshold_points=settings.alert_history_gap_points,
        max_share=settings.alert_history_gap_max_share,
        mean_gap_of_far=round(float(gap[far].mean()), 2),
        examples=[
            {
                "player": str(predictions["player_name"].iloc[i]),
                "predicted_points": round(float(predicted[i]), 2),
                "points_avg_last_10": round(float(average[i]), 2),
            }
            for i in order
        ],
    )


def dead_letter_alert(
    outcomes: pd.DataFrame, *, batch_id: str, game_date: date, settings: Settings
) -> Alert | None:
    """`outcomes` is batch_outcomes.sql's answer: one row per player and outcome."""
    if outcomes.empty:
        return None
    dead = outcomes.loc[outcomes["outcome"] == DEAD_LETTERED]
    if len(dead) <= settings.alert_dead_letters_max:
        return None
    return Alert(
        AlertKind.DEAD_LETTERS,
        Severity.ERROR,
        f"{len(dead)} prediction requests of batch {batch_id} ({game_date}) were dead-lettered",
        key=batch_id,
        details={
            "batch_id": batch_id,
            "game_date": game_date.isoformat(),
            "dead_lettered": len(dead),
            "player_ids": [int(p) for p in dead["player_id"].dropna().head(20)],
            "reasons": sorted({str(d) for d in dead["detail"].dropna().head(5)}),
        },
    )


def no_predictions_alert(*, game_date: date, expected: int, batch_id: str | None) -> Alert:
    return Alert(
        AlertKind.NO_PREDICTIONS,
        Severity.ERROR,
        f"{game_date} has games but no predictions",
        key=game_date.isoformat(),
        details={"game_date": game_date.isoformat(), "batch_id": batch_id, "expected_players": expected},
    )


class NightChecks:
    """The checks a completed batch gets: three reads, then the alerts they call for."""

    def __init__(self, warehouse: Warehouse, alerts: AlertManager, settings: Settings) -> None:
        self._warehouse = warehouse
        self._alerts = alerts
        self._settings = settings

    def after_batch(self, batch_id: str, game_date: date, expected: int) -> list[Alert]:
        """Check a finished batch; return the alerts that went out. Never raises: a failed check
        must not turn a finished batch into an error."""
        try:
            found = self.evaluate(batch_id, game_date, expected=expected)
        except Exception as exc:
            log.warning("Night checks failed", batch_id=batch_id, error=f"{type(exc).__name__}: {exc}")
            return []
        return self._alerts.raise_all(found)

    def evaluate(self, batch_id: str, game_date: date, *, expected: int) -> list[Alert]:
        timeout = self._settings.query_timeout_s
        predictions = self._warehouse.query(
            "batch_predictions", {"batch_id": batch_id, "game_date": game_date}, timeout_s=timeout
        )
        outcomes = self._warehouse.query("batch_outcomes", {"batch_id": batch_id}, timeout_s=timeout)
        features = self._warehouse.query(
            "batch_prediction_features", {"batch_id": batch_id, "game_date": game_date}, timeout_s=timeout
        )
        found: list[Alert] = []
        if predictions.empty and expected > 0:
            found.append(no_predictions_alert(game_date=game_date, expected=expected, batch_id=batch_id))
        found += prediction_alerts(predictions, game_date=game_date, settings=self._settings)
        gap = history_gap_alert(features, game_date=game_date, settings=self._settings)
        if gap is not None:
            found.append(gap)
        dead = dead_letter_alert(outcomes, batch_id=batch_id, game_date=game_date, settings=self._settings)
        if dead is not None:
            found.append(dead)
        return found
