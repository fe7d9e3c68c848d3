"""The worker's use case: one push message in, one prediction row out (or a recorded rejection)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import structlog

from shared.contracts import (
    MESSAGE_ID_MAX_CHARS,
    PredictionRequest,
    PushEnvelope,
    parse_envelope,
    publish_time,
    request_from_envelope,
)
from shared.errors import PoisonMessage
from shared.features.sets import request_features
from shared.model.bundle import ModelBundle
from shared.model.recommend import recommend
from shared.outcomes import Outcome, delivery_key, outcome_row, player_id_or_none, utf8_safe
from shared.settings import Settings
from shared.warehouse import Warehouse

Clock = Callable[[], datetime]

log = structlog.get_logger(__name__)

# How far Pub/Sub's clock may run ahead of this instance's: both are NTP-synced, to well under this.
CLOCK_SKEW_S = 300.0


@dataclass(frozen=True)
class Handled:
    """What happened to one delivery; the route turns it into an HTTP status."""

    outcome: str  # "predicted" | "rejected"
    prediction_id: str | None = None
    reason: str | None = None
    detail: str | None = None


class PredictionHandler:
    """Stateless apart from the loaded model: safe to run many at once."""

    def __init__(
        self, bundle: ModelBundle, warehouse: Warehouse, settings: Settings, clock: Clock | None = None
    ) -> None:
        self._bundle = bundle
        self._warehouse = warehouse
        self._settings = settings
        self._clock = clock or (lambda: datetime.now(UTC))

    def handle(self, body: bytes) -> Handled:
        """Permanent problems are recorded and acknowledged; transient ones raise (→ 5xx → retry)."""
        try:
            envelope = parse_envelope(body)
            self._check_age(envelope)
            request = request_from_envelope(envelope)
            with structlog.contextvars.bound_contextvars(
                batch_id=request.batch_id, player_id=request.player_id
            ):
                row = self.predict(request, envelope)
                self._warehouse.append("predictions_raw", [row])
                log.debug("Prediction written", recommendation=row["recommendation"])
        except PoisonMessage as poison:
            self._record_rejection(body, poison)
            return Handled("rejected", reason=poison.reason, detail=poison.detail)
        return Handled("predicted", prediction_id=row["prediction_id"])

    def _check_age(self, envelope: PushEnvelope) -> None:
        """A message older than the limit is acknowledged and recorded, not retried forever; one
        published in the future did not come from Pub/Sub."""
        published = publish_time(envelope)
        if published is None:  # parse_envelope refuses an envelope without a readable publishTime
            raise PoisonMessage("invalid_envelope", "message.publishTime is missing or unreadable")
        age = (self._clock() - published).total_seconds()
        if age < -CLOCK_SKEW_S:
            raise PoisonMessage(
                "invalid_envelope",
                f"publishTime {published.isoformat()} is {-age:.0f} s in the future "
                f"(more than the {CLOCK_SKEW_S:g} s clocks may disagree)",
            )
        if age > self._settings.max_message_age_s:
            raise PoisonMessage(
                "message_expired",
                f"published {published.isoformat()}, {age:.0f} s ago; the limit is "
                f"{self._settings.max_message_age_s:g} s (NBA_PROPS_MAX_MESSAGE_AGE_S)",
            )

    def predict(self, request: PredictionRequest, envelope: PushEnvelope | None = None) -> dict[str, Any]:
        try:
            # The bundle's manifest says which feature set: V8, V8 + long-memory history (from the
            # payload's history) or V8 + the coordinator's context.
            features = request_features(request, self._bundle.feature_set)
            predicted = self._bundle.predict(features)
        except PoisonMessage:
            raise
        except (ValueError, TypeError, ArithmeticError, IndexError, KeyError) as exc:
            # Features are a pure function of the payload: the same payload fails the same way again.
            raise PoisonMessage("invalid_features", f"{type(exc).__name__}: {exc}"[:500]) from exc
        line = request.line.line if request.line is not None else math.nan
        lines = np.array([line], dtype=float)
        prob_over = self._bundle.prob_over(predicted, lines)
        rec = recommend(
            predicted,
            lines,
            prob_over,
            prob_under=self._bundle.prob_under(predicted, lines),
            edge_threshold=self._settings.edge_threshold,
            floor=self._settings.prediction_floor,
            ceiling=self._settings.prediction_ceiling,
        )[0]
        # Validated float64: NaN (unknown) is the only value JSON cannot hold.
        feature_values = {str(k): None if math.isnan(v) else float(v) for k, v in features.iloc[0].items()}
        return {
            "prediction_id": request.prediction_id(),
            "batch_id": request.batch_id,
            "game_date": request.game.game_date,
            "game_id": request.game.game_id,
            "player_id": request.player_id,
            "player_name": request.player_name,
            "team_abbr": request.game.team_abbr,
            "opponent_abbr": request.game.opponent_abbr,
            "line": request.line.line if request.line else None,
            "bookmaker": request.line.bookmaker if request.line else None,
            "predicted_points": rec.predicted_points,
            "edge": rec.edge,
            "recommendation": rec.recommendation,
            "confidence": rec.confidence,
            "prob_over": None if request.line is None else float(prob_over[0]),
            "model_version": self._bundle.manifest.model_version,
            "feature_set_hash": self._bundle.manifest.feature_set_hash,
            "features_json": json.dumps(feature_values, separators=(",", ":")),
            "context_json": json.dumps(request.context, separators=(",", ":")) if request.context else None,
            "message_id": envelope.message.message_id if envelope else None,
            "delivery_attempt": envelope.delivery_attempt if envelope else None,
            "written_at": self._clock(),
            # The prices of the line predicted against: grading computes ROI at them.
            "over_price": request.line.over_price if request.line else None,
            "under_price": request.line.under_price if request.line else None,
        }

    def _record_rejection(self, body: bytes, poison: PoisonMessage) -> None:
        attributes, message_id = _best_effort_attributes(body)
        self._warehouse.append(
            "player_outcomes",
            [
                outcome_row(
                    outcome=Outcome.FAILED,
                    reason=poison.reason,
                    detail=poison.detail,
                    recorded_at=self._clock(),
                    batch_id=attributes.get("batch_id") or None,
                    player_id=player_id_or_none(attributes.get("player_id")),
                    game_date=_parse_date(attributes.get("game_date", "")),
                    message_id=message_id[:MESSAGE_ID_MAX_CHARS] if message_id else None,
                    # One record per delivery: each bad message keeps its own reason, a redelivery none.
                    delivery=delivery_key(message_id, body),
                )
            ],
        )


def _parse_date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _best_effort_attributes(body: bytes) -> tuple[dict[str, str], str | None]:
    """Whatever identifies a rejected message, without trusting any of it."""
    try:
        raw = json.loads(body)
        message = raw.get("message", {}) if isinstance(raw, dict) else {}
        attrs = message.get("attributes", {}) if isinstance(message, dict) else {}
        # Bounded: these land in a durable row, and nothing about a rejected message is trusted.
        pairs = list(attrs.items())[:16] if isinstance(attrs, dict) else []
        # Lone surrogates (valid JSON, not UTF-8) are escaped so the row can be written at all.
        clean = {utf8_safe(str(k)[:64]): utf8_safe(str(v)[:128]) for k, v in pairs}
        message_id = (
            message.get("messageId") or message.get("message_id") if isinstance(message, dict) else None
        )
        # Whole, to tell deliveries apart (the caller clips what it stores).
        return clean, utf8_safe(str(message_id)) if message_id else None
    except (ValueError, AttributeError, TypeError, RecursionError):
        return {}, None
