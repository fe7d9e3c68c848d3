"""Message contracts between the coordinator and the worker.

A `PredictionRequest` carries everything the worker needs — game context, the player's history and
the chosen betting line — so the worker never queries the warehouse on the hot path. Bump
`SCHEMA_VERSION` on any incompatible change; the worker acknowledges and records a message whose
version it does not speak instead of retrying it forever.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from datetime import date, datetime
from typing import Annotated, Any, Final, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from shared.errors import PoisonMessage
from shared.lines import AmericanOdds, LinePoints

SCHEMA_VERSION: Final = 1

INJURY_STATUSES = ("AVAILABLE", "PROBABLE", "QUESTIONABLE", "DOUBTFUL", "OUT")


INT64_MAX: Final = 2**63 - 1
# Every id and integer lands in a 64-bit column; a wider one cannot be stored.
Int64 = Annotated[int, Field(ge=-INT64_MAX, le=INT64_MAX)]
# A box-score count or total (JSON admits negative numbers, a game does not).
Count = Annotated[float, Field(ge=0)]
# NaN and infinity fail a line's bounds: a line out of bounds, not an impossible number.
Line = Annotated[LinePoints, Field(allow_inf_nan=True)]
Price = Annotated[AmericanOdds, Field(ge=-INT64_MAX, le=INT64_MAX)]


class _Strict(BaseModel):
    # JSON admits NaN and Infinity; no feature, line or stored value may hold them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TeamContext(_Strict):
    """Season-to-date team and opponent aggregates before the game (None where the season has no
    games yet): the game inputs of the V8 features, each a column of the slate and training queries."""

    team_pace: float | None = None
    team_off_rating: float | None = None
    team_win_pct: float | None = None
    team_rest_days: Int64 | None = None
    opponent_def_rating: float | None = None
    opponent_pace: float | None = None
    opponent_rest_days: Int64 | None = None
    opponent_paint_share_allowed: float | None = None
    opponent_mid_share_allowed: float | None = None
    opponent_three_share_allowed: float | None = None


class GameContext(TeamContext):
    """The game being predicted, seen from the player's team, as of before tip-off."""

    game_id: str
    game_date: date
    tipoff_utc: datetime | None = None
    season: str
    phase: Literal["regular", "playoffs", "preseason"] = "regular"
    team_id: Int64
    team_abbr: str
    opponent_team_id: Int64
    opponent_abbr: str
    is_home: bool


class HistoryTable(_Strict):
    """The player's games before the game date, column by column (compact, fast to parse)."""

    game_date: list[date] = Field(default_factory=list)
    season: list[str] = Field(default_factory=list)
    opponent_team_id: list[Int64] = Field(default_factory=list)
    is_home: list[bool] = Field(default_factory=list)
    minutes: list[Count] = Field(default_factory=list)
    points: list[Count] = Field(default_factory=list)
    fga: list[Count | None] = Field(default_factory=list)
    fg3m: list[Count | None] = Field(default_factory=list)
    fg3a: list[Count | None] = Field(default_factory=list)
    ftm: list[Count | None] = Field(default_factory=list)
    fta: list[Count | None] = Field(default_factory=list)
    tov: list[Count | None] = Field(default_factory=list)
    points_paint: list[float | None] = Field(default_factory=list)
    points_mid_range: list[float | None] = Field(default_factory=list)

    @model_validator(mode="after")
    def _same_length(self) -> Self:
        lengths = {name: len(getattr(self, name)) for name in type(self).model_fields}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"history columns differ in length: {lengths}")
        return self

    def __len__(self) -> int:
        return len(self.game_date)


class LineQuote(_Strict):
    """A real bookmaker line: the latest snapshot before tip-off and that book's opening line."""

    bookmaker: str
    line: Line
    over_price: Price | None = None
    under_price: Price | None = None
    snapshot_at: datetime
    opening_line: Line | None = None


class PredictionRequest(_Strict):
    """One player's pre-loaded payload: the unit of fan-out."""

    schema_version: Literal[1] = SCHEMA_VERSION
    batch_id: str = Field(min_length=1, max_length=64)
    player_id: int = Field(gt=0, le=INT64_MAX)
    player_name: str = Field(min_length=1, max_length=128)
    game: GameContext
    injury_status: Literal["AVAILABLE", "PROBABLE", "QUESTIONABLE", "DOUBTFUL"] | None = None
    history: HistoryTable
    line: LineQuote | None = None
    # Context features beyond V8 (travel, schedule, age), stored with the prediction.
    context: dict[str, float | None] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _history_is_before_the_game(self) -> Self:
        late = [d for d in self.history.game_date if d >= self.game.game_date]
        if late:
            raise ValueError(f"history contains games on or after the game date: {sorted(late)[:3]}")
        return self

    def prediction_id(self) -> str:
        """Deterministic: the same message always maps to the same row."""
        return prediction_id(self.batch_id, self.game.game_id, self.player_id)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def attributes(self) -> dict[str, str]:
        return {
            "batch_id": self.batch_id,
            "player_id": str(self.player_id),
            "game_date": self.game.game_date.isoformat(),
            "schema_version": str(self.schema_version),
        }


def prediction_id(batch_id: str, game_id: str, player_id: int) -> str:
    return hashlib.sha256(f"{batch_id}|{game_id}|{player_id}".encode()).hexdigest()[:32]


