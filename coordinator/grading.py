"""Grading: how good was last night? Run the next morning by `POST /grade` (Cloud Scheduler) or
`nba-props grade --date D`.

`grade.sql` writes one graded row per prediction as a new grading run (the `graded_predictions`
view shows each date's latest, so re-grading replaces a night atomically, without a DELETE); the
summary is computed from the run's rows, stored in `grading_summaries` and returned; grading's
alerts go through the one `AlertManager`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import structlog

from coordinator.alerts import Alert, AlertKind, AlertManager, Severity
from coordinator.grading_summary import report_from_rows, summarize, summary_row, window_hit_rate
from coordinator.night_checks import (
    dead_letter_alert,
    night_warning,
    no_predictions_alert,
    prediction_alerts,
)
from coordinator.report import ReportData
from shared.settings import Settings
from shared.warehouse import Warehouse

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


# The summary's fields that the "Batch graded" log line carries as they are.
_LOGGED_SUMMARY_KEYS = (
    "batch_ids", "predictions", "graded", "voided", "dnp", "results_missing", "coverage", "mae", "bias",
    "line_mae",
)  # fmt: skip


def utc_now() -> datetime:
    return datetime.now(UTC)


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
            night_warning(
                AlertKind.GRADING_COVERAGE,
                f"Only {coverage:.0%} of {summary['gradable']} gradable predictions for {key} were graded "
                f"(minimum {settings.grading_coverage_min:.0%}); box scores may be missing",
                game_date,
                graded=summary["graded"],
                gradable=summary["gradable"],
                results_missing=summary["results_missing"],
                coverage=coverage,
                threshold=settings.grading_coverage_min,
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
            window_start = game_date - timedelta(days=self._settings.alert_hit_rate_window_days - 1)
            rows = self._rows(window_start, game_date, grading_run_id=run_id)
            night = rows.loc[pd.to_datetime(rows["game_date"]).dt.date == game_date].reset_index(drop=True)
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
                **{key: summary[key] for key in _LOGGED_SUMMARY_KEYS},
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
            nxt = self._warehouse.records("next_game_date", {"from_date": game_date}, timeout_s=timeout)
            day = nxt[0]["game_date"] if nxt else None
            games_scheduled = day is not None and pd.Timestamp(day).date() == game_date
        found = grading_alerts(summary, window, settings=self._settings, games_scheduled=games_scheduled)
        found += prediction_alerts(night, game_date=game_date, settings=self._settings)
        latest = self._warehouse.records("batch_latest", {"game_date": game_date}, timeout_s=timeout)
        if latest:
            batch_id = str(latest[0]["batch_id"])
            outcomes = self._warehouse.query("batch_outcomes", {"batch_id": batch_id}, timeout_s=timeout)
            dead = dead_letter_alert(
                outcomes, batch_id=batch_id, game_date=game_date, settings=self._settings
            )
            if dead is not None:
                found.append(dead)
        return found

    def stored_summary(self, game_date: date) -> dict[str, Any] | None:
        """The summary of the date's latest grading run, as stored."""
        rows = self._warehouse.records(
            "grade_summary_latest", {"game_date": game_date}, timeout_s=self._settings.query_timeout_s
        )
        if not rows:
            return None
        summary: dict[str, Any] = json.loads(str(rows[0]["summary_json"]))
        return summary

    def report_data(self, game_date: date | None = None) -> ReportData:
        """What the report shows, from one query over the report window."""
        game_date = game_date or self.default_game_date()
        start = game_date - timedelta(days=self._settings.report_window_days - 1)
        return report_from_rows(
            self._rows(start, game_date),
            game_date=game_date,
            window_start=start,
            generated_at=self._clock(),
            break_even=self._settings.alert_hit_rate_min,
        )

    def _rows(self, start: date, end: date, *, grading_run_id: str | None = None) -> pd.DataFrame:
        """Graded rows from `start` to `end` (grade_rows.sql; with a run id, `end` is that run's)."""
        params = {"start_date": start, "end_date": end, "grading_run_id": grading_run_id}
        return self._warehouse.query("grade_rows", params, timeout_s=self._settings.query_timeout_s)
