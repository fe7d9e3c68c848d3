"""Alerts: one manager for every caller (a test keeps it the only one in the tree).

An `Alert` is typed (kind, severity) and keyed (a batch id, a date); kind and key are its signature.
`AlertManager.raise_alert` deduplicates and rate-limits through `alert_log` in the warehouse, then
logs the alert and hands it to each configured sink (a Slack-compatible webhook, a Pub/Sub topic).
It never raises: a failing store means "send anyway", a failing sink is logged and skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from shared.logging import get_logger

if TYPE_CHECKING:
    from shared.settings import Settings
    from shared.transport import Publisher
    from shared.warehouse import Warehouse

log = get_logger(__name__)

Clock = Callable[[], datetime]


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
    PREDICTIONS_FAR_FROM_HISTORY = "predictions_far_from_history"
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

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "summary": self.summary,
            "key": self.key,
            "signature": self.signature,
            "details": self.details,
        }


class AlertSink(Protocol):
    def send(self, alert: Alert) -> None:
        """Deliver the alert or raise; the manager logs the failure and carries on."""
        ...


class Decision(StrEnum):
    """What the durable state says about one raise."""

    CLAIMED = "claimed"  # first of its signature in the window: send it
    DUPLICATE = "duplicate"  # already claimed within the window (by any instance)
    RATE_LIMITED = "rate_limited"  # too many alerts this hour: log only


class AlertStore(Protocol):
    def decide(self, alert: Alert, now: datetime) -> Decision: ...


def _instance() -> str:
    # Cloud Run names the revision; the host and pid tell instances of one revision apart.
    revision = os.environ.get("K_REVISION", "local")
    return f"{revision}/{socket.gethostname()}/{os.getpid()}"[:200]


class WarehouseAlertStore:
    """Deduplication and rate-limit state in `alert_log`: two reads and one append per raise."""

    def __init__(
        self,
        warehouse: Warehouse,
        *,
        dedup_window_s: float,
        rate_limit_per_hour: int,
        timeout_s: float = 30.0,
        instance: str | None = None,
    ) -> None:
        self._warehouse = warehouse
        self._dedup_window = timedelta(seconds=dedup_window_s)
        self._rate_limit = rate_limit_per_hour
        self._timeout_s = timeout_s
        self._instance = instance or _instance()

    def decide(self, alert: Alert, now: datetime) -> Decision:
        dedup_since = now - self._dedup_window
        recent = self._warehouse.records(
            "alert_recent",
            {
                "signature": alert.signature,
                "dedup_since": dedup_since,
                "rate_since": now - timedelta(hours=1),
            },
            timeout_s=self._timeout_s,
        )
        same = int(recent[0]["same_signature"] or 0) if recent else 0
        claimed = int(recent[0]["claimed_recently"] or 0) if recent else 0
        if same > 0:
            decision = Decision.DUPLICATE
        elif claimed >= self._rate_limit:
            decision = Decision.RATE_LIMITED
        else:
            decision = Decision.CLAIMED
        alert_id = uuid.uuid4().hex
        self._warehouse.append(
            "alert_log",
            [
                {
                    "alert_id": alert_id,
                    "signature": alert.signature,
                    "kind": alert.kind.value,
                    "severity": alert.severity.value,
                    "alert_key": alert.key,
                    "summary": alert.summary[:2000],
                    "details_json": json.dumps(alert.details, default=str, sort_keys=True)[:20000],
                    "decision": decision.value,
                    "instance": self._instance,
                    "raised_at": now,
                }
            ],
        )
        if decision is not Decision.CLAIMED:
            return decision
        first = self._warehouse.records(
            "alert_first_claim",
            {"signature": alert.signature, "dedup_since": dedup_since},
            timeout_s=self._timeout_s,
        )
        if first and str(first[0]["alert_id"]) != alert_id:
            return Decision.DUPLICATE  # another instance's claim came first
        return Decision.CLAIMED


_LOG_LEVELS = {
    Severity.INFO: "info",
    Severity.WARNING: "warning",
    Severity.ERROR: "error",
    Severity.CRITICAL: "critical",
}


class StructuredLogSink:
    """The sink that is always there: one `Alert` event at the alert's severity."""

    def send(self, alert: Alert, delivery: str = Decision.CLAIMED.value) -> None:
        getattr(log, _LOG_LEVELS[alert.severity])(
            "Alert",
            alert_kind=alert.kind.value,
            alert_severity=alert.severity.value,
            alert_signature=alert.signature,
            alert_key=alert.key,
            alert_delivery=delivery,
            summary=alert.summary,
            details=alert.details,
        )