class PushMessage(BaseModel):
    """`message` of a Pub/Sub push request (both camelCase and snake_case ids, as Pub/Sub sends)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    data: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    message_id: str | None = Field(default=None, alias="messageId")
    publish_time: str | None = Field(default=None, alias="publishTime")


class PushEnvelope(BaseModel):
    """The body Pub/Sub POSTs to a push endpoint."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    message: PushMessage
    subscription: str | None = None
    delivery_attempt: int | None = Field(default=None, alias="deliveryAttempt")

    @classmethod
    def wrap(
        cls,
        data: bytes,
        attributes: dict[str, str],
        message_id: str,
        attempt: int,
        subscription: str,
        published_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Build a push body exactly as Pub/Sub would (used by the loopback transport and tests).

        Pub/Sub keeps a message's publishTime across redeliveries; pass ``published_at`` to do the same.
        """
        published = published_at or datetime.now().astimezone()
        return {
            "message": {
                "data": base64.b64encode(data).decode(),
                "attributes": attributes,
                "messageId": message_id,
                "message_id": message_id,
                "publishTime": published.isoformat(),
            },
            "subscription": subscription,
            "deliveryAttempt": attempt,
        }


# The payload fields that say who the message is about. A payload that fails validation on these alone,
# or whose player disagrees with the message's attributes, is an "unknown player": the worker cannot
# check a player against the slate without a warehouse read, which its hot path never makes.
PLAYER_FIELDS = frozenset({"player_id", "player_name"})


def parse_envelope(body: bytes) -> PushEnvelope:
    """The push envelope alone (its publish time decides whether the payload is still worth reading)."""
    raw = _json(body, "invalid_envelope_json")
    if not isinstance(raw, dict):
        raise PoisonMessage("invalid_envelope", "push body is not a JSON object")
    try:
        envelope = PushEnvelope.model_validate(raw)
    except ValidationError as exc:
        raise PoisonMessage("invalid_envelope", _short(exc)) from exc
    if envelope.message.publish_time is not None and publish_time(envelope) is None:
        raise PoisonMessage("invalid_envelope", f"unreadable publishTime {envelope.message.publish_time!r}")
    return envelope


def request_from_envelope(envelope: PushEnvelope) -> PredictionRequest:
    """Decode and validate the payload of a parsed envelope."""
    if not envelope.message.data:
        raise PoisonMessage("empty_message", "message.data is missing or empty")
    try:
        data = base64.b64decode(envelope.message.data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PoisonMessage("invalid_base64", str(exc)) from exc
    payload = _json(data, "invalid_payload_json")
    if not isinstance(payload, dict):
        raise PoisonMessage("invalid_payload", "payload is not a JSON object")
    version = payload.get("schema_version")
    if version != SCHEMA_VERSION:
        raise PoisonMessage(
            "schema_version_mismatch",
            f"payload speaks schema {_clip(version)}, worker speaks {SCHEMA_VERSION}",
        )
    try:
        request = PredictionRequest.model_validate(payload)
    except ValidationError as exc:
        raise PoisonMessage(_rejection_reason(exc.errors()), _short(exc)) from exc
    _check_attributes(envelope.message.attributes, request)
    return request


# Pydantic's errors for a number no game can hold: NaN or infinity, a negative count, beyond 64 bits.
_VALUE_ERRORS = frozenset({"finite_number", "greater_than_equal", "less_than_equal"})


def _rejection_reason(errors: list[ErrorDetails]) -> str:
    """invalid_features when every error is an impossible number, unknown_player when only the player
    fields fail, invalid_payload otherwise."""
    if all(error["type"] in _VALUE_ERRORS for error in errors):
        return "invalid_features"
    fields = {str(error["loc"][0]) for error in errors if error["loc"]}
    return "unknown_player" if fields and fields <= PLAYER_FIELDS else "invalid_payload"


def _check_attributes(attributes: dict[str, str], request: PredictionRequest) -> None:
    """Attributes the transport routed by must describe the payload they carry."""
    named = attributes.get("player_id")
    if named is not None and named != str(request.player_id):
        raise PoisonMessage(
            "unknown_player",
            f"attributes name player {_clip(named)}, the payload player {request.player_id}",
        )
    for key, value in (("batch_id", request.batch_id), ("game_date", request.game.game_date.isoformat())):
        if key in attributes and attributes[key] != value:
            raise PoisonMessage(
                "inconsistent_attributes", f"attribute {key}={_clip(attributes[key])}, payload {value}"
            )


def publish_time(envelope: PushEnvelope) -> datetime | None:
    """Pub/Sub's publishTime (RFC 3339, up to nanoseconds) as an aware datetime; None if unreadable."""
    text = envelope.message.publish_time
    if not text:
        return None
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        return None
    fraction = (match.group("fraction") or "")[:6].ljust(6, "0")
    try:
        parsed = datetime.fromisoformat(f"{match.group('base')}.{fraction}{match.group('zone')}")
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


_RFC3339 = re.compile(
    r"(?P<base>\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2})(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|[+-]\d{2}:\d{2})"
)


def _json(data: bytes, reason: str) -> Any:
    try:
        value = json.loads(data)
    # ValueError covers bad JSON, bad UTF-8 and integers too long to convert; deep nesting recurses.
    except (ValueError, RecursionError) as exc:
        raise PoisonMessage(reason, _clip(str(exc), 300)) from exc
    # JSON admits lone UTF-16 surrogates ("\ud800", or raw CESU-8 bytes, which json.loads lets
    # through): valid JSON, but no UTF-8 column, log line or hash can hold them.
    if _holds_lone_surrogate(value):
        raise PoisonMessage(reason, "a string holds a lone UTF-16 surrogate: not valid Unicode text")
    return value


def _holds_lone_surrogate(value: Any) -> bool:
    stack = [value]  # iterative: json.loads accepts nesting deeper than a recursive walk could go
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _clip(value: object, limit: int = 80) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "..."


def _short(exc: ValidationError, limit: int = 3) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:limit]]
    more = exc.error_count() - limit
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
