"""Rows for `player_outcomes`: every slate player that ends without a prediction says why."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from shared.contracts import INT64_MAX, MESSAGE_ID_MAX_CHARS
from shared.transport import DeadLetter
from shared.warehouse import Warehouse


class Outcome(StrEnum):
    SKIPPED = "skipped"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    PUBLISH_FAILED = "publish_failed"
    # Finalizing a stalled batch records every player still without a result.
    MISSING = "missing"
    # A resume re-sent this player's lost message: it is in flight again, not failed.
    RESENT = "resent"


def outcome_row(
    *,
    outcome: Outcome,
    reason: str,
    recorded_at: datetime,
    batch_id: str | None,
    player_id: int | None,
    game_date: date | None,
    detail: str = "",
    message_id: str | None = None,
    delivery: str | None = None,
) -> dict[str, Any]:
    """One outcome row, keyed so that recording the same fact twice keeps one row: a rejected or
    dead-lettered `delivery` (see `delivery_key`) is one fact each, whatever player it names; what the
    coordinator records about a player (skipped, not published, missing, re-sent) is one per outcome."""
    # Text from a rejected message is untrusted: it may hold lone surrogates no UTF-8 column can store.
    batch_id, message_id = _utf8_or_none(batch_id), _utf8_or_none(message_id)
    reason, detail = utf8_safe(reason), utf8_safe(detail)
    if delivery is not None:
        key = f"delivery|{outcome.value}|{delivery}"
    else:
        key = f"{batch_id}|{player_id}|{outcome.value}"
    return {
        "outcome_id": hashlib.sha256(key.encode()).hexdigest()[:32],
        "batch_id": batch_id,
        "game_date": game_date,
        "player_id": player_id,
        "outcome": outcome.value,
        "reason": reason,
        "detail": detail[:2000],
        "message_id": message_id,
        "recorded_at": recorded_at,
    }


def delivery_key(message_id: str | None, body: bytes) -> str:
    """What tells one delivery from another: Pub/Sub's message id (the same on every redelivery),
    else a hash of the body."""
    if message_id:
        return "msg|" + hashlib.sha256(message_id.encode("utf-8", "backslashreplace")).hexdigest()
    return "body|" + hashlib.sha256(body).hexdigest()


def utf8_safe(text: str) -> str:
    """`text` with anything UTF-8 cannot encode (lone surrogates) written as a backslash escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _utf8_or_none(text: str | None) -> str | None:
    return utf8_safe(text) if text is not None else None


def player_id_or_none(value: str | None) -> int | None:
    """An attribute's player id if it is one a 64-bit column can hold, else None."""
    # Bounded before int(): a 64-bit id has at most 19 digits, and int() of a huge string is slow.
    if value is None or not (value.isascii() and value.isdigit() and len(value) <= 19):
        return None
    player = int(value)
    return player if 0 < player <= INT64_MAX else None


def _date_or_none(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def record_dead_letter(warehouse: Warehouse, letter: DeadLetter, now: datetime) -> None:
    """The dead-letter sink: what Pub/Sub's dead-letter topic subscription does in the cloud."""
    attrs = letter.attributes
    warehouse.append(
        "player_outcomes",
        [
            outcome_row(
                outcome=Outcome.DEAD_LETTERED,
                reason=letter.reason,
                detail=f"{letter.attempts} attempts; last status {letter.last_status}: {letter.last_error}",
                recorded_at=now,
                batch_id=attrs.get("batch_id"),
                player_id=player_id_or_none(attrs.get("player_id")),
                game_date=_date_or_none(attrs.get("game_date")),
                message_id=letter.message_id[:MESSAGE_ID_MAX_CHARS],
                # Without a message id, what it is about is all that tells one dead letter from another.
                delivery=delivery_key(letter.message_id, json.dumps(attrs, sort_keys=True).encode()),
            )
        ],
    )
