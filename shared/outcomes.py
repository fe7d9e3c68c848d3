"""Rows for `player_outcomes`: every slate player that ends without a prediction says why."""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from enum import StrEnum
from typing import Any

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
    delivery_hash: str | None = None,
) -> dict[str, Any]:
    """One outcome row; `delivery_hash` (of the body) tells apart rejected deliveries that carry no
    message id and name no batch and player."""
    # Text from a rejected message is untrusted: it may hold lone surrogates no UTF-8 column can store.
    batch_id, message_id = _utf8_or_none(batch_id), _utf8_or_none(message_id)
    reason, detail = utf8_safe(reason), utf8_safe(detail)
    # Keyed so that recording the same fact twice (a redelivered poison message) keeps one row.
    if batch_id and player_id:
        key = f"{batch_id}|{player_id}|{outcome.value}"
    elif message_id:
        key = f"msg|{message_id}|{reason}"
    else:
        key = f"body|{delivery_hash}|{batch_id}|{reason}"
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


def utf8_safe(text: str) -> str:
    """`text` with anything UTF-8 cannot encode (lone surrogates) written as a backslash escape."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _utf8_or_none(text: str | None) -> str | None:
    return utf8_safe(text) if text is not None else None


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


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
                player_id=_int_or_none(attrs.get("player_id")),
                game_date=_date_or_none(attrs.get("game_date")),
                message_id=letter.message_id,
            )
        ],
    )
