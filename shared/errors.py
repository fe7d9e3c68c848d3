"""Typed errors. Each service maps them to HTTP status codes in exactly one place."""

from __future__ import annotations

from enum import StrEnum


class NbaPropsError(Exception):
    """Base class for every error this project raises on purpose."""


class ConfigurationError(NbaPropsError):
    """Settings that cannot work together (raised at startup, never at request time)."""


class WarehouseFault(StrEnum):
    """Why a warehouse cannot take writes: a condition an operator must fix, which no retry changes."""

    DISK_FULL = "disk_full"
    READ_ONLY = "read_only"
    PERMISSION_DENIED = "permission_denied"
    LOCKED = "locked"


class WarehouseUnavailable(NbaPropsError):
    """The warehouse could not be reached or refused the request.

    ``fault`` names the cause when it is one that retrying will not fix (see `WarehouseFault`); when
    it is None the failure is transient and retrying later may succeed.
    """

    def __init__(self, message: str, *, fault: WarehouseFault | None = None) -> None:
        self.fault = fault
        super().__init__(message)


class QueryTimeout(NbaPropsError):
    """A warehouse query (or the download of its results) ran past the configured timeout; a job
    still running then is cancelled."""

    def __init__(self, query: str, timeout_s: float, elapsed_s: float) -> None:
        self.query = query
        self.timeout_s = timeout_s
        self.elapsed_s = elapsed_s
        super().__init__(f"query '{query}' timed out after {elapsed_s:.1f} s (limit {timeout_s:g} s)")


class ModelMissing(NbaPropsError):
    """No model bundle where the settings say it is."""


class ModelMismatch(NbaPropsError):
    """A model bundle whose manifest, checksum or feature list disagrees with this code."""


class PoisonMessage(NbaPropsError):
    """A message that can never succeed however often it is retried (acknowledged and recorded)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class PublishError(NbaPropsError):
    """Some messages of a fan-out could not be published; ``failed`` names them."""

    def __init__(self, message: str, failed: dict[int, str]) -> None:
        self.failed = failed
        super().__init__(message)


class BatchConflict(NbaPropsError):
    """A batch for this game date is running (or complete); pass ``force`` to supersede it."""

    def __init__(self, batch_id: str, game_date: str, status: str = "running") -> None:
        self.batch_id = batch_id
        self.game_date = game_date
        self.status = status
        super().__init__(f"batch {batch_id} for {game_date} is {status}; pass force to supersede it")


class BatchNotFound(NbaPropsError):
    """No batch with that id (or no batch at all)."""
