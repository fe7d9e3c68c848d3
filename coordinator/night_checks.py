"""Checks of a night's predictions that need no box scores: run when a batch completes, and again
by grading the next morning (the alerts' signatures make the second raise a suppressed duplicate).

The rules are pure functions of plain frames, so they are tested without a warehouse; `NightChecks`
reads what they need in two queries and raises what they find through the one `AlertManager`.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from shared.alerts import Alert, AlertKind, AlertManager, Severity
from shared.logging import get_logger
from shared.settings import Settings
from shared.warehouse import Warehouse

log = get_logger(__name__)

DEAD_LETTERED = "dead_lettered"


def _num(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce") if column in frame else pd.Series(dtype=float)


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
            Alert(
                AlertKind.PREDICTIONS_OUT_OF_RANGE,
                Severity.WARNING,
                f"{int(outside.sum())} of {len(predictions)} predictions for {game_date} are outside "
                f"[{low:g}, {high:g}] points",
                key=game_date.isoformat(),
                details={
                    "game_date": game_date.isoformat(),
                    "count": int(outside.sum()),
                    "predictions": len(predictions),
                    "below": int((predicted < low).sum()),
                    "above": int((predicted > high).sum()),
                    "examples": [
                        {"player": str(r["player_name"]), "predicted_points": round(float(r["_p"]), 2)}
                        for _, r in pd.concat([examples.head(3), examples.tail(3)])
                        .drop_duplicates(subset=["_p", "player_name"])
                        .iterrows()
                    ],
                },
            )
        )
    line = _num(predictions, "line")
    lined = line.notna()
    if lined.any():
        bias = float((predicted[lined] - line[lined]).mean())
        if abs(bias) > settings.alert_bias_max_points:
            alerts.append(
                Alert(
                    AlertKind.PREDICTION_BIAS,
                    Severity.WARNING,
                    f"Predictions for {game_date} sit {bias:+.2f} points from the lines on average "
                    f"(limit ±{settings.alert_bias_max_points:g})",
                    key=game_date.isoformat(),
                    details={
                        "game_date": game_date.isoformat(),
                        "mean_predicted_minus_line": round(bias, 3),
                        "predictions_with_line": int(lined.sum()),
                        "threshold": settings.alert_bias_max_points,
                    },
                )
            )
    return alerts


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
    """The checks a completed batch gets: two reads, then the alerts they call for."""

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
        found: list[Alert] = []
        if predictions.empty and expected > 0:
            found.append(no_predictions_alert(game_date=game_date, expected=expected, batch_id=batch_id))
        found += prediction_alerts(predictions, game_date=game_date, settings=self._settings)
        dead = dead_letter_alert(outcomes, batch_id=batch_id, game_date=game_date, settings=self._settings)
        if dead is not None:
            found.append(dead)
        return found
