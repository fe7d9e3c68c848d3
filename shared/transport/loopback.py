"""Embedded transport with Pub/Sub push semantics, over real HTTP on loopback.

Like a Pub/Sub push subscription it POSTs a push envelope (base64 ``message.data``, ``attributes``,
``messageId``, ``deliveryAttempt``) to the worker; 102/200/201/202/204 acknowledge, anything else
(or no answer within ``request_timeout_s``) is retried with exponential backoff, and after
``max_attempts`` the message is handed to the dead-letter sink, which records it durably. ``close``
is bounded: what is still queued or in flight at its deadline is dead-lettered (``transport_closed``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import httpx
from tenacity import (
    RetryError,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    stop_when_event_set,
    wait_exponential,
)

from shared.contracts import PushEnvelope
from shared.logging import get_logger
from shared.transport import DeadLetter, DeadLetterSink, OutgoingMessage, PublishReport

if TYPE_CHECKING:
    from shared.settings import Settings

ACK_STATUSES = frozenset({102, 200, 201, 202, 204})
SUBSCRIPTION = "projects/embedded/subscriptions/nba-props-worker-push"

log = get_logger(__name__)


class LoopbackPushPublisher:
    """`Publisher` that delivers each message to a push endpoint from a pool of delivery threads."""

    def __init__(
        self,
        push_url: str,
        *,
        dead_letter: DeadLetterSink,
        max_attempts: int = 5,
        min_backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
        concurrency: int = 8,
        request_timeout_s: float = 60.0,
        close_timeout_s: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._push_url = push_url
        self._dead_letter = dead_letter
        self._max_attempts = max_attempts
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        self._close_timeout_s = close_timeout_s
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = client or httpx.Client(timeout=request_timeout_s, limits=limits)
        self._owns_client = client is None
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="loopback-push")
        # Every accepted message until its fate is recorded (acknowledged, or dead-lettered and the
        # sink returned): what drain() waits for and what close() dead-letters at its deadline.
        self._pending: dict[str, _Delivery] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._closed = False
        # Set when close()'s deadline passes: backoff sleeps end and no further attempt starts.
        self._abandoned = threading.Event()
        self.deliveries = 0
        self.dead_lettered = 0

    @classmethod
    def from_settings(cls, settings: Settings, dead_letter: DeadLetterSink) -> LoopbackPushPublisher:
        return cls(
            settings.worker_push_url,
            dead_letter=dead_letter,
            max_attempts=settings.max_delivery_attempts,
            min_backoff_s=settings.retry_min_backoff_s,
            max_backoff_s=settings.retry_max_backoff_s,
            concurrency=settings.push_concurrency,
            request_timeout_s=settings.push_request_timeout_s,
            close_timeout_s=settings.push_close_timeout_s,
        )

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishReport:
        """Never raises: after close() every message is reported failed (the coordinator records it)."""
        started = time.monotonic()
        report = PublishReport()
        for message in messages:
            message_id = uuid.uuid4().hex
            size = len(message.data)
            report.largest_bytes = max(report.largest_bytes, size)
            report.total_bytes += size
            # Like Pub/Sub, a message keeps its publishTime across redeliveries (the worker's age check).
            delivery = _Delivery(message, message_id, datetime.now(UTC))
            with self._lock:
                closed = self._closed
                if not closed:
                    self._pending[message_id] = delivery
            if closed:
                report.failed[message.key] = "transport closed: the service is shutting down"
                continue
            try:
                self._pool.submit(self._deliver, delivery)
            except RuntimeError:  # the pool shut down between the check above and here
                if self._claim(delivery):
                    self._finish(delivery)
                    report.failed[message.key] = "transport closed: the service is shutting down"
                    continue
            report.published[message.key] = message_id
        report.elapsed_s = time.monotonic() - started
        return report

    def _claim(self, delivery: _Delivery) -> bool:
        """Whoever claims a delivery first records its fate: a delivery thread or close()."""
        with self._lock:
            if delivery.claimed:
                return False
            delivery.claimed = True
            return True

    def _finish(self, delivery: _Delivery) -> None:
        with self._idle:
            self._pending.pop(delivery.message_id, None)
            if not self._pending:
                self._idle.notify_all()

    def _deliver(self, delivery: _Delivery) -> None:
        message = delivery.message

        def post() -> bool:
            if self._abandoned.is_set():  # woken from a backoff by close()'s deadline
                return False
            delivery.attempts += 1
            body = PushEnvelope.wrap(
                message.data,
                message.attributes,
                delivery.message_id,
                delivery.attempts,
                SUBSCRIPTION,
                published_at=delivery.published_at,
            )
            try:
                response = self._client.post(self._push_url, json=body)
            except httpx.HTTPError as exc:
                delivery.last_status, delivery.last_error = None, f"{type(exc).__name__}: {exc}"
                return False
            with self._lock:
                self.deliveries += 1
            if response.status_code in ACK_STATUSES:
                return True
            delivery.last_status, delivery.last_error = response.status_code, response.text[:500]
            return False

        if self._abandoned.is_set():
            return  # queued when close()'s deadline passed: close() records it
        retrying = Retrying(
            retry=retry_if_result(lambda acked: acked is False),
            stop=stop_after_attempt(self._max_attempts) | stop_when_event_set(self._abandoned),
            wait=wait_exponential(
                multiplier=self._min_backoff_s, min=self._min_backoff_s, max=self._max_backoff_s
            ),
            # Backoff ends early when close()'s deadline passes, instead of holding shutdown for minutes.
            sleep=self._sleep,
        )
        try:
            retrying(post)
            acked = True
        except RetryError:
            acked = False
        except Exception as exc:  # e.g. a body that cannot be encoded: never lose a message silently
            log.exception("Loopback delivery failed", message_id=delivery.message_id)
            delivery.last_error = f"{type(exc).__name__}: {exc}"
            acked = False
        if not self._claim(delivery):
            return  # close() already recorded it
        if not acked:
            self._send_to_dead_letter(delivery, "max_delivery_attempts")
        self._finish(delivery)

    def _sleep(self, seconds: float) -> None:
        self._abandoned.wait(seconds)

    def _send_to_dead_letter(self, delivery: _Delivery, reason: str) -> None:
        letter = DeadLetter(
            message_id=delivery.message_id,
            attributes=dict(delivery.message.attributes),
            attempts=delivery.attempts,
            last_status=delivery.last_status,
            last_error=delivery.last_error,
            reason=reason,
        )
        with self._lock:
            self.dead_lettered += 1
        log.warning(
            "Message dead-lettered",
            message_id=delivery.message_id,
            reason=reason,
            attempts=delivery.attempts,
            last_status=letter.last_status,
            **delivery.message.attributes,
        )
        try:
            self._dead_letter(letter)
        except Exception:
            # The sink is the durable record; if it fails too, the log line above is what is left.
            log.exception("Dead-letter sink failed", message_id=delivery.message_id)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def drain(self, timeout_s: float) -> bool:
        """Wait until every accepted message is acknowledged or dead-lettered."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self, timeout_s: float | None = None) -> None:
        """Stop accepting messages, let deliveries finish for at most `timeout_s` (default: the
        constructor's `close_timeout_s`), then dead-letter whatever is still queued or in flight."""
        budget = self._close_timeout_s if timeout_s is None else timeout_s
        with self._lock:
            already_closed, self._closed = self._closed, True
        if already_closed:
            return
        self.drain(budget)
        # Claim what is unfinished before waking the delivery threads, so none of them records a
        # message close() is about to record (or records it under the wrong reason).
        with self._lock:
            unfinished = [d for d in self._pending.values() if not d.claimed]
            for delivery in unfinished:
                delivery.claimed = True
        self._abandoned.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if unfinished:
            log.error(
                "Transport closed with deliveries unfinished; dead-lettering them",
                unfinished=len(unfinished),
                close_timeout_s=budget,
            )
        for delivery in unfinished:
            delivery.last_error = (
                f"transport closed after {budget:g} s with the delivery unfinished; "
                f"last: {delivery.last_error or 'no answer yet'}"
            )
            self._send_to_dead_letter(delivery, "transport_closed")
            self._finish(delivery)
        if self._owns_client:
            # Requests still waiting on a hung worker end at the request timeout at the latest (or when
            # the worker's server stops); their messages are already recorded.
            self._client.close()


@dataclass
class _Delivery:
    """One accepted message and what its attempts so far came to."""

    message: OutgoingMessage
    message_id: str
    published_at: datetime
    attempts: int = 0
    last_status: int | None = None
    last_error: str = ""
    claimed: bool = field(default=False)
