"""Grading's pure parts: the daily summary of a run's rows, the hit-rate window, the stored summary
row and the report's data (trend, edge buckets, calibration). No I/O; `coordinator.grading` reads."""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from coordinator.report import BucketRate, CalibrationBin, ReportData, TrendPoint

DECIDED = ("correct", "incorrect")
PICKS = ("correct", "incorrect", "push")
# |edge| buckets in points: (lower bound inclusive, upper bound exclusive, label).
EDGE_BUCKETS: tuple[tuple[float, float, str], ...] = (
    (0.0, 2.0, "<2"),
    (2.0, 3.0, "2-3"),
    (3.0, 4.0, "3-4"),
    (4.0, 5.0, "4-5"),
    (5.0, math.inf, "5+"),
)
CALIBRATION_BINS = 10


def _clean(value: Any, digits: int = 4) -> Any:
    """JSON-safe scalars: NaN/NA become None, numpy numbers plain Python, floats rounded."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(float(value)) else round(float(value), digits)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


# -- the summary (pure) ---------------------------------------------------------------------------


def _pick_counts(picks: pd.DataFrame) -> dict[str, Any]:
    correct = int((picks["result"] == "correct").sum())
    incorrect = int((picks["result"] == "incorrect").sum())
    decided = correct + incorrect
    return {
        "picks": len(picks),
        "decided": decided,
        "correct": correct,
        "incorrect": incorrect,
        "pushes": int((picks["result"] == "push").sum()),
        "hit_rate": _clean(correct / decided) if decided else None,
    }


def edge_buckets(picks: pd.DataFrame) -> list[dict[str, Any]]:
    """Hit rate of OVER/UNDER picks per |edge| bucket (pushes counted, but not as decisions)."""
    edge = _numeric(picks, "edge").abs()
    out = []
    for low, high, label in EDGE_BUCKETS:
        counts = _pick_counts(picks.loc[(edge >= low) & (edge < high)])
        out.append({"bucket": label, **counts})
    return out


def confidence_deciles(picks: pd.DataFrame) -> list[dict[str, Any]]:
    """Hit rate per confidence decile of the night's picks (10 = the most confident tenth; fewer
    than ten picks make fewer groups)."""
    confidence = _numeric(picks, "confidence")
    usable = picks.loc[confidence.notna()]
    if usable.empty:
        return []
    bins = min(10, len(usable))
    rank = confidence[confidence.notna()].rank(method="first")
    decile = pd.qcut(rank, bins, labels=False) + 1
    out = []
    for d in range(1, bins + 1):
        members = usable.loc[decile == d]
        conf = _numeric(members, "confidence")
        out.append(
            {
                "decile": d,
                "min_confidence": _clean(conf.min()),
                "max_confidence": _clean(conf.max()),
                **_pick_counts(members),
            }
        )
    return out


GRADE_COLUMNS = (
    "grading_run_id", "prediction_id", "batch_id", "game_date", "game_id", "player_id", "player_name",
    "team_abbr", "opponent_abbr", "recommendation", "line", "bookmaker", "over_price", "under_price",
    "predicted_points", "edge", "confidence", "prob_over", "model_version", "actual_points",
    "actual_minutes", "result", "void_reason", "error", "abs_error", "line_error", "profit_units",
    "graded_at",
)  # fmt: skip


def _with_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """An empty answer still has every column, so the summary needs no special cases."""
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in GRADE_COLUMNS})
    return rows


def summarize(
    night: pd.DataFrame, *, game_date: date, grading_run_id: str, graded_at: datetime
) -> dict[str, Any]:
    """The daily summary of one grading run's rows (grade.sql's columns)."""
    night = _with_columns(night)
    result = night["result"].astype(str)
    void = result == "void"
    reasons = night.loc[void, "void_reason"].astype(str).value_counts()
    dnp = int(sum(n for r, n in reasons.items() if str(r).startswith("dnp")))
    predictions = len(night)
    graded = predictions - int(void.sum())
    gradable = predictions - dnp
    scored = night.loc[~void]
    lined = scored.loc[_numeric(scored, "line").notna()]
    picks = scored.loc[scored["result"].isin(PICKS)]
    bets = picks.loc[picks["result"].isin(DECIDED) & _numeric(picks, "profit_units").notna()]
    profit = float(_numeric(bets, "profit_units").sum())
    all_lined = night.loc[_numeric(night, "line").notna()]
    return {
        "game_date": game_date.isoformat(),
        "grading_run_id": grading_run_id,
        "graded_at": graded_at.isoformat(),
        "batch_ids": sorted({str(b) for b in night["batch_id"]}),
        "predictions": predictions,
        "graded": graded,
        "voided": int(void.sum()),
        "dnp": dnp,
        "results_missing": int(reasons.get("results_missing", 0)),
        "void_reasons": {str(k): int(v) for k, v in sorted(reasons.items())},
        "gradable": gradable,
        "coverage": _clean(graded / gradable) if gradable else None,
        "mae": _clean(_numeric(scored, "abs_error").mean()),
        "bias": _clean(_numeric(scored, "error").mean()),
        "rmse": _clean(math.sqrt((_numeric(scored, "error") ** 2).mean())) if graded else None,
        # The market benchmark: the line's own error on exactly the rows that have a line.
        "benchmark": {
            "rows": len(lined),
            "model_mae": _clean(_numeric(lined, "abs_error").mean()),
            "line_mae": _clean(_numeric(lined, "line_error").abs().mean()),
        },
        "line_mae": _clean(_numeric(lined, "line_error").abs().mean()),
        # Prediction-time bias against the line (what the bias alert watches), voids included.
        "mean_predicted_minus_line": _clean(
            (_numeric(all_lined, "predicted_points") - _numeric(all_lined, "line")).mean()
        ),
        "picks": _pick_counts(picks),
        "by_recommendation": {
            side: _pick_counts(picks.loc[picks["recommendation"] == side]) for side in ("OVER", "UNDER")
        },
        # ROI per unit staked on decided picks with a recorded price; a push returns the stake.
        "roi": {
            "bets": len(bets),
            "profit_units": _clean(profit),
            "roi": _clean(profit / len(bets)) if len(bets) else None,
        },
        "by_edge_bucket": edge_buckets(picks),
        "by_confidence_decile": confidence_deciles(picks),
    }


def window_hit_rate(rows: pd.DataFrame, *, start: date, end: date) -> dict[str, Any]:
    """Hit rate of every decided pick graded from `start` to `end` (inclusive)."""
    rows = _with_columns(rows)
    days = pd.to_datetime(rows["game_date"]).dt.date
    inside = rows.loc[(days >= start) & (days <= end)]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        **_pick_counts(inside.loc[inside["result"].isin(PICKS)]),
    }


def summary_row(summary: dict[str, Any]) -> dict[str, Any]:
    """The `grading_summaries` row of a summary."""
    picks = summary["picks"]
    return {
        "grading_run_id": summary["grading_run_id"],
        "game_date": date.fromisoformat(summary["game_date"]),
        "graded_at": datetime.fromisoformat(summary["graded_at"]),
        "predictions": summary["predictions"],
        "graded": summary["graded"],
        "voided": summary["voided"],
        "dnp": summary["dnp"],
        "results_missing": summary["results_missing"],
        "coverage": summary["coverage"],
        "mae": summary["mae"],
        "bias": summary["bias"],
        "line_mae": summary["line_mae"],
        "picks": picks["picks"],
        "correct": picks["correct"],
        "incorrect": picks["incorrect"],
        "pushes": picks["pushes"],
        "hit_rate": picks["hit_rate"],
        "roi": summary["roi"]["roi"],
        "summary_json": json.dumps(summary, sort_keys=True),
    }


# -- report data (pure) ---------------------------------------------------------------------------


def mae_trend(rows: pd.DataFrame) -> list[TrendPoint]:
    if rows.empty:
        return []
    scored = rows.loc[rows["result"] != "void"].copy()
    scored["day"] = pd.to_datetime(scored["game_date"]).dt.date
    scored["lined"] = _numeric(scored, "line").notna()
    points = []
    for day, group in scored.groupby("day", sort=True):
        lined = group.loc[group["lined"]]
        points.append(
            TrendPoint(
                game_date=day,  # type: ignore[arg-type]
                model_mae=_clean(_numeric(group, "abs_error").mean()),
                line_mae=_clean(_numeric(lined, "line_error").abs().mean()) if len(lined) else None,
                graded=len(group),
            )
        )
    return points


def calibration(rows: pd.DataFrame, bins: int = CALIBRATION_BINS) -> list[CalibrationBin]:
    """Observed over rate per bin of predicted prob_over (graded rows with a line). prob_over is
    P(actual > line), so a push (actual == line) counts as not over: leaving pushes out would lift
    every observed rate on whole-number lines."""
    if rows.empty:
        return []
    prob = _numeric(rows, "prob_over")
    actual = _numeric(rows, "actual_points")
    line = _numeric(rows, "line")
    ok = (rows["result"] != "void") & prob.notna() & line.notna() & actual.notna()
    if not ok.any():
        return []
    which = (prob[ok] * bins).astype(int).clip(upper=bins - 1)
    over = (actual[ok] > line[ok]).astype(float)
    out = []
    for b in sorted(which.unique()):
        members = which == b
        out.append(
            CalibrationBin(
                predicted=float(prob[ok][members].mean()),
                observed=float(over[members].mean()),
                count=int(members.sum()),
            )
        )
    return out


def report_from_rows(
    rows: pd.DataFrame,
    *,
    game_date: date,
    window_start: date,
    generated_at: datetime,
    break_even: float,
) -> ReportData:
    rows = _with_columns(rows)
    night = rows.loc[pd.to_datetime(rows["game_date"]).dt.date == game_date]
    graded = len(night) > 0
    summary = summarize(
        night,
        game_date=game_date,
        grading_run_id=str(night["grading_run_id"].iloc[0]) if graded else "",
        graded_at=pd.Timestamp(night["graded_at"].iloc[0]).to_pydatetime() if graded else generated_at,
    )
    if not graded:
        summary["grading_run_id"] = None
    picks = rows.loc[rows["result"].isin(PICKS)]
    ordered = (
        night.assign(_order=night["result"].map(_result_order), _conf=_numeric(night, "confidence"))
        .sort_values(["_order", "_conf", "player_name"], ascending=[True, False, True])
        .drop(columns=["_order", "_conf"])
    )
    return ReportData(
        game_date=game_date,
        generated_at=generated_at,
        window_start=window_start,
        summary=summary,
        trend=mae_trend(rows),
        edge_buckets=[BucketRate(b["bucket"], b["picks"], b["hit_rate"]) for b in edge_buckets(picks)],
        calibration=calibration(rows),
        rows=[{str(k): _clean(v, 2) for k, v in r.items()} for r in ordered.to_dict("records")],
        break_even=break_even,
    )


_RESULT_ORDER = {"correct": 0, "incorrect": 0, "push": 1, "no_pick": 2, "no_line": 3, "void": 4}


def _result_order(value: Any) -> int:
    return _RESULT_ORDER.get(str(value), 5)
