"""Alerts: one manager for every caller.

This module is the interface every caller uses (`AlertManager.raise_alert`). Sinks, durable
deduplication and rate limiting are completed by the alerting work (issue 6); callers do not change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from shared.logging import get_logger

log = get_logger(__name__)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class AlertKind(StrEnum):
    BATCH_STALLED = "batch_stalled"
    BATCH_FAILED = "batch_failed"
    LOAD_TIMEOUT = "load_timeout"
    NO_PREDICTIONS = "no_predictions"
    PREDICTIONS_OUT_OF_RANGE = "predictions_out_of_range"
    PREDICTION_BIAS = "prediction_bias"
    HIT_RATE_BELOW_BREAK_EVEN = "hit_rate_below_break_even"
    GRADING_COVERAGE = "grading_coverage"
    DEAD_LETTERS = "dead_letters"
    PUBLISH_FAILED = "publish_failed"


@dataclass(frozen=True)
class Alert:
    """A typed alert. `key` says what it is about (a batch id, a date) and makes the signature."""

    kind: AlertKind
    severity: Severity
    summary: str
    key: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def signature(self) -> str:
        return hashlib.sha256(f"{self.kind.value}|{self.key}".encode()).hexdigest()[:24]


class AlertSink(Protocol):
    def send(self, alert: Alert) -> None: ...


class AlertManager:
    """Raises alerts through every sink; a failing sink never breaks the caller."""

    def __init__(self, sinks: list[AlertSink] | None = None) -> None:
        self._sinks = sinks or []

    def raise_alert(self, alert: Alert) -> bool:
        """Send the alert; return True when it was sent (not suppressed as a duplicate)."""
        log_method = log.error if alert.severity in (Severity.ERROR, Severity.CRITICAL) else log.warning
        log_method(
            "Alert",
            alert_kind=alert.kind.value,
            alert_severity=alert.severity.value,
            alert_signature=alert.signature,
            summary=alert.summary,
            key=alert.key,
            **alert.details,
        )
        for sink in self._sinks:
            try:
                sink.send(alert)
            except Exception:
                log.exception("Alert sink failed", sink=type(sink).__name__, alert_kind=alert.kind.value)
        return True
