"""When a night goes wrong: find stalled batches, finalize them (the players without a result are
recorded missing) and resume what a batch never got to the workers, under the same batch id."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol

import structlog

from coordinator.alerts import Alert, AlertKind, AlertManager, Severity
from coordinator.batch_store import ACTIVE, RESUMABLE, BatchNotResumable, BatchStatus, BatchStore, Clock
from coordinator.fanout import FanOut
from coordinator.slate import SlateLoad
from shared.errors import BatchNotFound
from shared.outcomes import Outcome
from shared.settings import Settings
from shared.warehouse import Warehouse

log = structlog.get_logger(__name__)

_LOST = frozenset({Outcome.PUBLISH_FAILED.value, Outcome.MISSING.value})


class Batches(Protocol):
    """What recovery needs of `BatchCoordinator`."""

    store: BatchStore
    fanout: FanOut

    def load(self, game_date: date, batch_id: str) -> SlateLoad: ...

    def status(self, batch_id: str | None = None) -> dict[str, Any]: ...

    def reconcile(self, batch_id: str | None = None) -> dict[str, Any]: ...


class Recovery:
    """Stalls, finalizing and resuming (Cloud Scheduler's stall check and operators call these)."""

    def __init__(
        self, batches: Batches, warehouse: Warehouse, settings: Settings, alerts: AlertManager, clock: Clock
    ) -> None:
        self._batches = batches
        self._warehouse = warehouse
        self._settings = settings
        self._alerts = alerts
        self._clock = clock

    def check_stalls(self) -> dict[str, Any]:
        """Finalize every active batch without a write for NBA_PROPS_STALL_AFTER_S (Cloud Scheduler)."""
        active = self._warehouse.records("batches_active", {})
        finalized: list[dict[str, Any]] = []
        for row in active:
            current = self._batches.reconcile(str(row["batch_id"]))
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
        store = self._batches.store
        batch = store.get(batch_id)
        if batch is None:
            raise BatchNotFound(batch_id)
        status = batch.status
        before = self._batches.reconcile(batch_id)  # may find it complete, which ends it as it should
        if status not in ACTIVE or before["status"] == BatchStatus.COMPLETE:
            return {**self._batches.status(batch_id), "finalized": False, "missing": []}
        game_date = batch.game_date
        now = self._clock()
        with structlog.contextvars.bound_contextvars(batch_id=batch_id, game_date=game_date.isoformat()):
            if status is BatchStatus.LOADING:
                # Nothing was published: the date is free again for a plain /start.
                missing: list[int] = []
                ended = BatchStatus.FAILED
                error = f"finalized ({reason}) while loading: the coordinator stopped before publishing"
            else:
                missing = self._missing_players(batch_id, game_date, batch.players)
                detail = f"no prediction or outcome {before['idle_s']:.0f} s after the batch's last write"
                self._batches.fanout.record(
                    batch_id,
                    game_date,
                    [(pid, Outcome.MISSING, f"finalized_{reason}", detail) for pid in missing],
                )
                ended = BatchStatus.STALLED
                error = f"finalized ({reason}): {len(missing)} players missing"
            store.update(batch_id, from_status=status, status=ended, error=error, finished_at=now)
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
        return {**self._batches.status(batch_id), "finalized": True, "missing": missing}

    def _results(self, batch_id: str, game_date: date) -> dict[int, dict[str, datetime]]:
        """Per player: each kind of result known for it ('predicted' or an outcome), with its latest time."""
        rows = self._warehouse.records("batch_player_results", {"batch_id": batch_id, "game_date": game_date})
        known: dict[int, dict[str, datetime]] = {}
        for row in rows:
            known.setdefault(int(row["player_id"]), {})[str(row["result"])] = row["latest_at"]
        return known

    def _missing_players(self, batch_id: str, game_date: date, players: list[int] | None) -> list[int]:
        """The batch's players with no result, or whose latest news is a re-send that never arrived.

        A player with a prediction, a skip or a rejection has a result; so has one whose lost message
        (publish_failed, missing) was not re-sent since, which already counts as failed. Finalizing
        runs after NBA_PROPS_STALL_AFTER_S without a write, so a re-sent message still without a
        prediction is lost too. ``players`` are those /status counts; None: the slate as it is now.
        """
        if players is None:
            slate = self._warehouse.records(
                "slate",
                {"start_date": game_date, "end_date": game_date, "rostered": True},
                timeout_s=self._settings.query_timeout_s,
            )
            players = [int(r["player_id"]) for r in slate]
        latest = self._results(batch_id, game_date)

        def has_result(pid: int) -> bool:
            known = latest.get(pid)
            if not known:
                return False
            if set(known) - {*_LOST, Outcome.RESENT.value}:
                return True  # predicted, skipped, failed or dead-lettered
            resent_at = known.get(Outcome.RESENT.value)
            lost_at = max((known[k] for k in _LOST if k in known), default=None)
            return resent_at is None or (lost_at is not None and lost_at > resent_at)

        return sorted(pid for pid in set(players) if not has_result(pid))

    def resume(self, batch_id: str) -> dict[str, Any]:
        """Send what a batch never got to the workers, under the same batch id (same prediction ids).

        Re-sent: players whose message was not published (publish_failed) or who were finalized as
        missing, and — when the fan-out itself was interrupted (status `publishing`, stalled) — every
        player without any result yet. Never re-sent: players with a prediction, a rejection or a skip.
        """
        store = self._batches.store
        batch = store.get(batch_id)
        if batch is None:
            raise BatchNotFound(batch_id)
        game_date = batch.game_date
        current = self._batches.reconcile(batch_id)
        interrupted = batch.status is BatchStatus.PUBLISHING and current["status"] == BatchStatus.STALLED
        # A complete batch may still have unpublished players: complete means nothing is in flight.
        if batch.status not in RESUMABLE and not interrupted:
            raise BatchNotResumable(batch_id, current["status"])
        with structlog.contextvars.bound_contextvars(batch_id=batch_id, game_date=game_date.isoformat()):
            store.claim_for_resume(game_date, batch_id)
            load = self._batches.load(game_date, batch_id)
            known = {pid: set(results) for pid, results in self._results(batch_id, game_date).items()}
            targets = [
                r
                for r in load.requests
                if (known.get(r.player_id) and known[r.player_id] <= _LOST | {Outcome.RESENT.value})
                or (interrupted and r.player_id not in known)
            ]
            store.ensure_holder(game_date, batch_id)  # a forced /start may have taken the date meanwhile
            report = self._batches.fanout.publish(batch_id, game_date, targets)
            self._batches.fanout.record_resent(batch_id, game_date, report.published)
            if report.published or interrupted:
                # Superseded meanwhile: it stays superseded (batch_update.sql), its rows hidden by the
                # view. Nothing sent, nothing changes: the batch row's write time is its stall timer.
                store.update(
                    batch_id, status=BatchStatus.RUNNING, published=batch.published + len(report.published)
                )
            log.info("Batch resumed", resent=len(report.published), failed=len(report.failed))
        return {
            "batch_id": batch_id,
            "game_date": game_date.isoformat(),
            "resent": sorted(report.published),
            "failed": sorted(report.failed),
            "status": self._batches.reconcile(batch_id)["status"],
        }
