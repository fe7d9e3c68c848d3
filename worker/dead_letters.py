"""The cloud's dead-letter sink: Pub/Sub pushes every dead-lettered prediction request here and the
worker records it in `player_outcomes` as `dead_lettered`, as the loopback transport does in-process
in embedded mode, so the player counts as failed in `/status` and trips the `dead_letters` alert.

The payload is never decoded: a message that could not be predicted five times is recorded for what
its attributes (`batch_id`, `player_id`, `game_date`, and Pub/Sub's source delivery count and
subscription) say it is about, however broken its payload.
"""

from __future__ import annotations

from datetime import datetime

from shared.contracts import parse_envelope
from shared.outcomes import record_dead_letter
from shared.transport import DeadLetter
from shared.warehouse import Warehouse

DEAD_LETTER_PATH = "/pubsub/dead-letter"
SOURCE_DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"
SOURCE_SUBSCRIPTION = "CloudPubSubDeadLetterSourceSubscription"


def record_pushed_dead_letter(warehouse: Warehouse, body: bytes, now: datetime) -> DeadLetter:
    """Record one pushed dead letter; PoisonMessage when the body is not a push envelope at all.

    Idempotent: a redelivered dead letter (same message id) leaves one row.
    """
    envelope = parse_envelope(body)
    attributes = dict(envelope.message.attributes)
    count = attributes.get(SOURCE_DELIVERY_COUNT, "")
    source = attributes.get(SOURCE_SUBSCRIPTION) or "the push subscription"
    letter = DeadLetter(
        message_id=envelope.message.message_id or "",
        attributes=attributes,
        attempts=int(count) if count.isascii() and count.isdigit() and len(count) <= 9 else 0,
        last_status=None,
        last_error=f"dead-lettered by Pub/Sub from {source}",
    )
    record_dead_letter(warehouse, letter, now)
    return letter
