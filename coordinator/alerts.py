"""Alerts: one manager for every caller (a test keeps it the only one in the tree).

An `Alert` is typed (kind, severity) and says what it is about (`key`: a batch id, a game date);
kind and key make its signature. `AlertManager.raise_alert` is the one entry point:

1. **Deduplication and rate limiting, durable in the warehouse.** `WarehouseAlertStore` appends
   every raise to `alert_log` and reads it back: a signature already claimed within
   `NBA_PROPS_ALERT_DEDUP_WINDOW_S` is a duplicate; beyond `NBA_PROPS_ALERT_RATE_LIMIT_PER_HOUR`
   claims in the last hour an alert is rate limited (logged, not pushed anywhere). The table is
   append-only (no DML, so BigQuery's DML limits never apply) and deduplicated on the read side: of
   the claims of one signature, the earliest is the one sent, so instances racing on the same alert
   send it once. Residual race: an instance that reads before a competitor's earlier-stamped claim
   is visible may still send (clock skew plus write latency, milliseconds); at worst a second copy.
2. **Sinks.** The structured log always (one `Alert` event at the alert's severity; Cloud Logging
   alert policies can match it), then the configured ones: a Slack-compatible webhook (httpx,
   bounded retries with tenacity, an overall deadline per attempt) and a Pub/Sub topic.
3. **Never breaks the caller.** A failing store means "send anyway" (an alert about the warehouse
   must still go out); a failing sink is logged and the next sink is tried; `raise_alert` returns
   whether the alert went out and never raises.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

import httpcore
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
        recent = self._warehouse.query(
            "alert_recent",
            {
                "signature": alert.signature,
                "dedup_since": dedup_since,
                "rate_since": now - timedelta(hours=1),
            },
            timeout_s=self._timeout_s,
        )
        counts = recent.fillna(0).astype(int).to_dict("records")
        same = counts[0]["same_signature"] if counts else 0
        claimed = counts[0]["claimed_recently"] if counts else 0
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
        first = self._warehouse.query(
            "alert_first_claim",
            {"signature": alert.signature, "dedup_since": dedup_since},
            timeout_s=self._timeout_s,
        )
        if not first.empty and str(first.at[0, "alert_id"]) != alert_id:
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


class _AttemptDeadline:
    """When the current webhook attempt must be over, per thread (one sink serves every request
    thread of a service). httpx's timeout bounds each socket operation, so a server dripping a byte
    at a time would keep an attempt alive indefinitely; here every operation of the attempt (connect,
    TLS handshake, each send and each read) gets at most what is left of the attempt's budget, and
    none starts once it is spent."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._local = threading.local()

    @contextmanager
    def budget(self, seconds: float) -> Iterator[None]:
        self._local.ends_at = self._clock() + seconds
        try:
            yield
        finally:
            self._local.ends_at = None

    def clamp(self, timeout: float | None, expired: type[httpcore.TimeoutException]) -> float | None:
        ends_at: float | None = getattr(self._local, "ends_at", None)
        if ends_at is None:
            return timeout
        left = ends_at - self._clock()
        if left <= 0:
            raise expired("the webhook attempt ran out of its time budget")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: _AttemptDeadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # An alert is a few KB: one send, so the clamp at its start bounds it.
        self._inner.write(buffer, self._deadline.clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        budget = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, budget), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, deadline: _AttemptDeadline) -> None:
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        budget = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, budget, local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        budget = self._deadline.clamp(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, budget, socket_options), self._deadline)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport over a network backend that enforces the attempt's deadline."""

    def __init__(self, deadline: _AttemptDeadline) -> None:
        super().__init__()
        # httpx does not pass a network backend through to httpcore, so the pool it built is
        # replaced by the same pool with one (TLS verified, HTTP/1.1, httpx's default limits).
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_DeadlineBackend(deadline),
        )


class SlackWebhookSink:
    """POSTs a Slack-compatible message; retries transport errors, 429 and 5xx with backoff.

    Each attempt has an overall deadline of `timeout_s`, from connecting to the last byte of the
    answer, so the worst case a caller waits is `attempts` x `timeout_s` plus the backoff (3 x 5 s +
    1.5 s by default), however slowly the server answers (resolving the host name is left to the
    system resolver's own timeout). The URL is a secret: it never appears in a log line or an
    exception.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 5.0,
        attempts: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._timeout_s = timeout_s
        self._attempts = attempts
        self._backoff_s = backoff_s
        self._deadline = _AttemptDeadline(clock)
        self._client = httpx.Client(
            timeout=timeout_s,
            transport=transport or _DeadlineTransport(self._deadline),
            follow_redirects=False,
        )

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
        with self._deadline.budget(self._timeout_s):
            response = self._client.post(self._url, json=payload)  # reads the whole answer
        if response.status_code == 429 or response.status_code >= 500:
            raise _RetryableStatus(f"HTTP {response.status_code}")
        if response.status_code >= 300:
            raise WebhookRejected(
                f"alert webhook answered HTTP {response.status_code}: {response.text[:200]}"
            )

    def close(self) -> None:
        self._client.close()


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
