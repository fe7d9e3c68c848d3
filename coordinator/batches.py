"""The nightly batch: load the whole slate in three queries, fan out one message per player, and
report progress counted from the warehouse (so it survives restarts and cannot over-report).

`start` runs a night; `status` only reads; `reconcile` is the one place a running batch becomes
complete. Stalls, finalizing and resuming live in `coordinator.recovery`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import structlog

from coordinator.alerts import Alert, AlertKind, AlertManager, Severity
from coordinator.batch_store import ACTIVE, BLOCKING, Batch, BatchStatus, BatchStore, Clock, utc_now
from coordinator.fanout import FanOut
from coordinator.recovery import Recovery
from coordinator.slate import LoadMetrics, SlateLoad, plan_slate
from shared.errors import BatchConflict, BatchNotFound, PublishError, QueryTimeout
from shared.features.window import history_params
from shared.outcomes import Outcome
from shared.settings import Settings
from shared.transport import Publisher
from shared.warehouse import Warehouse

log = structlog.get_logger(__name__)


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


def _last_activity(batch: Batch, progress: dict[str, Any]) -> datetime:
    """The latest write of the batch: a prediction, an outcome, or the batch row itself."""
    moments: list[datetime | None] = [
        batch.updated_at,
        batch.created_at,
        progress["last_prediction_at"],
        progress["last_outcome_at"],
    ]
    return max(m for m in moments if m is not None)


class BatchCoordinator:
    """Use cases of the coordinator: start a batch, report its status, reconcile, recover."""

    def __init__(
        self,
        warehouse: Warehouse,
        publisher: Publisher,
        settings: Settings,
        clock: Clock = utc_now,
        on_complete: Callable[[str, date, int], object] | None = None,
        alerts: AlertManager | None = None,
    ) -> None:
        self._warehouse = warehouse
        self._settings = settings
        self._clock = clock
        self._alerts = alerts or AlertManager()
        # Called once when a batch is found complete (the night's prediction checks and alerts).
        self._on_complete = on_complete
        self.store = BatchStore(warehouse, stall_after_s=settings.stall_after_s, clock=clock)
        self.fanout = FanOut(warehouse, publisher, self._alerts, clock)
        self.recovery = Recovery(self, warehouse, settings, self._alerts, clock)

    # -- start --------------------------------------------------------------------------------

    def default_game_date(self) -> date:
        """Tonight in the league's time zone (the scheduler fires at 23:00 UTC, i.e. US evening)."""
        return self._clock().astimezone(ZoneInfo(self._settings.league_timezone)).date()

    def start(self, game_date: date | None = None, *, force: bool = False) -> StartResult:
        game_date = game_date or self.default_game_date()
        batch_id = f"{game_date:%Y%m%d}-{uuid.uuid4().hex[:10]}"
        with structlog.contextvars.bound_contextvars(batch_id=batch_id, game_date=game_date.isoformat()):
            previous = self.store.claim(game_date, batch_id, force=force)
            try:
                self.store.insert(batch_id, game_date)
            except Exception:
                # No batch row: give the date back, or every retry would see it "starting" until the
                # stall time (the scheduler's retries come within minutes).
                self.store.release(game_date, batch_id)
                raise
            return self._run(batch_id, game_date, previous)

    def _run(self, batch_id: str, game_date: date, previous: Batch | None) -> StartResult:
        try:
            if previous is not None and previous.status in BLOCKING:
                self.store.update(previous.batch_id, status=BatchStatus.SUPERSEDED, superseded_by=batch_id)
                log.warning("Batch superseded", superseded=previous.batch_id)
            load = self._prepare(batch_id, game_date)
            if load is not None:
                self.store.ensure_holder(game_date, batch_id)
        except BatchConflict:
            raise
        except Exception as exc:
            # Anything before the first publish (a load, a skip write, a row no rule expected) fails
            # the batch loudly and frees the date: left `loading`, it would block the night silently.
            self._fail(batch_id, game_date, exc)
            raise
        if load is None:
            log.info("No games scheduled")
            return StartResult(batch_id, game_date, 0, BatchStatus.NO_GAMES)
        published = len(self.fanout.publish(batch_id, game_date, load.requests).published)
        if not self.store.update(
            batch_id, from_status=BatchStatus.PUBLISHING, status=BatchStatus.RUNNING, published=published
        ):
            log.warning("Batch superseded while it published", published=published)
        if load.requests and published == 0:
            # Every message refused (a missing topic, no permission): the scheduler must see a failure,
            # not a 202. The players are recorded publish_failed; POST /batches/{id}/resume sends them.
            raise PublishError(
                f"none of the {len(load.requests)} messages of batch {batch_id} could be published; "
                f"fix the transport, then POST /batches/{batch_id}/resume",
                {r.player_id: "not published" for r in load.requests},
            )
        return StartResult(
            batch_id,
            game_date,
            load.expected,
            BatchStatus.RUNNING,
            published=published,
            skipped=len(load.skips),
        )

    def _fail(self, batch_id: str, game_date: date, exc: Exception) -> None:
        try:
            self.store.update(
                batch_id,
                status=BatchStatus.FAILED,
                error=f"{type(exc).__name__}: {exc}"[:2000],
                finished_at=self._clock(),
            )
        except Exception as also:  # the stall check finalizes it later; the alert still goes out
            log.error("Could not record the failed batch", error=f"{type(also).__name__}: {also}")
        if isinstance(exc, QueryTimeout):
            log.error("Batch load timed out", query=exc.query, timeout_s=exc.timeout_s)
            alert = Alert(
                AlertKind.LOAD_TIMEOUT,
                Severity.ERROR,
                f"/start for {game_date} failed: {exc}",
                key=batch_id,
                details={"query": exc.query, "timeout_s": exc.timeout_s},
            )
        else:
            alert = Alert(
                AlertKind.BATCH_FAILED,
                Severity.ERROR,
                f"/start for {game_date} failed while loading: {type(exc).__name__}: {exc}",
                key=batch_id,
                details={"game_date": game_date.isoformat(), "error": str(exc)[:1000]},
            )
        self._alerts.raise_alert(alert)

    def _prepare(self, batch_id: str, game_date: date) -> SlateLoad | None:
        """Load, record skips and rejected rows, move to `publishing`; None when there are no games."""
        load = self.load(game_date, batch_id)
        metrics_json = json.dumps(asdict(load.metrics))
        if load.metrics.player_count == 0:
            self.store.update(
                batch_id,
                status=BatchStatus.NO_GAMES,
                load_metrics_json=metrics_json,
                finished_at=self._clock(),
            )
            return None
        if load.expected != load.metrics.player_count:
            raise RuntimeError(
                f"{load.metrics.player_count} slate players but {load.expected} requests, skips and "
                "rejections"
            )
        self.fanout.record_skips(batch_id, game_date, load.skips, load.rejected)
        moved = self.store.update(
            batch_id,
            from_status=BatchStatus.LOADING,
            status=BatchStatus.PUBLISHING,
            expected=load.expected,
            skipped=len(load.skips),
            load_metrics_json=metrics_json,
            players=load.player_ids,
        )
        if not moved:
            raise BatchConflict(batch_id, game_date.isoformat(), "was superseded while it loaded")
        return load

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

        slate = timed("slate", {"start_date": game_date, "end_date": game_date, "rostered": True})
        if slate.empty:
            history = lines = pd.DataFrame()
        else:
            player_ids = [int(p) for p in slate["player_id"].unique()]
            # The history window is part of the feature definition, shared with training: not a knob.
            history = timed("history", history_params(game_date, player_ids))
            lines = timed("lines", {"start_date": game_date, "end_date": game_date, "player_ids": player_ids})
        load = plan_slate(
            slate,
            history,
            lines,
            batch_id=batch_id,
            bookmaker_priority=self._settings.bookmaker_priority,
            min_history_games=self._settings.min_history_games,
            metrics=metrics,
        )
        metrics.batch_load_time = round(time.monotonic() - started, 4)
        if slate.empty:
            return load
        log.info("Batch loaded", rejected=len(load.rejected), **asdict(metrics))
        if load.rejected:
            log.error(
                "Slate rows refused by the message contract", players=[pid for pid, _ in load.rejected][:50]
            )
        return load

    # -- status and reconcile -----------------------------------------------------------------

    def _find(self, batch_id: str | None) -> Batch:
        batch = self.store.get(batch_id) if batch_id else self.store.latest_with_games()
        if batch is None:
            raise BatchNotFound(batch_id or "no batch has run yet")
        return batch

    def _progress(self, batch: Batch) -> dict[str, Any]:
        """The counts of `batch_progress.sql`, over the players the batch expects only."""
        params: dict[str, Any] = {"batch_id": batch.batch_id, "game_date": batch.game_date}
        players = batch.players
        if players is None:
            # A batch row without its player list: every player its rows name counts.
            results = self._warehouse.records("batch_player_results", params)
            players = sorted({int(r["player_id"]) for r in results})
        return self._warehouse.records("batch_progress", {**params, "player_ids": players})[0]

    def status(self, batch_id: str | None = None) -> dict[str, Any]:
        """Progress of a batch (default: the newest that had games), read from the warehouse."""
        batch = self._find(batch_id)
        return self._answer(batch, self._progress(batch))

    def reconcile(self, batch_id: str | None = None) -> dict[str, Any]:
        """Complete a running batch whose every player has a result, then answer as `status` does.

        Workers only append rows; nothing tells the coordinator that the last prediction landed. So
        completion (and the night checks it triggers) happens when someone looks: GET /status, the
        stall check, finalize and resume all reconcile first. A compare-and-swap: of several callers
        finding it done, one completes it and runs the checks; the others see it complete.
        """
        batch = self._find(batch_id)
        progress = self._progress(batch)
        if batch.status is not BatchStatus.RUNNING or _remaining(batch, progress) > 0:
            return self._answer(batch, progress)
        now = self._clock()
        if not self.store.update(
            batch.batch_id, from_status=BatchStatus.RUNNING, status=BatchStatus.COMPLETE, finished_at=now
        ):
            return self.status(batch.batch_id)
        batch = replace(batch, status=BatchStatus.COMPLETE, finished_at=now)
        log.info(
            "Batch complete",
            batch_id=batch.batch_id,
            game_date=batch.game_date.isoformat(),
            expected=batch.expected,
            completed=int(progress["completed"]),
            failed=int(progress["failed"]),
            skipped=int(progress["skipped"]),
            elapsed_s=round(max((now - batch.created_at).total_seconds(), 0.0), 1),
        )
        if self._on_complete is not None:
            self._on_complete(batch.batch_id, batch.game_date, batch.expected)
        return self._answer(batch, progress)

    def _answer(self, batch: Batch, progress: dict[str, Any]) -> dict[str, Any]:
        completed, failed, skipped = (int(progress[k]) for k in ("completed", "failed", "skipped"))
        remaining = _remaining(batch, progress)
        now = self._clock()
        last_activity = _last_activity(batch, progress)
        idle = max((now - last_activity).total_seconds(), 0.0)
        active = batch.status in ACTIVE
        end = batch.finished_at if not active and batch.finished_at is not None else now
        elapsed = max((end - batch.created_at).total_seconds(), 0.0)
        done = completed + failed + skipped
        eta = round(elapsed / done * remaining, 1) if active and done and remaining else None
        # No write for NBA_PROPS_STALL_AFTER_S: reported stalled; POST /batches/check-stalls finalizes it.
        stalled = active and idle > self._settings.stall_after_s
        outcomes = self._warehouse.records("batch_outcomes", {"batch_id": batch.batch_id})
        problems = self._warehouse.records(
            "batch_problems", {"batch_id": batch.batch_id, "game_date": batch.game_date}
        )
        return {
            "batch_id": batch.batch_id,
            "game_date": batch.game_date.isoformat(),
            "status": BatchStatus.STALLED.value if stalled else batch.status.value,
            "last_activity_at": last_activity.isoformat(),
            "idle_s": round(idle, 1),
            "expected": batch.expected,
            "completed": completed,
            "failed": failed,
            "skipped": skipped,
            "remaining": remaining,
            "progress_pct": round(100.0 * done / batch.expected, 1) if batch.expected else 100.0,
            "elapsed_s": round(elapsed, 1),
            "eta_s": eta,
            "load": json.loads(batch.load_metrics_json) if batch.load_metrics_json else None,
            "error": batch.error,
            "problems": [{k: r[k] for k in ("player_id", "outcome", "reason", "detail")} for r in problems],
            "skips": [
                {k: r[k] for k in ("player_id", "reason", "detail")}
                for r in outcomes
                if r["outcome"] == Outcome.SKIPPED
            ],
        }

    # -- recovery (coordinator.recovery) ------------------------------------------------------

    def check_stalls(self) -> dict[str, Any]:
        return self.recovery.check_stalls()

    def finalize(self, batch_id: str, *, reason: str = "requested") -> dict[str, Any]:
        return self.recovery.finalize(batch_id, reason=reason)

    def resume(self, batch_id: str) -> dict[str, Any]:
        return self.recovery.resume(batch_id)


def _remaining(batch: Batch, progress: dict[str, Any]) -> int:
    done = int(progress["completed"]) + int(progress["failed"]) + int(progress["skipped"])
    return max(batch.expected - done, 0)