class WebhookRejected(Exception):
    """The webhook answered with a status that retrying will not change (or retries ran out)."""


class _RetryableStatus(Exception):
    pass


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | _RetryableStatus)


_SEVERITY_MARK = {
    Severity.INFO: ":information_source:",
    Severity.WARNING: ":warning:",
    Severity.ERROR: ":rotating_light:",
    Severity.CRITICAL: ":fire:",
}


def slack_payload(alert: Alert) -> dict[str, Any]:
    """A Slack incoming-webhook body (`text` in mrkdwn), which Mattermost, Rocket.Chat and Discord's
    /slack endpoint accept as well."""
    lines = [f"{_SEVERITY_MARK[alert.severity]} *nba-props {alert.severity.value}*: {alert.summary}"]
    lines.append(f"`{alert.kind.value}` · `{alert.key}` · signature `{alert.signature}`")
    if alert.details:
        body = "\n".join(f"{k}: {json.dumps(v, default=str)}" for k, v in sorted(alert.details.items()))
        lines.append(f"```{body[:2500]}```")
    return {"text": "\n".join(lines)}


class SlackWebhookSink:
    """POSTs a Slack-compatible message; retries transport errors, 429 and 5xx with backoff.

    Each attempt has an overall deadline of `timeout_s`, from connecting to the last byte of the
    answer: httpx's timeout bounds each socket operation only, so a server dripping a byte at a time
    could hold an attempt indefinitely. The request runs in a worker thread that the caller waits
    for at most `timeout_s`; on expiry the attempt's own client is closed, which ends the request.
    The URL is a secret: it never appears in a log line or an exception.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._transport = transport  # tests pass httpx.MockTransport
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="alert-webhook")

    def send(self, alert: Alert) -> None:
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._backoff_s, max=self._backoff_s * 8),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            retrying(self._post, slack_payload(alert))
        except _RetryableStatus as exc:
            raise WebhookRejected(
                f"alert webhook still failing after {self._attempts} attempts: {exc}"
            ) from None
        except httpx.TransportError as exc:
            raise WebhookRejected(
                f"alert webhook unreachable after {self._attempts} attempts: {type(exc).__name__}"
            ) from None

    def _post(self, payload: dict[str, Any]) -> None:
        # One client per attempt (alerts are rare): closing it cannot cut another thread's attempt.
        client = httpx.Client(
            timeout=httpx.Timeout(self._timeout_s), transport=self._transport, follow_redirects=False
        )
        attempt = self._executor.submit(client.post, self._url, json=payload)  # reads the whole answer
        try:
            response = attempt.result(timeout=self._timeout_s)
        except FutureTimeout:
            attempt.cancel()
            raise httpx.ReadTimeout("the webhook attempt ran out of its time budget") from None
        finally:
            client.close()
        if response.status_code == 429 or response.status_code >= 500:
            raise _RetryableStatus(f"HTTP {response.status_code}")
        if response.status_code >= 300:
            raise WebhookRejected(
                f"alert webhook answered HTTP {response.status_code}: {response.text[:200]}"
            )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class AlertPublishFailed(Exception):
    """The Pub/Sub sink could not publish the alert."""


class PubSubAlertSink:
    """Publishes the alert as JSON (kind, severity, signature as attributes) through the publisher
    port, so the topic can fan out to e-mail, paging or a ticketing bridge."""

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    def send(self, alert: Alert) -> None:
        from shared.transport import OutgoingMessage

        data = json.dumps(alert.as_json(), default=str, sort_keys=True).encode()
        attributes = {
            "kind": alert.kind.value,
            "severity": alert.severity.value,
            "signature": alert.signature,
            "key": alert.key[:1000],
        }
        report = self._publisher.publish([OutgoingMessage(0, data, attributes)])
        if report.failed:
            raise AlertPublishFailed(f"alert not published: {next(iter(report.failed.values()))}")

    def close(self) -> None:
        self._publisher.close()


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AlertManager:
    """Raises alerts: durable dedup and rate limit, then the log and every sink. Never raises."""

    def __init__(
        self,
        sinks: Sequence[AlertSink] | None = None,
        store: AlertStore | None = None,
        clock: Clock = _utc_now,
    ) -> None:
        self._log_sink = StructuredLogSink()
        self._sinks = list(sinks or [])
        self._store = store
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, warehouse: Warehouse) -> AlertManager:
        """The manager a service uses (built once, by its composition root)."""
        sinks: list[AlertSink] = []
        if settings.alert_webhook_url is not None:
            sinks.append(
                SlackWebhookSink(
                    settings.alert_webhook_url.get_secret_value(),
                    timeout_s=settings.alert_webhook_timeout_s,
                    attempts=settings.alert_webhook_attempts,
                )
            )
        project = settings.resolved_pubsub_project
        if settings.alert_pubsub_topic and project:
            from shared.transport.pubsub import PubSubPublisher

            sinks.append(
                PubSubAlertSink(
                    PubSubPublisher(
                        project,
                        settings.alert_pubsub_topic,
                        max_messages=1,
                        max_latency_s=0.01,
                        publish_timeout_s=min(settings.publish_timeout_s, 30.0),
                    )
                )
            )
        store = WarehouseAlertStore(
            warehouse,
            dedup_window_s=settings.alert_dedup_window_s,
            rate_limit_per_hour=settings.alert_rate_limit_per_hour,
            timeout_s=min(settings.query_timeout_s, 30.0),
        )
        return cls(sinks, store)

    def raise_alert(self, alert: Alert) -> bool:
        """Send the alert; return True when it went out (not a duplicate, not rate limited)."""
        try:
            return self._raise(alert)
        except Exception:  # the last line of defence: alerting must never break the caller
            log.exception("Alert could not be raised", alert_kind=alert.kind.value, alert_key=alert.key)
            return False

    def raise_all(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Raise each alert; return the ones that went out."""
        return [alert for alert in alerts if self.raise_alert(alert)]

    def _raise(self, alert: Alert) -> bool:
        decision = Decision.CLAIMED
        if self._store is not None:
            try:
                decision = self._store.decide(alert, self._clock())
            except Exception as exc:
                log.warning(
                    "Alert deduplication unavailable; sending anyway",
                    alert_kind=alert.kind.value,
                    error=f"{type(exc).__name__}: {exc}"[:500],
                )
        if decision is Decision.DUPLICATE:
            log.info(
                "Alert suppressed",
                alert_kind=alert.kind.value,
                alert_key=alert.key,
                alert_signature=alert.signature,
                reason=decision.value,
            )
            return False
        self._log_sink.send(alert, delivery=decision.value)
        if decision is Decision.RATE_LIMITED:
            return False
        for sink in self._sinks:
            try:
                sink.send(alert)
            except Exception as exc:
                log.error(
                    "Alert sink failed",
                    sink=type(sink).__name__,
                    alert_kind=alert.kind.value,
                    alert_signature=alert.signature,
                    error=f"{type(exc).__name__}: {exc}"[:500],
                )
        return True

    def close(self) -> None:
        for sink in self._sinks:
            close = getattr(sink, "close", None)
            if callable(close):
                try:
                    close()
                except Exception as exc:
                    log.warning("Alert sink did not close cleanly", sink=type(sink).__name__, error=str(exc))
