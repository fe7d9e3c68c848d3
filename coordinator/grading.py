"""Grading: how good was last night? Run the next morning by `POST /grade` (Cloud Scheduler) or
`nba-props grade --date D`.

One statement (`grade.sql`) joins the night's predictions with the box scores and writes one graded
row per prediction as a new *grading run*; the `graded_predictions` view shows each date's latest
run. Re-grading therefore replaces a night (readers switch to the new run at once) and never
duplicates it, with no DELETE: on BigQuery the night costs one INSERT ... SELECT, a run is atomic, two
graders racing produce two complete runs of which readers see one, and earlier runs stay as an
audit trail (a few hundred rows a night). The daily summary is computed here from the run's rows
(pure functions, unit-tested), stored in `grading_summaries` and returned as JSON; the alerts that
belong to grading go through the one `AlertManager`.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import structlog

from coordinator.alerts import Alert, AlertKind, AlertManager, Severity
from coordinator.night_checks import dead_letter_alert, no_predictions_alert, prediction_alerts
from coordinator.report import BucketRate, CalibrationBin, ReportData, TrendPoint
from shared.settings import Settings
from shared.warehouse import Warehouse

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]

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


def utc_now() -> datetime:
    return datetime.now(UTC)


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


# -- alerts of grading (pure) ---------------------------------------------------------------------


def grading_alerts(
    summary: dict[str, Any], window: dict[str, Any], *, settings: Settings, games_scheduled: bool
) -> list[Alert]:
    game_date = date.fromisoformat(summary["game_date"])
    key = game_date.isoformat()
    found: list[Alert] = []
    if summary["predictions"] == 0 and games_scheduled:
        batch_ids = summary.get("batch_ids") or [None]
        found.append(no_predictions_alert(game_date=game_date, expected=0, batch_id=batch_ids[0]))
    coverage = summary["coverage"]
    if summary["predictions"] > 0 and coverage is not None and coverage < settings.grading_coverage_min:
        found.append(
            Alert(
                AlertKind.GRADING_COVERAGE,
                Severity.WARNING,
                f"Only {coverage:.0%} of {summary['gradable']} gradable predictions for {key} were graded "
                f"(minimum {settings.grading_coverage_min:.0%}); box scores may be missing",
                key=key,
                details={
                    "game_date": key,
                    "graded": summary["graded"],
                    "gradable": summary["gradable"],
                    "results_missing": summary["results_missing"],
                    "coverage": coverage,
                    "threshold": settings.grading_coverage_min,
                },
            )
        )
    decided, rate = window["decided"], window["hit_rate"]
    if (
        rate is not None
        and decided >= settings.alert_hit_rate_min_picks
        and rate < settings.alert_hit_rate_min
    ):
        found.append(
            Alert(
                AlertKind.HIT_RATE_BELOW_BREAK_EVEN,
                Severity.WARNING,
                f"Hit rate {rate:.1%} over {decided} decided picks from {window['start']} to {window['end']} "
                f"is below break-even {settings.alert_hit_rate_min:.1%}",
                key=key,
                details={**window, "threshold": settings.alert_hit_rate_min},
            )
        )
    return found


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


# -- the use case ---------------------------------------------------------------------------------


@dataclass
class GradingResult:
    grading_run_id: str
    game_date: date
    written: int
    summary: dict[str, Any]
    window: dict[str, Any]
    alerts_raised: list[Alert] = field(default_factory=list)
    alerts_found: list[Alert] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "grading_run_id": self.grading_run_id,
            "game_date": self.game_date.isoformat(),
            "written": self.written,
            "summary": self.summary,
            "hit_rate_window": self.window,
            "alerts": [
                {**a.as_json(), "sent": any(a is s for s in self.alerts_raised)} for a in self.alerts_found
            ],
        }


class Grader:
    """Grades a night, stores and returns its summary, raises what grading should raise."""

    def __init__(
        self, warehouse: Warehouse, alerts: AlertManager, settings: Settings, clock: Clock = utc_now
    ) -> None:
        self._warehouse = warehouse
        self._alerts = alerts
        self._settings = settings
        self._clock = clock

    def default_game_date(self) -> date:
        """Yesterday in the league's time zone: the night that has just ended."""
        today = self._clock().astimezone(ZoneInfo(self._settings.league_timezone)).date()
        return today - timedelta(days=1)

    def grade(self, game_date: date | None = None) -> GradingResult:
        game_date = game_date or self.default_game_date()
        now = self._clock()
        run_id = f"grade-{game_date:%Y%m%d}-{uuid.uuid4().hex[:10]}"
        timeout = self._settings.query_timeout_s
        with structlog.contextvars.bound_contextvars(game_date=game_date.isoformat(), grading_run_id=run_id):
            started = time.monotonic()
            written = self._warehouse.execute(
                "grade", {"game_date": game_date, "grading_run_id": run_id, "now": now}, timeout_s=timeout
            )
            # This night is exactly this run's rows, read by run id: through the latest-run view, a
            # concurrent grader's run landing before this read would hide them (and an empty
            # re-grade would show the older run). Earlier nights are their current runs.
            night = self._warehouse.query(
                "grade_run_rows", {"game_date": game_date, "grading_run_id": run_id}, timeout_s=timeout
            )
            window_start = game_date - timedelta(days=self._settings.alert_hit_rate_window_days - 1)
            earlier = self._warehouse.query(
                "grade_rows",
                {"start_date": window_start, "end_date": game_date - timedelta(days=1)},
                timeout_s=timeout,
            )
            rows = pd.concat([f for f in (earlier, night) if not f.empty]) if len(earlier) else night
            summary = summarize(night, game_date=game_date, grading_run_id=run_id, graded_at=now)
            window = window_hit_rate(rows, start=window_start, end=game_date)
            summary["hit_rate_window"] = window
            self._warehouse.append("grading_summaries", [summary_row(summary)])
            found = self._alerts_for(summary, window, night, game_date)
            raised = self._alerts.raise_all(found)
            picks = summary["picks"]
            log.info(
                "Batch graded",
                batch_id=summary["batch_ids"][0] if len(summary["batch_ids"]) == 1 else None,
                batch_ids=summary["batch_ids"],
                predictions=summary["predictions"],
                graded=summary["graded"],
                voided=summary["voided"],
                dnp=summary["dnp"],
                results_missing=summary["results_missing"],
                coverage=summary["coverage"],
                mae=summary["mae"],
                bias=summary["bias"],
                line_mae=summary["line_mae"],
                picks=picks["decided"],
                hit_rate=picks["hit_rate"],
                roi=summary["roi"]["roi"],
                hit_rate_7d=window["hit_rate"],
                alerts=[a.kind.value for a in found],
                grading_time=round(time.monotonic() - started, 4),
            )
        return GradingResult(run_id, game_date, written, summary, window, raised, found)

    def _alerts_for(
        self, summary: dict[str, Any], window: dict[str, Any], night: pd.DataFrame, game_date: date
    ) -> list[Alert]:
        timeout = self._settings.query_timeout_s
        games_scheduled = False
        if summary["predictions"] == 0:
            nxt = self._warehouse.query("next_game_date", {"from_date": game_date}, timeout_s=timeout)
            values = pd.to_datetime(nxt["game_date"]).dropna()
            games_scheduled = not values.empty and values.iloc[0].date() == game_date
        found = grading_alerts(summary, window, settings=self._settings, games_scheduled=games_scheduled)
        found += prediction_alerts(night, game_date=game_date, settings=self._settings)
        latest = self._warehouse.query("batch_latest", {"game_date": game_date}, timeout_s=timeout)
        if not latest.empty:
            batch_id = str(latest.at[0, "batch_id"])
            outcomes = self._warehouse.query("batch_outcomes", {"batch_id": batch_id}, timeout_s=timeout)
            dead = dead_letter_alert(
                outcomes, batch_id=batch_id, game_date=game_date, settings=self._settings
            )
            if dead is not None:
                found.append(dead)
        return found

    def stored_summary(self, game_date: date) -> dict[str, Any] | None:
        """The summary of the date's latest grading run, as stored."""
        frame = self._warehouse.query(
            "grade_summary_latest", {"game_date": game_date}, timeout_s=self._settings.query_timeout_s
        )
        if frame.empty:
            return None
        summary: dict[str, Any] = json.loads(str(frame.at[0, "summary_json"]))
        return summary

    def report_data(self, game_date: date | None = None) -> ReportData:
        """What the report shows, from one query over the report window."""
        game_date = game_date or self.default_game_date()
        start = game_date - timedelta(days=self._settings.report_window_days - 1)
        rows = self._warehouse.query(
            "grade_rows",
            {"start_date": start, "end_date": game_date},
            timeout_s=self._settings.query_timeout_s,
        )
        return report_from_rows(
            rows,
            game_date=game_date,
            window_start=start,
            generated_at=self._clock(),
            break_even=self._settings.alert_hit_rate_min,
        )
