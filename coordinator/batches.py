"""The nightly batch: load the whole slate in three queries, fan out one message per player, and
report progress counted from the warehouse (so it survives restarts and cannot over-report)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import structlog

from shared.alerts import Alert, AlertKind, AlertManager, Severity
from shared.contracts import PredictionRequest
from shared.errors import BatchConflict, BatchNotFound, NbaPropsError, PublishError, QueryTimeout
from shared.features import history_params
from shared.lines import choose_lines
from shared.outcomes import Outcome, outcome_row
from shared.payloads import build_requests, injury_status
from shared.settings import Settings
from shared.transport import OutgoingMessage, Publisher, PublishReport
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
RESUMABLE = frozenset({BatchStatus.RUNNING, BatchStatus.COMPLETE, BatchStatus.STALLED})


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
    # Slate rows the message contract refused: (player_id, why), recorded as failed.
    rejected: list[tuple[int, str]] = field(default_factory=list)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts, with NULLs as None (pandas gives NaN/NaT/NA depending on the dtype)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [{str(k): v for k, v in row.items()} for row in clean.to_dict("records")]


def _first(frame: pd.DataFrame) -> dict[str, Any]:
    return _records(frame.head(1))[0]


class BatchNotResumable(NbaPropsError):
    """Only a running or finalized batch (or a fan-out that stalled) can be resumed (409)."""

    def __init__(self, batch_id: str, status: str) -> None:
        self.batch_id = batch_id
        self.status = status
        super().__init__(f"batch {batch_id} cannot be resumed: it is {status}")


def _last_activity(batch: dict[str, Any], progress: dict[str, Any]) -> datetime:
    """The latest write of the batch: a prediction, an outcome, or the batch row itself."""
    moments: list[datetime] = [batch["updated_at"], batch["created_at"]]
    for key in ("last_prediction_at", "last_outcome_at"):
        value = progress.get(key)
        if value is not None and not pd.isna(value):
            moments.append(pd.Timestamp(value).to_pydatetime())
    return max(m if m.tzinfo is not None else m.replace(tzinfo=UTC) for m in moments if m is not None)


class BatchCoordinator:
    """Use cases of the coordinator: start a batch, report its status."""

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
        self._publisher = publisher
        self._settings = settings
        self._clock = clock
        self._alerts = alerts or AlertManager()
        # Called once when a batch is found complete (the night's prediction checks and alerts).
        self._on_complete = on_complete

    # -- start --------------------------------------------------------------------------------

    def default_game_date(self) -> date:
        """Tonight in the league's time zone (the scheduler fires at 23:00 UTC, i.e. US evening)."""
        return self._clock().astimezone(ZoneInfo(self._settings.league_timezone)).date()

    def start(self, game_date: date | None = None, *, force: bool = False) -> StartResult:
        game_date = game_date or self.default_game_date()
        batch_id = f"{game_date:%Y%m%d}-{uuid.uuid4().hex[:10]}"
        with structlog.contextvars.bound_contextvars(batch_id=batch_id, game_date=game_date.isoformat()):
            previous = self._claim(game_date, batch_id, force=force)
            try:
                self._warehouse.execute(
                    "batch_insert",
                    {
                        "batch_id": batch_id,
                        "game_date": game_date,
                        "status": BatchStatus.LOADING,
                        "now": self._clock(),
                    },
                )
            except Exception:
                # No batch row: give the date back, or every retry would see it "starting" until the
                # stall time (the scheduler's retries come within minutes).
                self._release_claim(game_date, batch_id)
                raise
            return self._run(batch_id, game_date, previous)

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
        if isinstance(holder, str) and previous is None and not force and not self._abandoned(lock):
            # The holder won the claim a moment ago and has not written its batch row yet: it is
            # starting, and a claim now would start a second batch for the date.
            raise BatchConflict(holder, game_date.isoformat(), "starting")
        claimed = self._warehouse.execute(
            "batch_lock_claim",
            {"game_date": game_date, "expected": generation, "batch_id": batch_id, "now": self._clock()},
        )
        if claimed == 0:
            winner = _first(self._warehouse.query("batch_lock_get", {"game_date": game_date}))
            raise BatchConflict(str(winner["batch_id"]), game_date.isoformat(), "starting")
        return previous

    def _release_claim(self, game_date: date, batch_id: str) -> None:
        """Best effort: hand the date back if this batch still holds it (a compare-and-swap)."""
        try:
            lock = _first(self._warehouse.query("batch_lock_get", {"game_date": game_date}))
            if lock["batch_id"] == batch_id:
                self._warehouse.execute(
                    "batch_lock_claim",
                    {
                        "game_date": game_date,
                        "expected": int(lock["generation"]),
                        "batch_id": None,
                        "now": self._clock(),
                    },
                )
        except Exception as exc:  # the claim then expires after the stall time, as an abandoned one
            log.error("Could not release the date's claim", error=f"{type(exc).__name__}: {exc}")

    def _abandoned(self, lock: dict[str, Any]) -> bool:
        """A claim whose batch row never appeared within the stall time: its coordinator died."""
        claimed_at = lock.get("claimed_at")
        if claimed_at is None or pd.isna(claimed_at):
            return False
        age = (self._clock() - pd.Timestamp(claimed_at).to_pydatetime()).total_seconds()
        return age > self._settings.stall_after_s

    def _ensure_holder(self, game_date: date, batch_id: str) -> None:
        """Publish only while this batch still holds the date (a forced /start may have taken it)."""
        lock = _first(self._warehouse.query("batch_lock_get", {"game_date": game_date}))
        if lock["batch_id"] != batch_id:
            winner = str(lock["batch_id"])
            self._update(
                batch_id, status=BatchStatus.SUPERSEDED, superseded_by=winner, finished_at=self._clock()
            )
            log.warning("Batch superseded before it published", superseded_by=winner)
            raise BatchConflict(winner, game_date.isoformat(), "superseded this batch")

    def _run(self, batch_id: str, game_date: date, previous: dict[str, Any] | None = None) -> StartResult:
        try:
            if previous is not None and previous["status"] in BLOCKING:
                self._update(previous["batch_id"], status=BatchStatus.SUPERSEDED, superseded_by=batch_id)
                log.warning("Batch superseded", superseded=previous["batch_id"])
            load = self._prepare(batch_id, game_date)
            if load is not None:
                self._ensure_holder(game_date, batch_id)
        except BatchConflict:
            raise
        except Exception as exc:
            # Anything before the first publish (a load, a skip write, a row no rule expected) fails
            # the batch loudly and frees the date: left `loading`, it would block the night silently.
            try:
                self._update(
                    batch_id,
                    status=BatchStatus.FAILED,
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                    finished_at=self._clock(),
                )
            except Exception as also:  # the stall check finalizes it later; the alert still goes out
                log.error("Could not record the failed batch", error=f"{type(also).__name__}: {also}")
            if isinstance(exc, QueryTimeout):
                log.error("Batch load timed out", query=exc.query, timeout_s=exc.timeout_s)
                self._alerts.raise_alert(
                    Alert(
                        AlertKind.LOAD_TIMEOUT,
                        Severity.ERROR,
                        f"/start for {game_date} failed: {exc}",
                        key=batch_id,
                        details={"query": exc.query, "timeout_s": exc.timeout_s},
                    )
                )
            else:
                self._alerts.raise_alert(
                    Alert(
                        AlertKind.BATCH_FAILED,
                        Severity.ERROR,
                        f"/start for {game_date} failed while loading: {type(exc).__name__}: {exc}",
                        key=batch_id,
                        details={"game_date": game_date.isoformat(), "error": str(exc)[:1000]},
                    )
                )
            raise
        if load is None:
            log.info("No games scheduled")
            return StartResult(batch_id, game_date, 0, BatchStatus.NO_GAMES)
        published = self._publish(batch_id, game_date, load.requests)
        if not self._update(
            batch_id, from_status=BatchStatus.PUBLISHING, status=BatchStatus.RUNNING, published=published
        ):
            log.warning("Batch superseded while it published", published=published)
        expected = len(load.requests) + len(load.skips) + len(load.rejected)
        if load.requests and published == 0:
            # Every message refused (a missing topic, no permission): the scheduler must see a failure,
            # not a 202. The players are recorded publish_failed; POST /batches/{id}/resume sends them.
            raise PublishError(
                f"none of the {len(load.requests)} messages of batch {batch_id} could be published; "
                f"fix the transport, then POST /batches/{batch_id}/resume",
                {r.player_id: "not published" for r in load.requests},
            )
        return StartResult(
            batch_id, game_date, expected, BatchStatus.RUNNING, published=published, skipped=len(load.skips)
        )

    def _prepare(self, batch_id: str, game_date: date) -> SlateLoad | None:
        """Load, record skips and rejected rows, move to `publishing`; None when there are no games."""
        load = self.load(game_date, batch_id)
        metrics_json = json.dumps(asdict(load.metrics))
        if load.metrics.player_count == 0:
            self._update(
                batch_id,
                status=BatchStatus.NO_GAMES,
                load_metrics_json=metrics_json,
                finished_at=self._clock(),
            )
            return None
        expected = len(load.requests) + len(load.skips) + len(load.rejected)
        if expected != load.metrics.player_count:
            raise RuntimeError(
                f"{load.metrics.player_count} slate players but {expected} requests, skips and rejections"
            )
        self._record_skips(batch_id, game_date, load.skips, load.rejected)
        moved = self._update(
            batch_id,
            from_status=BatchStatus.LOADING,
            status=BatchStatus.PUBLISHING,
            expected=expected,
            skipped=len(load.skips),
            load_metrics_json=metrics_json,
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
        rejected: list[tuple[int, str]] = []
        requests = build_requests(eligible, history, chosen, batch_id=batch_id, rejected=rejected)
        metrics.batch_load_time = round(time.monotonic() - started, 4)
        log.info("Batch loaded", rejected=len(rejected), **asdict(metrics))
        if rejected:
            log.error("Slate rows refused by the message contract", players=[pid for pid, _ in rejected][:50])
        return SlateLoad(requests, skips, metrics, rejected)

    def _eligibility(
        self, slate: pd.DataFrame, history: pd.DataFrame
    ) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
        """Who gets a prediction. Everyone else gets a recorded, reasoned skip."""
        games_played = history.groupby("player_id").size() if not history.empty else pd.Series(dtype=int)
        counts = slate["player_id"].map(games_played).fillna(0).astype(int)
        out = slate["injury_status"].map(injury_status).eq("OUT")
        thin = ~out & (counts < self._settings.min_history_games)
        skips: list[tuple[int, str, str]] = []
        for _, row in slate.loc[out].iterrows():
            skips.append((int(row["player_id"]), "injured_out", str(row.get("injury_reason") or "")))
        for pid, n in zip(slate.loc[thin, "player_id"], counts[thin], strict=True):
            skips.append(
                (int(pid), "insufficient_history", f"{n} prior games < {self._settings.min_history_games}")
            )
        return slate.loc[~out & ~thin].reset_index(drop=True), skips

    def _record_skips(
        self,
        batch_id: str,
        game_date: date,
        skips: list[tuple[int, str, str]],
        rejected: Sequence[tuple[int, str]] = (),
    ) -> None:
        """Skipped players, and slate rows the contract refused (failed: a data problem to fix)."""
        entries = [(pid, Outcome.SKIPPED, reason, detail) for pid, reason, detail in skips]
        entries += [(pid, Outcome.FAILED, "invalid_slate_row", detail) for pid, detail in rejected]
        self._record(batch_id, game_date, entries)

    def _record(
        self, batch_id: str, game_date: date, entries: Sequence[tuple[int, Outcome, str, str]]
    ) -> None:
        """One `player_outcomes` row per (player, outcome, reason, detail), in one append."""
        now = self._clock()
        rows = [
            outcome_row(
                outcome=outcome,
                reason=reason,
                detail=detail,
                recorded_at=now,
                batch_id=batch_id,
                player_id=pid,
                game_date=game_date,
            )
            for pid, outcome, reason, detail in entries
        ]
        self._warehouse.append("player_outcomes", rows)

    def _publish(self, batch_id: str, game_date: date, requests: list[PredictionRequest]) -> int:
        return len(self._fan_out(batch_id, game_date, requests).published)

    def _fan_out(self, batch_id: str, game_date: date, requests: list[PredictionRequest]) -> PublishReport:
        """Publish; record exactly who was not published (publish_failed), durably, before answering."""
        messages = [OutgoingMessage(r.player_id, r.to_bytes(), r.attributes()) for r in requests]
        report = self._publisher.publish(messages)
        if report.failed:
            self._alerts.raise_alert(
                Alert(
                    AlertKind.PUBLISH_FAILED,
                    Severity.ERROR,
                    f"{len(report.failed)} of {len(messages)} messages of batch {batch_id} were not "
                    f"published; POST /batches/{batch_id}/resume sends them",
                    key=batch_id,
                    details={"failed": len(report.failed), "published": len(report.published)},
                )
            )
            self._record(
                batch_id,
                game_date,
                [(pid, Outcome.PUBLISH_FAILED, "publish_failed", why) for pid, why in report.failed.items()],
            )
        log.info(
            "Batch published",
            published=len(report.published),
            failed=len(report.failed),
            largest_message_bytes=report.largest_bytes,
            total_bytes=report.total_bytes,
            publish_time=round(report.elapsed_s, 4),
        )
        return report

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
        last_activity = _last_activity(batch, progress)
        idle = max((now - last_activity).total_seconds(), 0.0)
        if status is BatchStatus.RUNNING and remaining == 0:
            # Compare-and-swap: of several /status calls finding it done, one completes it and runs
            # the night checks; the others see it complete (or superseded) on their next read.
            if not self._update(
                batch["batch_id"],
                from_status=BatchStatus.RUNNING,
                status=BatchStatus.COMPLETE,
                finished_at=now,
            ):
                return self.status(batch["batch_id"])
            status = BatchStatus.COMPLETE
            batch["finished_at"] = now
            log.info(
                "Batch complete",
                batch_id=batch["batch_id"],
                game_date=game_date.isoformat(),
                expected=expected,
                completed=completed,
                failed=failed,
                skipped=skipped,
                elapsed_s=round(max((now - batch["created_at"]).total_seconds(), 0.0), 1),
            )
            if self._on_complete is not None:
                self._on_complete(batch["batch_id"], game_date, expected)
        end = batch["finished_at"] if status not in ACTIVE and batch["finished_at"] is not None else now
        elapsed = max((end - batch["created_at"]).total_seconds(), 0.0)
        done = completed + failed + skipped
        eta = round(elapsed / done * remaining, 1) if status in ACTIVE and done and remaining else None
        # No write for NBA_PROPS_STALL_AFTER_S: reported stalled; POST /batches/check-stalls finalizes it.
        stalled = status in ACTIVE and idle > self._settings.stall_after_s
        outcomes = _records(self._warehouse.query("batch_outcomes", {"batch_id": batch["batch_id"]}))
        problems = _records(
            self._warehouse.query("batch_problems", {"batch_id": batch["batch_id"], "game_date": game_date})
        )
        return {
            "batch_id": batch["batch_id"],
            "game_date": game_date.isoformat(),
            "status": BatchStatus.STALLED.value if stalled else status.value,
            "last_activity_at": last_activity.isoformat(),
            "idle_s": round(idle, 1),
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
            "problems": [{k: r[k] for k in ("player_id", "outcome", "reason", "detail")} for r in problems],
            "skips": [
                {k: r[k] for k in ("player_id", "reason", "detail")}
                for r in outcomes
                if r["outcome"] == Outcome.SKIPPED
            ],
        }

    # -- stalls, finalizing and resuming (README.md, Reliability and security) -----------------------

    def check_stalls(self) -> dict[str, Any]:
        """Finalize every active batch without a write for NBA_PROPS_STALL_AFTER_S (Cloud Scheduler)."""
        active = _records(self._warehouse.query("batches_active", {}))
        finalized: list[dict[str, Any]] = []
        for row in active:
            current = self.status(str(row["batch_id"]))
            if current["status"] == BatchStatus.STALLED:
                finalized.append(self.finalize(current["batch_id"], reason="stalled"))
        return {
            "checked": len(active),
            "finalized": [
                {k: f[k] for k in ("batch_id", "game_date", "status", "missing", "idle_s")} for f in finalized
            ],
        }

    def finalize(self, batch_id: str, *, reason: str = "requested") -> dict[str, Any]:
        """End an active batch now: every player still without a result is recorded as missing."""
        batch = self._get(batch_id)
        if batch is None:
            raise BatchNotFound(batch_id)
        status = BatchStatus(batch["status"])
        before = self.status(batch_id)  # may find it complete, which ends it as it should
        if status not in ACTIVE or before["status"] == BatchStatus.COMPLETE:
            return {**self.status(batch_id), "finalized": False, "missing": []}
        game_date: date = batch["game_date"]
        now = self._clock()
        with structlog.contextvars.bound_contextvars(batch_id=batch_id, game_date=game_date.isoformat()):
            if status is BatchStatus.LOADING:
                # Nothing was published: the date is free again for a plain /start.
                self._update(
                    batch_id,
                    from_status=status,
                    status=BatchStatus.FAILED,
                    error=f"finalized ({reason}) while loading: the coordinator stopped before publishing",
                    finished_at=now,
                )
                missing: list[int] = []
            else:
                missing = self._missing_players(batch_id, game_date)
                detail = f"no prediction or outcome {before['idle_s']:.0f} s after the batch's last write"
                self._record(
                    batch_id,
                    game_date,
                    [(pid, Outcome.MISSING, f"finalized_{reason}", detail) for pid in missing],
                )
                self._update(
                    batch_id,
                    from_status=status,
                    status=BatchStatus.STALLED,
                    error=f"finalized ({reason}): {len(missing)} players missing",
                    finished_at=now,
                )
            log.warning("Batch finalized", reason=reason, missing=len(missing), idle_s=before["idle_s"])
            self._alerts.raise_alert(
                Alert(
                    AlertKind.BATCH_STALLED,
                    Severity.ERROR,
                    f"batch {batch_id} for {game_date} finalized ({reason}) after {before['idle_s']:.0f} s "
                    f"without progress; {len(missing)} players missing",
                    key=batch_id,
                    details={
                        "game_date": game_date.isoformat(),
                        "missing": len(missing),
                        "missing_players": missing[:50],
                        "idle_s": before["idle_s"],
                        "previous_status": status.value,
                    },
                )
            )
        return {**self.status(batch_id), "finalized": True, "missing": missing}

    def _missing_players(self, batch_id: str, game_date: date) -> list[int]:
        """Slate players with no result, or whose latest news is a re-send that never arrived (one
        slate query, one results query).

        A player with a prediction, a skip or a rejection has a result; so has one whose lost message
        (publish_failed, missing) was not re-sent since, which already counts as failed. Finalizing
        runs after NBA_PROPS_STALL_AFTER_S without a write, so a re-sent message still without a
        prediction is lost too.

        The slate is read again rather than stored with the batch: a roster move between /start and
        finalizing would show up here as a missing (or no longer listed) player, which the log notes.
        """
        timeout = self._settings.query_timeout_s
        slate = self._warehouse.query("slate", {"game_date": game_date}, timeout_s=timeout)
        params = {"batch_id": batch_id, "game_date": game_date}
        results = self._warehouse.query("batch_player_results", params)
        latest: dict[int, dict[str, pd.Timestamp]] = {}
        for pid, result, at in zip(
            results["player_id"], results["result"], results["latest_at"], strict=True
        ):
            latest.setdefault(int(pid), {})[str(result)] = pd.Timestamp(at)
        lost = (Outcome.PUBLISH_FAILED.value, Outcome.MISSING.value)

        def has_result(pid: int) -> bool:
            known = latest.get(pid)
            if not known:
                return False
            if set(known) - {*lost, Outcome.RESENT.value}:
                return True  # predicted, skipped, failed or dead-lettered
            resent_at = known.get(Outcome.RESENT.value)
            lost_at = max((known[k] for k in lost if k in known), default=None)
            return resent_at is None or (lost_at is not None and lost_at > resent_at)

        return sorted(pid for pid in {int(p) for p in slate["player_id"]} if not has_result(pid))

    def resume(self, batch_id: str) -> dict[str, Any]:
        """Send what a batch never got to the workers, under the same batch id (same prediction ids).

        Re-sent: players whose message was not published (publish_failed) or who were finalized as
        missing, and — when the fan-out itself was interrupted (status `publishing`, stalled) — every
        player without any result yet. Never re-sent: players with a prediction, a rejection or a skip.
        """
        batch = self._get(batch_id)
        if batch is None:
            raise BatchNotFound(batch_id)
        game_date: date = batch["game_date"]
        status = BatchStatus(batch["status"])
        current = self.status(batch_id)
        interrupted = status is BatchStatus.PUBLISHING and current["status"] == BatchStatus.STALLED
        # A complete batch may still have unpublished players: complete means nothing is in flight.
        if status not in RESUMABLE and not interrupted:
            raise BatchNotResumable(batch_id, current["status"])
        with structlog.contextvars.bound_contextvars(batch_id=batch_id, game_date=game_date.isoformat()):
            self._claim_for_resume(game_date, batch_id)
            load = self.load(game_date, batch_id)
            results = self._warehouse.query(
                "batch_player_results", {"batch_id": batch_id, "game_date": game_date}
            )
            known: dict[int, set[str]] = {}
            for pid, result in zip(results["player_id"], results["result"], strict=True):
                known.setdefault(int(pid), set()).add(str(result))
            lost = {Outcome.PUBLISH_FAILED.value, Outcome.MISSING.value}
            targets = [
                r
                for r in load.requests
                if (known.get(r.player_id) and known[r.player_id] <= lost | {Outcome.RESENT.value})
                or (interrupted and r.player_id not in known)
            ]
            self._ensure_holder(game_date, batch_id)  # a forced /start may have taken the date meanwhile
            report = self._fan_out(batch_id, game_date, targets)
            now = self._clock()
            self._warehouse.append(
                "player_outcomes",
                [
                    outcome_row(
                        outcome=Outcome.RESENT,
                        reason="resumed",
                        detail=f"message re-sent by a resume at {now.isoformat()}",
                        recorded_at=now,
                        batch_id=batch_id,
                        player_id=pid,
                        game_date=game_date,
                        message_id=message_id,
                    )
                    for pid, message_id in report.published.items()
                ],
            )
            published = int(batch["published"]) + len(report.published)
            # Superseded meanwhile: it stays superseded (batch_update.sql), its rows hidden by the view.
            self._update(batch_id, status=BatchStatus.RUNNING, published=published)
            log.info("Batch resumed", resent=len(report.published), failed=len(report.failed))
        return {
            "batch_id": batch_id,
            "game_date": game_date.isoformat(),
            "resent": sorted(report.published),
            "failed": sorted(report.failed),
            "status": self.status(batch_id)["status"],
        }

    def _claim_for_resume(self, game_date: date, batch_id: str) -> None:
        """Move the date's claim on while keeping it: of two concurrent resumes only one proceeds."""
        lock = _first(self._warehouse.query("batch_lock_get", {"game_date": game_date}))
        if lock["batch_id"] != batch_id:
            raise BatchNotResumable(batch_id, f"superseded by {lock['batch_id']}")
        claimed = self._warehouse.execute(
            "batch_lock_claim",
            {
                "game_date": game_date,
                "expected": int(lock["generation"]),
                "batch_id": batch_id,
                "now": self._clock(),
            },
        )
        if claimed == 0:
            raise BatchNotResumable(batch_id, "being resumed or superseded right now")

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

    def _update(self, batch_id: str, *, from_status: BatchStatus | None = None, **changes: Any) -> bool:
        """Apply ``changes``; with ``from_status``, only while the batch is in it. True if applied.

        A superseded batch never leaves that status, whoever still works on it (batch_update.sql).
        """
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
            "from_status": from_status.value if from_status is not None else None,
        }
        unknown = set(changes) - set(params)
        if unknown:
            raise TypeError(f"unknown batch fields {sorted(unknown)}")
        params.update({k: (v.value if isinstance(v, StrEnum) else v) for k, v in changes.items()})
        return self._warehouse.execute("batch_update", params) > 0
