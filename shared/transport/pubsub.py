"""Cloud transport: the fan-out published to a Pub/Sub topic with google-cloud-pubsub.

``publish`` awaits every future under one deadline (``publish_timeout_s``), each message carrying a
``Retry`` whose budget ends inside it: the client's default retries UNAVAILABLE for 600 s. A message
still in flight at the deadline is reported failed, yet may arrive later (the worker treats a second
delivery as a no-op). A Publish RPC fails as a whole, so the report names every message batched
with a bad one. No ordering keys: they make the client's retry deadline infinite.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent import futures as cf
from typing import TYPE_CHECKING, Any

# Imported as a module path: with the typed google.cloud.bigquery in the same mypy run, mypy reports
# "Module google.cloud has no attribute pubsub_v1" for `from google.cloud import pubsub_v1`.
import google.cloud.pubsub_v1 as pubsub_v1
import structlog
from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry

from shared.errors import ConfigurationError
from shared.logging import get_logger
from shared.transport import OutgoingMessage, PublishReport

if TYPE_CHECKING:
    from shared.settings import Settings

PUBSUB_REQUEST_LIMIT_BYTES = 10_000_000
# Pub/Sub allows up to 100 attributes of <= 256 B keys and <= 1024 B values (~128 kB) on top of the
# data, plus the topic name and protobuf framing of the request; keep all of that out of the payload.
ATTRIBUTE_HEADROOM_BYTES = 256 * 1024
MAX_PAYLOAD_BYTES = PUBSUB_REQUEST_LIMIT_BYTES - ATTRIBUTE_HEADROOM_BYTES
DEFAULT_MAX_BATCH_BYTES = MAX_PAYLOAD_BYTES
MAX_MESSAGES_PER_REQUEST = 1000
TRACE_ATTRIBUTE = "trace"
# How long close() waits for messages that were still in flight when a publish() gave up on them.
CLOSE_GRACE_S = 5.0

# Keyword arguments of PublisherClient.publish: an attribute with one of these names would be taken
# for the argument instead of being sent.
_RESERVED_ATTRIBUTES = frozenset({"topic", "data", "ordering_key", "retry", "timeout"})
# The codes the client's own Publish retry treats as transient.
_RETRYABLE = api_retry.if_exception_type(
    api_exceptions.Aborted,
    api_exceptions.Cancelled,
    api_exceptions.DeadlineExceeded,
    api_exceptions.InternalServerError,
    api_exceptions.ResourceExhausted,
    api_exceptions.ServiceUnavailable,
    api_exceptions.Unknown,
)

log = get_logger(__name__)


class PubSubPublisher:
    """`Publisher` that sends each message to a Pub/Sub topic and reports every message's fate."""

    def __init__(
        self,
        project: str,
        topic: str,
        *,
        max_messages: int,
        max_latency_s: float,
        publish_timeout_s: float,
        max_bytes: int = DEFAULT_MAX_BATCH_BYTES,
        client: pubsub_v1.PublisherClient | None = None,
    ) -> None:
        """``topic`` is a short name or a full ``projects/P/topics/T`` path.

        ``client`` is an already-built ``PublisherClient`` (its own batch settings then apply, and
        closing it stays with its owner); by default one is built on first use, never at import.
        """
        if not project or not topic:
            raise ConfigurationError("PubSubPublisher needs a project and a topic")
        if not 1 <= max_messages <= MAX_MESSAGES_PER_REQUEST:
            raise ConfigurationError(
                f"max_messages must be 1..{MAX_MESSAGES_PER_REQUEST}, got {max_messages}"
            )
        if not 1 <= max_bytes <= MAX_PAYLOAD_BYTES:
            raise ConfigurationError(f"max_bytes must be 1..{MAX_PAYLOAD_BYTES}, got {max_bytes}")
        if max_latency_s <= 0 or publish_timeout_s <= 0:
            raise ConfigurationError("max_latency_s and publish_timeout_s must be positive")
        self.topic_path = topic if topic.startswith("projects/") else f"projects/{project}/topics/{topic}"
        self._batch_settings = pubsub_v1.types.BatchSettings(
            max_bytes=max_bytes, max_latency=max_latency_s, max_messages=max_messages
        )
        self._publish_timeout_s = publish_timeout_s
        # A batch is committed up to max_latency after its first message was queued; its retries get
        # what is left of the deadline so they give up before publish() stops waiting.
        self._retry_budget_s = publish_timeout_s - min(max_latency_s, publish_timeout_s / 2)
        self._retry = api_retry.Retry(
            initial=0.1,
            maximum=min(5.0, self._retry_budget_s),
            multiplier=2.0,
            predicate=_RETRYABLE,
            timeout=self._retry_budget_s,
        )
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()
        self._in_flight: set[cf.Future[str]] = set()
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> PubSubPublisher:
        project = settings.resolved_pubsub_project
        if not project:
            raise ConfigurationError("transport=pubsub needs NBA_PROPS_PUBSUB_PROJECT")
        return cls(
            project,
            settings.pubsub_topic,
            max_messages=settings.pubsub_max_messages,
            max_latency_s=settings.pubsub_max_latency_s,
            publish_timeout_s=settings.publish_timeout_s,
        )

    @property
    def publish_timeout_s(self) -> float:
        """The longest ``publish`` waits for the service, whatever it does."""
        return self._publish_timeout_s

    def _get_client(self) -> pubsub_v1.PublisherClient:
        with self._lock:
            if self._closed:
                raise RuntimeError("PubSubPublisher is closed")
            if self._client is None:
                # PUBSUB_EMULATOR_HOST is read here, when the client is built.
                self._client = pubsub_v1.PublisherClient(batch_settings=self._batch_settings)
            return self._client

    def verify_topic(self, timeout_s: float = 10.0) -> None:
        """Check that the topic exists and can be read (GetTopic); meant for startup and readiness.

        Raises ``ConfigurationError`` when the topic is missing, unreadable or badly named. A
        transport failure that outlasts ``timeout_s`` (UNAVAILABLE, deadline) propagates as the
        ``google.api_core`` exception: that is "not reachable now", not a configuration problem.
        """
        client = self._get_client()
        retry = api_retry.Retry(
            initial=0.1, maximum=1.0, multiplier=2.0, predicate=_RETRYABLE, timeout=timeout_s
        )
        try:
            client.get_topic(topic=self.topic_path, retry=retry, timeout=timeout_s)
        except api_exceptions.NotFound as exc:
            raise ConfigurationError(
                f"Pub/Sub topic {self.topic_path} does not exist: create it, or fix "
                "NBA_PROPS_PUBSUB_TOPIC / NBA_PROPS_PUBSUB_PROJECT"
            ) from exc
        except api_exceptions.PermissionDenied as exc:
            raise ConfigurationError(
                f"not allowed to read Pub/Sub topic {self.topic_path}: the service account needs "
                "pubsub.topics.get (roles/pubsub.viewer) besides roles/pubsub.publisher"
            ) from exc
        except api_exceptions.InvalidArgument as exc:
            raise ConfigurationError(f"invalid Pub/Sub topic name {self.topic_path}: {exc}") from exc

    def publish(
        self, messages: Sequence[OutgoingMessage], *, trace_context: str | None = None
    ) -> PublishReport:
        """Publish every message; per-message failures (and a missing topic) land in ``report.failed``.

        ``trace_context`` defaults to the ``trace`` key bound in structlog's contextvars; it is added
        as the ``trace`` attribute unless a message already carries one.
        """
        started = time.monotonic()
        deadline = started + self._publish_timeout_s
        report = PublishReport()
        trace = trace_context if trace_context is not None else _bound_trace()
        client: pubsub_v1.PublisherClient | None = None
        client_error = ""
        try:
            client = self._get_client()
        except Exception as exc:  # credentials or a closed publisher: every message fails alike
            client_error = _reason(exc)

        pending: dict[cf.Future[str], int] = {}
        for message in messages:
            size = len(message.data)
            report.largest_bytes = max(report.largest_bytes, size)
            report.total_bytes += size
            if size > MAX_PAYLOAD_BYTES:
                report.failed[message.key] = f"oversized: {size} bytes (limit {MAX_PAYLOAD_BYTES})"
                continue
            if client is None:
                report.failed[message.key] = client_error
                continue
            attributes = dict(message.attributes)
            if trace and TRACE_ATTRIBUTE not in attributes:
                attributes[TRACE_ATTRIBUTE] = trace
            clashing = _RESERVED_ATTRIBUTES.intersection(attributes)
            if clashing:
                report.failed[message.key] = f"ValueError: reserved attribute names {sorted(clashing)}"
                continue
            try:
                future = client.publish(
                    self.topic_path,
                    message.data,
                    retry=self._retry,
                    timeout=self._retry_budget_s,
                    **attributes,
                )
            except Exception as exc:  # MessageTooLargeError, a stopped client, a non-text attribute
                report.failed[message.key] = _reason(exc)
                continue
            pending[future] = message.key

        done, not_done = cf.wait(pending, timeout=max(deadline - time.monotonic(), 0.0))
        topic_missing = False
        for future in done:
            error = future.exception()
            if error is None:
                report.published[pending[future]] = future.result()
            elif isinstance(error, api_exceptions.NotFound):
                topic_missing = True
                report.failed[pending[future]] = f"NotFound: topic missing: {self.topic_path}"
            else:
                report.failed[pending[future]] = _reason(error)
        for future in not_done:
            report.failed[pending[future]] = f"timeout after {self._publish_timeout_s:g} s"
        self._remember_in_flight(not_done)
        report.elapsed_s = time.monotonic() - started
        self._log_summary(report, topic_missing)
        return report

    def _remember_in_flight(self, futures: set[cf.Future[str]]) -> None:
        with self._lock:
            self._in_flight.update(futures)
        # Outside the lock: a future that finished meanwhile runs its callback right here.
        for future in futures:
            future.add_done_callback(self._forget)

    def _forget(self, future: cf.Future[str]) -> None:
        with self._lock:
            self._in_flight.discard(future)

    def _log_summary(self, report: PublishReport, topic_missing: bool) -> None:
        fields: dict[str, Any] = {
            "topic": self.topic_path,
            "published": len(report.published),
            "failed": len(report.failed),
            "largest_payload_bytes": report.largest_bytes,
            "total_bytes": report.total_bytes,
            "elapsed_s": round(report.elapsed_s, 3),
        }
        if report.failed:
            top = Counter(report.failed.values()).most_common(3)
            fields["failure_reasons"] = {reason[:200]: count for reason, count in top}
        if topic_missing:
            log.error("Pub/Sub topic missing; messages were not published", **fields)
        elif report.failed:
            log.warning("Published to Pub/Sub with failures", **fields)
        else:
            log.info("Published to Pub/Sub", **fields)

    def close(self) -> None:
        """Flush queued batches, wait briefly for messages still in flight, release the channel."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            client, in_flight = self._client, set(self._in_flight)
        if client is None or not self._owns_client:
            return
        with contextlib.suppress(RuntimeError):  # already stopped
            client.stop()
        if in_flight:
            cf.wait(in_flight, timeout=min(self._retry_budget_s, CLOSE_GRACE_S))
        client.transport.close()


def _bound_trace() -> str | None:
    value = structlog.contextvars.get_contextvars().get(TRACE_ATTRIBUTE)
    return str(value) if value else None


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
