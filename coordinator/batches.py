"""The nightly batch: load the whole slate in three queries, fan out one message per player, and
report progress counted from the warehouse (so it survives restarts and cannot over-report)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import structlog

from shared.contracts import PredictionRequest
from shared.errors import BatchConflict, BatchNotFound, NbaPropsError, QueryTimeout
from shared.features import history_params
from shared.lines import choose_lines
from shared.outcomes import Outcome, outcome_row
from shared.payloads import build_requests
from shared.settings import Settings
from shared.transport import OutgoingMessage, Publisher
from shared.warehouse import Warehouse

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class BatchStatus(StrEnum):
    LOADING = "loading"
    PUBLISHING = "publishing"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    STALLED = "stalled"
    SUPERSEDED = "superseded"
    NO_GAMES = "no_games"


ACTIVE = frozenset({BatchStatus.LOADING, BatchStatus.PUBLISHING, BatchStatus.RUNNING})
# A new /start for the date needs `force` while a batch in one of these states holds it.
BLOCKING = ACTIVE | {BatchStatus.COMPLETE, BatchStatus.STALLED}


@dataclass
class LoadMetrics:
    batch_load_time: float = 0.0
    player_count: int = 0
    games_loaded: int = 0
    lines_loaded: int = 0
    queries: int = 0
    query_seconds: dict[str, float] = field(default_factory=dict)
    history_rows: int = 0
    players_with_line: int = 0


@dataclass
class StartResult:
    batch_id: str | None
    game_date: date
    expected: int
    status: str
    published: int = 0
    skipped: int = 0

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["game_date"] = self.game_date.isoformat()
        return out


@dataclass
class SlateLoad:
    """The three query results and what the coordinator makes of them."""

    requests: list[PredictionRequest]
    skips: list[tuple[int, str, str]]
    metrics: LoadMetrics


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts, with NULLs as None (pandas gives NaN/NaT/NA depending on the dtype)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict("records")]


def _first(frame: pd.DataFrame) -> dict[str, Any]:
    return _records(frame.head(1))[0]


class BatchCoordinator:
    """Use cases of the coordinator: start a batch, report its status."""

    def __init__(
        self, warehouse: Warehouse, publisher: Publisher, settings: Settings, clock: Clock = utc_now
    ) -> None:
        self._warehouse = warehouse
        self._publisher = publisher
        self._settings = settings
        self._clock = clock

    # -- start --------------------------------------------------------------------------------

    def default_game_date(self) -> date:
        """Tonight in the league's time zone (the scheduler fires at 23:00 UTC, i.e. US evening)."""
        return self._clock().astimezone(ZoneInfo(self._settings.league_timezone)).date()

    def start(self, game_date: date | None = None, *, force: bool = False) -> StartResult:
        game_date = game_date or self.default_game_date()
        batch_id = f"{game_date:%Y%m%d}-{uuid.uuid4().hex[:10]}"
        with structlog.contextvars.bound_contextvars(batch_id=batch_id, game_date=game_date.isoformat()):
            previous = self._claim(game_date, batch_id, force=force)
            self._warehouse.execute(
                "batch_insert",
                {
                    "batch_id": batch_id,
                    "game_date": game_date,
                    "status": BatchStatus.LOADING,
                    "now": self._clock(),
                },
            )
            if previous is not None and previous["status"] in BLOCKING:
                self._update(previous["batch_id"], status=BatchStatus.SUPERSEDED, superseded_by=batch_id)
                log.warning("Batch superseded", superseded=previous["batch_id"])
            return self._run(batch_id, game_date)

    def _claim(self, game_date: date, batch_id: str, *, force: bool) -> dict[str, Any] | None:
        """Win the game date for this batch, durably, or raise BatchConflict.

        A compare-and-swap on `batch_locks` in the warehouse, not a process lock: several coordinator
        instances may receive the same /start, and exactly one of them may proceed.
        """
        self._warehouse.execute("batch_lock_init", {"game_date": game_date, "now": self._clock()})
        lock = _first(self._warehouse.query("batch_lock_get", {"game_date": game_date}))
        generation = int(lock["generation"])
        holder = lock["batch_id"]
        previous = self._get(holder) if isinstance(holder, str) else None
        if previous is not None and previous["status"] in BLOCKING and not force:
            raise BatchConflict(previous["batch_id"], game_date.isoformat(), previous["status"])
        claimed = self._warehouse.execute(
            "batch_lock_claim",
            {"game_date": game_date, "expected": generation, "batch_id": batch_id, "now": self._clock()},
        )
        if claimed == 0:
            winner = _first(self._warehouse.query("batch_lock_get", {"game_date": game_date}))
            raise BatchConflict(str(winner["batch_id"]), game_date.isoformat(), "starting")
        return previous

    def _run(self, batch_id: str, game_date: date) -> StartResult:
        try:
            load = self.load(game_date, batch_id)
        except NbaPropsError as exc:
            self._update(batch_id, status=BatchStatus.FAILED, error=str(exc), finished_at=self._clock())
            if isinstance(exc, QueryTimeout):
                log.error("Batch load timed out", query=exc.query, timeout_s=exc.timeout_s)
            raise
        metrics_json = json.dumps(asdict(load.metrics))
        if load.metrics.player_count == 0:
            self._update(
                batch_id,
                status=BatchStatus.NO_GAMES,
                load_metrics_json=metrics_json,
                finished_at=self._clock(),
            )
            log.info("No games scheduled")
            return StartResult(batch_id, game_date, 0, BatchStatus.NO_GAMES)
        expected = len(load.requests) + len(load.skips)
        self._record_skips(batch_id, game_date, load.skips)
        self._update(
            batch_id,
            status=BatchStatus.PUBLISHING,
            expected=expected,
            skipped=len(load.skips),
            load_metrics_json=metrics_json,
        )
        published = self._publish(batch_id, game_date, load.requests)
        self._update(batch_id, status=BatchStatus.RUNNING, published=published)
        return StartResult(
            batch_id, game_date, expected, BatchStatus.RUNNING, published=published, skipped=len(load.skips)
        )

    def load(self, game_date: date, batch_id: str) -> SlateLoad:
        """Exactly three queries whatever the slate size: slate, history, lines."""
        metrics = LoadMetrics()
        started = time.monotonic()
        timeout = self._settings.query_timeout_s

        def timed(name: str, params: dict[str, Any]) -> pd.DataFrame:
            t0 = time.monotonic()
            frame = self._warehouse.query(name, params, timeout_s=timeout)
            metrics.queries += 1
            metrics.query_seconds[name] = round(time.monotonic() - t0, 4)
            return frame

        slate = timed("slate", {"game_date": game_date})
        metrics.player_count = len(slate)
        if slate.empty:
            metrics.batch_load_time = round(time.monotonic() - started, 4)
            return SlateLoad([], [], metrics)
        player_ids = [int(p) for p in slate["player_id"].unique()]
        # The history window is part of the feature definition, shared with training: not a knob.
        history = timed("history", history_params(game_date, player_ids))
        lines = timed("lines", {"game_date": game_date, "player_ids": player_ids})
        chosen = choose_lines(lines, self._settings.bookmaker_priority)
        metrics.history_rows = len(history)
        metrics.games_loaded = int(slate["game_id"].nunique())
        metrics.lines_loaded = len(lines)
        metrics.players_with_line = len(chosen)

        eligible, skips = self._eligibility(slate, history)
        requests = build_requests(eligible, history, chosen, batch_id=batch_id)
        metrics.batch_load_time = round(time.monotonic() - started, 4)
        log.info("Batch loaded", **asdict(metrics))
        return SlateLoad(requests, skips, metrics)

    def _eligibility(
        self, slate: pd.DataFrame, history: pd.DataFrame
    ) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
        """Who gets a prediction. Everyone else gets a recorded, reasoned skip."""
        games_played = history.groupby("player_id").size() if not history.empty else pd.Series(dtype=int)
        counts = slate["player_id"].map(games_played).fillna(0).astype(int)
        out = slate["injury_status"].fillna("").str.upper().eq("OUT")
        thin = ~out & (counts < self._settings.min_history_games)
        skips: list[tuple[int, str, str]] = []
        for _, row in slate.loc[out].iterrows():
            skips.append((int(row["player_id"]), "injured_out", str(row.get("injury_reason") or "")))
        for pid, n in zip(slate.loc[thin, "player_id"], counts[thin], strict=True):
            skips.append(
                (int(pid), "insufficient_history", f"{n} prior games < {self._settings.min_history_games}")
            )
        return slate.loc[~out & ~thin].reset_index(drop=True), skips

    def _record_skips(self, batch_id: str, game_date: date, skips: list[tuple[int, str, str]]) -> None:
        now = self._clock()
        rows = [
            outcome_row(
                outcome=Outcome.SKIPPED,
                reason=reason,
                detail=detail,
                recorded_at=now,
                batch_id=batch_id,
                player_id=pid,
                game_date=game_date,
            )
            for pid, reason, detail in skips
        ]
        self._warehouse.append("player_outcomes", rows)

    def _publish(self, batch_id: str, game_date: date, requests: list[PredictionRequest]) -> int:
        messages = [OutgoingMessage(r.player_id, r.to_bytes(), r.attributes()) for r in requests]
        report = self._publisher.publish(messages)
        if report.failed:
            now = self._clock()
            self._warehouse.append(
                "player_outcomes",
                [
                    outcome_row(
                        outcome=Outcome.PUBLISH_FAILED,
                        reason="publish_failed",
                        detail=reason,
                        recorded_at=now,
                        batch_id=batch_id,
                        player_id=pid,
                        game_date=game_date,
                    )
                    for pid, reason in report.failed.items()
                ],
            )
        log.info(
            "Batch published",
            published=len(report.published),
            failed=len(report.failed),
            largest_message_bytes=report.largest_bytes,
            total_bytes=report.total_bytes,
            publish_time=round(report.elapsed_s, 4),
        )
        return len(report.published)

    # -- status -------------------------------------------------------------------------------

    def status(self, batch_id: str | None = None) -> dict[str, Any]:
        batch = self._get(batch_id) if batch_id else self._latest(None)
        if batch is None:
            raise BatchNotFound(batch_id or "no batch has run yet")
        game_date: date = batch["game_date"]
        progress = _first(
            self._warehouse.query("batch_progress", {"batch_id": batch["batch_id"], "game_date": game_date})
        )
        completed = int(progress["completed"])
        failed = int(progress["failed"])
        skipped = int(progress["skipped"])
        expected = int(batch["expected"])
        remaining = max(expected - completed - failed - skipped, 0)
        status = BatchStatus(batch["status"])
        now = self._clock()
        if status is BatchStatus.RUNNING and remaining == 0:
            self._update(batch["batch_id"], status=BatchStatus.COMPLETE, finished_at=now)
            status = BatchStatus.COMPLETE
            batch["finished_at"] = now
            log.info("Batch complete", batch_id=batch["batch_id"], completed=completed, failed=failed)
        end = batch["finished_at"] if status not in ACTIVE and batch["finished_at"] is not None else now
        elapsed = max((end - batch["created_at"]).total_seconds(), 0.0)
        done = completed + failed + skipped
        eta = round(elapsed / done * remaining, 1) if status in ACTIVE and done and remaining else None
        outcomes = _records(self._warehouse.query("batch_outcomes", {"batch_id": batch["batch_id"]}))
        return {
            "batch_id": batch["batch_id"],
            "game_date": game_date.isoformat(),
            "status": status.value,
            "expected": expected,
            "completed": completed,
            "failed": failed,
            "skipped": skipped,
            "remaining": remaining,
            "progress_pct": round(100.0 * (completed + failed + skipped) / expected, 1)
            if expected
            else 100.0,
            "elapsed_s": round(elapsed, 1),
            "eta_s": eta,
            "load": json.loads(batch["load_metrics_json"]) if batch["load_metrics_json"] else None,
            "error": batch["error"],
            "problems": [
                {k: r[k] for k in ("player_id", "outcome", "reason", "detail")}
                for r in outcomes
                if r["outcome"] != Outcome.SKIPPED
            ],
            "skips": [
                {k: r[k] for k in ("player_id", "reason", "detail")}
                for r in outcomes
                if r["outcome"] == Outcome.SKIPPED
            ],
        }

    # -- batch rows ---------------------------------------------------------------------------

    def _row(self, frame: pd.DataFrame) -> dict[str, Any] | None:
        if frame.empty:
            return None
        row = _first(frame)
        row["game_date"] = pd.Timestamp(row["game_date"]).date()
        for key in ("created_at", "updated_at", "finished_at"):
            value = row.get(key)
            row[key] = None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()
        for key in ("load_metrics_json", "error", "superseded_by"):
            if row.get(key) is not None and pd.isna(row[key]):
                row[key] = None
        return row

    def _get(self, batch_id: str) -> dict[str, Any] | None:
        return self._row(self._warehouse.query("batch_get", {"batch_id": batch_id}))

    def _latest(self, game_date: date | None) -> dict[str, Any] | None:
        return self._row(self._warehouse.query("batch_latest", {"game_date": game_date}))

    def _update(self, batch_id: str, **changes: Any) -> None:
        params: dict[str, Any] = {
            "batch_id": batch_id,
            "status": None,
            "expected": None,
            "published": None,
            "skipped": None,
            "load_metrics_json": None,
            "error": None,
            "superseded_by": None,
            "finished_at": None,
            "now": self._clock(),
        }
        unknown = set(changes) - set(params)
        if unknown:
            raise TypeError(f"unknown batch fields {sorted(unknown)}")
        params.update({k: (v.value if isinstance(v, StrEnum) else v) for k, v in changes.items()})
        self._warehouse.execute("batch_update", params)
