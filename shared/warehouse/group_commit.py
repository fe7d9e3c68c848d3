"""Group commit: the rows of concurrent appends to one table written in as few transactions as possible.

A DuckDB commit costs milliseconds whatever it holds and commits are serialized, so the DuckDB
adapter funnels concurrent appends through one `GroupWriter` per table.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.errors import WarehouseUnavailable


@dataclass(eq=False)
class _Pending:
    rows: list[Mapping[str, Any]]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # handed the writing role by the previous writer
    error: BaseException | None = None


class GroupWriter:
    """Writes the rows of concurrent callers to one table in as few transactions as possible.

    The first caller to find nobody writing becomes the writer: it takes everything queued (its own
    rows included), writes it in one transaction and wakes those callers. If more rows queued
    meanwhile, it hands the writing role to the first of them, so no caller writes for others
    indefinitely. When a group fails, each caller's rows are written on their own, so that a bad row
    fails only its own caller; a transient failure (``WarehouseUnavailable``) goes to everyone.
    """

    def __init__(self, write: Callable[[list[Mapping[str, Any]]], None], timeout_s: float) -> None:
        self._write = write
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []
        self._writing = False

    def write(self, rows: list[Mapping[str, Any]]) -> None:
        mine = _Pending(rows)
        with self._lock:
            self._queue.append(mine)
            lead = not self._writing
            self._writing = True
        if not lead:
            self._wait(mine)
            if not mine.lead:
                if mine.error is not None:
                    raise mine.error
                return
        self._write_queued()
        if mine.error is not None:
            raise mine.error

    def _wait(self, mine: _Pending) -> None:
        """Until written or handed the writing role; bounded by the timeout (appends are idempotent,
        so "unavailable" and a redelivery are always safe, even if the rows commit after all)."""
        if mine.done.wait(self._timeout_s):
            return
        with self._lock:
            if mine.lead or mine.done.is_set():
                return
            if any(pending is mine for pending in self._queue):
                self._queue = [pending for pending in self._queue if pending is not mine]
                raise WarehouseUnavailable("a grouped write did not start in time")
        # Taken into a group that is still being written.
        if not mine.done.wait(self._timeout_s):
            raise WarehouseUnavailable("a grouped write did not complete in time")

    def _write_queued(self) -> None:
        with self._lock:
            group, self._queue = self._queue, []
        try:
            self._write([row for pending in group for row in pending.rows])
        except WarehouseUnavailable as exc:
            for pending in group:
                pending.error = exc
        except Exception:
            for pending in group:
                try:
                    self._write(pending.rows)
                except Exception as exc:
                    pending.error = exc
        finally:
            with self._lock:
                successor = self._queue[0] if self._queue else None
                self._writing = successor is not None
                if successor is not None:
                    successor.lead = True
                    successor.done.set()
            for pending in group:
                pending.lead = False
                pending.done.set()
