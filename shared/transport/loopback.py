"""Embedded transport with Pub/Sub push semantics, over real HTTP on loopback.

Like a Pub/Sub push subscription it POSTs a push envelope (base64 ``message.data``, ``attributes``,
``messageId``, ``deliveryAttempt``) to the worker; 102/200/201/202/204 acknowledge, anything else
(or no answer) is retried with exponential backoff, and after ``max_attempts`` the message is handed
to the dead-letter sink, which records it durably.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from tenacity import RetryError, Retrying, retry_if_result, stop_after_attempt, wait_exponential

from shared.contracts import PushEnvelope
from shared.logging import get_logger
from shared.transport import DeadLetter, DeadLetterSink, OutgoingMessage, PublishReport

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
        client: httpx.Client | None = None,
    ) -> None:
        self._push_url = push_url
        self._dead_letter = dead_letter
        self._max_attempts = max_attempts
        self._min_backoff_s = min_backoff_s
        self._max_backoff_s = max_backoff_s
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._client = client or httpx.Client(timeout=request_timeout_s, limits=limits)
        self._owns_client = client is None
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="loopback-push")
        self._inflight: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self.deliveries = 0
        self.dead_lettered = 0

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishReport:
        started = time.monotonic()
        report = PublishReport()
        for message in messages:
            message_id = uuid.uuid4().hex
            size = len(message.data)
            report.largest_bytes = max(report.largest_bytes, size)
            report.total_bytes += size
            # Like Pub/Sub, a message keeps its publishTime across redeliveries (the worker's age check).
            future = self._pool.submit(self._deliver, message, message_id, datetime.now(UTC))
            with self._lock:
                self._inflight.add(future)
            future.add_done_callback(self._forget)
            report.published[message.key] = message_id
        report.elapsed_s = time.monotonic() - started
        return report

    def _forget(self, future: Future[None]) -> None:
        with self._idle:
            self._inflight.discard(future)
            if not self._inflight:
                self._idle.notify_all()

    def _deliver(self, message: OutgoingMessage, message_id: str, published_at: datetime) -> None:
        attempt = 0
        last: dict[str, object] = {"status": None, "error": ""}

        def post() -> bool:
            nonlocal attempt
            attempt += 1
            body = PushEnvelope.wrap(
                message.data, message.attributes, message_id, attempt, SUBSCRIPTION, published_at=published_at
            )
            try:
                response = self._client.post(self._push_url, json=body)
            except httpx.HTTPError as exc:
                last.update(status=None, error=f"{type(exc).__name__}: {exc}")
                return False
            with self._lock:
                self.deliveries += 1
            if response.status_code in ACK_STATUSES:
                return True
            last.update(status=response.status_code, error=response.text[:500])
            return False

        retrying = Retrying(
            retry=retry_if_result(lambda acked: acked is False),
            stop=stop_after_attempt(self._max_attempts),
            wait=wait_exponential(
                multiplier=self._min_backoff_s, min=self._min_backoff_s, max=self._max_backoff_s
            ),
        )
        try:
            retrying(post)
            return
        except RetryError:
            pass
        letter = DeadLetter(
            message_id=message_id,
            attributes=dict(message.attributes),
            attempts=attempt,
            last_status=last["status"] if isinstance(last["status"], int) else None,
            last_error=str(last["error"]),
        )
        with self._lock:
            self.dead_lettered += 1
        log.warning(
            "Message dead-lettered",
            message_id=message_id,
            attempts=attempt,
            last_status=letter.last_status,
            **message.attributes,
        )
        try:
            self._dead_letter(letter)
        except Exception:
            # The sink is the durable record; if it fails too, the log line above is what is left.
            log.exception("Dead-letter sink failed", message_id=message_id)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._inflight)

    def drain(self, timeout_s: float) -> bool:
        """Wait until every accepted message is acknowledged or dead-lettered."""
        deadline = time.monotonic() + timeout_s
        with self._idle:
            while self._inflight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
        if self._owns_client:
            self._client.close()
