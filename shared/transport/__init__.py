"""The publisher port: hand a batch of messages to the transport and learn exactly who was sent.

Adapters: `LoopbackPushPublisher` (embedded: Pub/Sub push semantics over loopback HTTP) and
`PubSubPublisher` (cloud: google-cloud-pubsub).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class OutgoingMessage:
    """One message of a fan-out; `key` identifies the player it is for."""

    key: int
    data: bytes
    attributes: dict[str, str]


@dataclass
class PublishReport:
    """Who was sent (with message ids) and who was not (with the reason)."""

    published: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    largest_bytes: int = 0
    total_bytes: int = 0
    elapsed_s: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class DeadLetter:
    """A message that exhausted its delivery attempts (or whose transport closed before it was delivered)."""

    message_id: str
    attributes: dict[str, str]
    attempts: int
    last_status: int | None
    last_error: str
    reason: str = "max_delivery_attempts"  # or "transport_closed"


DeadLetterSink = Callable[[DeadLetter], None]


@runtime_checkable
class Publisher(Protocol):
    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishReport:
        """Publish every message; never raise for a single message's failure — report it."""
        ...

    def close(self) -> None:
        """Release the transport within a bounded time; publish() afterwards reports failures."""
        ...
