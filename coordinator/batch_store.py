"""Batch rows and the game-date lock: the coordinator's only writes to `batches` and `batch_locks`.

`BatchStore` reads a typed `Batch`, applies updates (optionally as a compare-and-swap on the status)
and owns the durable date lock that lets exactly one batch run a night.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import structlog

from shared.errors import BatchConflict, NbaPropsError
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


class BatchNotResumable(NbaPropsError):
    """Only a running or finalized batch (or a fan-out that stalled) can be resumed (409)."""

    def __init__(self, batch_id: str, status: str) -> None:
        self.batch_id = batch_id
        self.status = status
        super().__init__(f"batch {batch_id} cannot be resumed: it is {status}")


def _day(value: Any) -> date:
    # A DATE column comes back as a date or, through a pandas frame, as a midnight datetime.
    return value.date() if isinstance(value, datetime) else value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Batch:
    """One row of `batches`."""

    batch_id: str
    game_date: date
    status: BatchStatus
    expected: int
    published: int
    skipped: int
    load_metrics_json: str | None
    error: str | None
    superseded_by: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    players_json: str | None = None

    @property
    def players(self) -> list[int] | None:
        """The slate's player ids, the players the batch expects; None until it publishes."""
        return [int(p) for p in json.loads(self.players_json)] if self.players_json else None

    @classmethod
    def from_record(cls, row: dict[str, Any]) -> Batch:
        """A `batch_get.sql` / `batch_latest.sql` row (its columns are exactly these fields)."""
        return cls(**{**row, "game_date": _day(row["game_date"]), "status": BatchStatus(row["status"])})


@dataclass(frozen=True)
class DateLock:
    """The claim on a game date: its generation, the batch holding it and when it was claimed."""

    generation: int
    batch_id: str | None
    claimed_at: datetime | None


class BatchStore:
    """Reads and moves batch rows; claims, keeps and releases the date lock."""

    def __init__(self, warehouse: Warehouse, *, stall_after_s: float, clock: Clock = utc_now) -> None:
        self._warehouse = warehouse
        self._stall_after_s = stall_after_s
        self._clock = clock

    # -- batch rows ---------------------------------------------------------------------------

    def get(self, batch_id: str) -> Batch | None:
        return self._one("batch_get", {"batch_id": batch_id})

    def latest(self, game_date: date | None = None) -> Batch | None:
        return self._one("batch_latest", {"game_date": game_date})

    def latest_with_games(self) -> Batch | None:
        """The newest batch that is not `no_games`."""
        return self._one("batch_latest_with_games", {})

    def _one(self, name: str, params: dict[str, Any]) -> Batch | None:
        rows = self._warehouse.records(name, params)
        return Batch.from_record(rows[0]) if rows else None

    def insert(self, batch_id: str, game_date: date) -> None:
        self._warehouse.execute(
            "batch_insert",
            {
                "batch_id": batch_id,
                "game_date": game_date,
                "status": BatchStatus.LOADING,
                "now": self._clock(),
            },
        )

    def update(
        self,
        batch_id: str,
        *,
        from_status: BatchStatus | None = None,
        status: BatchStatus | None = None,
        expected: int | None = None,
        published: int | None = None,
        skipped: int | None = None,
        load_metrics_json: str | None = None,
        error: str | None = None,
        superseded_by: str | None = None,
        players: list[int] | None = None,
        finished_at: datetime | None = None,
    ) -> bool:
        """Apply the changes given (None keeps a field); with ``from_status``, only while the batch
        is in it. True if applied. A superseded batch never leaves that status (batch_update.sql)."""
        params = {
            "batch_id": batch_id,
            "status": status.value if status is not None else None,
            "expected": expected,
            "published": published,
            "skipped": skipped,
            "load_metrics_json": load_metrics_json,
            "error": error,
            "superseded_by": superseded_by,
            "players_json": json.dumps(players) if players is not None else None,
            "finished_at": finished_at,
            "now": self._clock(),
            "from_status": from_status.value if from_status is not None else None,
        }
        return self._warehouse.execute("batch_update", params) > 0

    # -- the date lock ------------------------------------------------------------------------
    # A compare-and-swap on `batch_locks` in the warehouse, not a process lock: several coordinator
    # instances may receive the same /start (the scheduler retries, an operator runs one by hand),
    # and exactly one of them may proceed. Each claim moves the generation on by one, so of
    # concurrent claims from the same generation only one changes a row.

    def _lock(self, game_date: date) -> DateLock:
        row = self._warehouse.records("batch_lock_get", {"game_date": game_date})[0]
        holder = row["batch_id"]
        return DateLock(
            int(row["generation"]), str(holder) if holder is not None else None, row["claimed_at"]
        )

    def _swap(self, game_date: date, lock: DateLock, batch_id: str | None) -> bool:
        params = {
            "game_date": game_date,
            "expected": lock.generation,
            "batch_id": batch_id,
            "now": self._clock(),
        }
        return self._warehouse.execute("batch_lock_claim", params) > 0

    def claim(self, game_date: date, batch_id: str, *, force: bool) -> Batch | None:
        """Win the game date for this batch, durably, or raise BatchConflict; return the batch that
        held it before (None when there was none)."""
        self._warehouse.execute("batch_lock_init", {"game_date": game_date, "now": self._clock()})
        lock = self._lock(game_date)
        previous = self.get(lock.batch_id) if lock.batch_id is not None else None
        if previous is not None and previous.status in BLOCKING and not force:
            raise BatchConflict(previous.batch_id, game_date.isoformat(), previous.status)
        if lock.batch_id is not None and previous is None and not force and not self._abandoned(lock):
            # The holder won the claim a moment ago and has not written its batch row yet: it is
            # starting, and a claim now would start a second batch for the date.
            raise BatchConflict(lock.batch_id, game_date.isoformat(), "starting")
        if not self._swap(game_date, lock, batch_id):
            winner = self._lock(game_date)
            raise BatchConflict(str(winner.batch_id), game_date.isoformat(), "starting")
        return previous

    def release(self, game_date: date, batch_id: str) -> None:
        """Best effort: hand the date back if this batch still holds it."""
        try:
            lock = self._lock(game_date)
            if lock.batch_id == batch_id:
                self._swap(game_date, lock, None)
        except Exception as exc:  # the claim then expires after the stall time, as an abandoned one
            log.error("Could not release the date's claim", error=f"{type(exc).__name__}: {exc}")

    def _abandoned(self, lock: DateLock) -> bool:
        """A claim whose batch row never appeared within the stall time: its coordinator died."""
        if lock.claimed_at is None:
            return False
        return (self._clock() - lock.claimed_at).total_seconds() > self._stall_after_s

    def ensure_holder(self, game_date: date, batch_id: str) -> None:
        """Publish only while this batch still holds the date (a forced /start may have taken it)."""
        lock = self._lock(game_date)
        if lock.batch_id != batch_id:
            winner = str(lock.batch_id)
            self.update(
                batch_id, status=BatchStatus.SUPERSEDED, superseded_by=winner, finished_at=self._clock()
            )
            log.warning("Batch superseded before it published", superseded_by=winner)
            raise BatchConflict(winner, game_date.isoformat(), "superseded this batch")

    def claim_for_resume(self, game_date: date, batch_id: str) -> None:
        """Move the date's claim on while keeping it: of two concurrent resumes only one proceeds."""
        lock = self._lock(game_date)
        if lock.batch_id != batch_id:
            raise BatchNotResumable(batch_id, f"superseded by {lock.batch_id}")
        if not self._swap(game_date, lock, batch_id):
            raise BatchNotResumable(batch_id, "being resumed or superseded right now")
