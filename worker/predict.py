"""The worker's use case: one push message in, one prediction row out (or a recorded rejection)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import structlog

from shared.contracts import PredictionRequest, PushEnvelope, parse_push_body
from shared.errors import PoisonMessage
from shared.features import compute_features, frames_from_request, validate_feature_frame
from shared.model import ModelBundle, recommend
from shared.outcomes import Outcome, outcome_row
from shared.settings import Settings
from shared.warehouse import Warehouse

Clock = Callable[[], datetime]

log = structlog.get_logger(__name__)


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
            envelope, request = parse_push_body(body)
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

    def predict(self, request: PredictionRequest, envelope: PushEnvelope | None = None) -> dict[str, Any]:
        history, target = frames_from_request(request)
        features = compute_features(history, target)
        validate_feature_frame(features)
        predicted = self._bundle.predict(features)
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
        feature_values = {k: (None if _missing(v) else float(v)) for k, v in features.iloc[0].items()}
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
        }

    def _record_rejection(self, body: bytes, poison: PoisonMessage) -> None:
        attributes, message_id = _best_effort_attributes(body)
        player = attributes.get("player_id", "")
        game_date = attributes.get("game_date", "")
        self._warehouse.append(
            "player_outcomes",
            [
                outcome_row(
                    outcome=Outcome.FAILED,
                    reason=poison.reason,
                    detail=poison.detail,
                    recorded_at=self._clock(),
                    batch_id=attributes.get("batch_id") or None,
                    player_id=int(player) if player.isdigit() else None,
                    game_date=_parse_date(game_date),
                    message_id=message_id,
                )
            ],
        )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _parse_date(value: str) -> Any:
    from datetime import date

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
        clean = {str(k): str(v) for k, v in attrs.items()} if isinstance(attrs, dict) else {}
        message_id = (
            message.get("messageId") or message.get("message_id") if isinstance(message, dict) else None
        )
        return clean, str(message_id) if message_id else None
    except (ValueError, AttributeError, TypeError):
        return {}, None
