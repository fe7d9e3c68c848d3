"""Fan-out: publish one message per request and record, durably, every player's non-prediction
outcome (skipped, rejected, not published, missing, re-sent) in `player_outcomes`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import structlog

from coordinator.alerts import Alert, AlertKind, AlertManager, Severity
from coordinator.batch_store import Clock
from coordinator.slate import Skip
from shared.contracts import PredictionRequest
from shared.outcomes import Outcome, outcome_row
from shared.transport import OutgoingMessage, Publisher, PublishReport
from shared.warehouse import Warehouse

log = structlog.get_logger(__name__)

# (player_id, outcome, reason, detail)
Entry = tuple[int, Outcome, str, str]


class FanOut:
    """Publishes a batch's requests and records what happened to each player that got no prediction."""

    def __init__(
        self, warehouse: Warehouse, publisher: Publisher, alerts: AlertManager, clock: Clock
    ) -> None:
        self._warehouse = warehouse
        self.publisher = publisher
        self._alerts = alerts
        self._clock = clock

    def record(
        self,
        batch_id: str,
        game_date: date,
        entries: Iterable[Entry],
        message_ids: dict[int, str] | None = None,
    ) -> None:
        """One `player_outcomes` row per (player, outcome, reason, detail), in one append."""
        now = self._clock()
        message_ids = message_ids or {}
        rows = [
            outcome_row(
                outcome=outcome,
                reason=reason,
                detail=detail,
                recorded_at=now,
                batch_id=batch_id,
                player_id=pid,
                game_date=game_date,
                message_id=message_ids.get(pid),
            )
            for pid, outcome, reason, detail in entries
        ]
        self._warehouse.append("player_outcomes", rows)

    def record_skips(
        self, batch_id: str, game_date: date, skips: Sequence[Skip], rejected: Sequence[tuple[int, str]] = ()
    ) -> None:
        """Skipped players, and slate rows the contract refused (failed: a data problem to fix)."""
        entries = [(pid, Outcome.SKIPPED, reason, detail) for pid, reason, detail in skips]
        entries += [(pid, Outcome.FAILED, "invalid_slate_row", detail) for pid, detail in rejected]
        self.record(batch_id, game_date, entries)

    def record_resent(self, batch_id: str, game_date: date, published: dict[int, str]) -> None:
        """The players a resume sent again, each with its new message id."""
        detail = f"message re-sent by a resume at {self._clock().isoformat()}"
        self.record(
            batch_id, game_date, [(pid, Outcome.RESENT, "resumed", detail) for pid in published], published
        )

    def publish(self, batch_id: str, game_date: date, requests: Sequence[PredictionRequest]) -> PublishReport:
        """Publish; record exactly who was not published (publish_failed), durably, before answering."""
        messages = [OutgoingMessage(r.player_id, r.to_bytes(), r.attributes()) for r in requests]
        report = self.publisher.publish(messages)
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
            self.record(
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
