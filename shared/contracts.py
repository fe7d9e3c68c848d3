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

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from shared.errors import PoisonMessage
from shared.lines import AmericanOdds, LinePoints

SCHEMA_VERSION: Final = 1

INJURY_STATUSES = ("AVAILABLE", "PROBABLE", "QUESTIONABLE", "DOUBTFUL", "OUT")


INT64_MAX: Final = 2**63 - 1
# Every id and integer lands in a 64-bit column; a wider one cannot be stored.
Int64 = Annotated[int, Field(ge=-INT64_MAX, le=INT64_MAX)]

# Physical bounds of one player's game, with headroom over the records (JSON admits any number, a game
# does not): the longest game ran 78 minutes (six overtimes, 1951); the most points 100 (1962); the
# most field-goal attempts 63 and free-throw attempts 34, and no other count comes near them.
MINUTES_MAX: Final = 80.0
POINTS_MAX: Final = 120.0
ATTEMPTS_MAX: Final = 100.0
Minutes = Annotated[float, Field(ge=0, le=MINUTES_MAX)]
Points = Annotated[float, Field(ge=0, le=POINTS_MAX)]
Count = Annotated[float, Field(ge=0, le=ATTEMPTS_MAX)]
# Season-to-date team aggregates: a share or a win rate is a fraction; pace and ratings (per 48
# minutes and per 100 possessions) have stayed within 80-130 across the league's history; the longest
# gap between two games of a team (an off-season, 2020's included) is under a year.
Fraction = Annotated[float, Field(ge=0, le=1)]
Rate = Annotated[float, Field(ge=0, le=250)]
RestDays = Annotated[int, Field(ge=0, le=400)]
# Dates the league can have played on (it began in 1946) and a model can be asked about.
FIRST_DAY: Final = date(1946, 1, 1)
LAST_DAY: Final = date(2100, 12, 31)
GameDay = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]


def _in_league_years(value: datetime) -> datetime:
    if not FIRST_DAY.year <= value.year <= LAST_DAY.year:
        raise ValueError(f"{value.isoformat()} is outside {FIRST_DAY.year}-{LAST_DAY.year}")
    return value


Moment = Annotated[datetime, AfterValidator(_in_league_years)]
# Ids, codes and names: generous for any real value, small enough to store and log.
Code = Annotated[str, Field(min_length=1, max_length=16)]
Ident = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=128)]
# A career, playoffs and preseason included, is under 2,000 games.
HISTORY_MAX_GAMES: Final = 3000
# NaN and infinity fail a line's bounds: a line out of bounds, not an impossible number.
Line = Annotated[LinePoints, Field(allow_inf_nan=True)]
Price = Annotated[AmericanOdds, Field(ge=-INT64_MAX, le=INT64_MAX)]


class _Strict(BaseModel):
    # JSON admits NaN and Infinity; no feature, line or stored value may hold them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TeamContext(_Strict):
    """Season-to-date team and opponent aggregates before the game (None where the season has no
    games yet): the game inputs of the V8 features, each a column of the slate and training queries."""

    team_pace: Rate | None = None
    team_off_rating: Rate | None = None
    team_win_pct: Fraction | None = None
    team_rest_days: RestDays | None = None
    opponent_def_rating: Rate | None = None
    opponent_pace: Rate | None = None
    opponent_rest_days: RestDays | None = None
    opponent_paint_share_allowed: Fraction | None = None
    opponent_mid_share_allowed: Fraction | None = None
    opponent_three_share_allowed: Fraction | None = None


class GameContext(TeamContext):
    """The game being predicted, seen from the player's team, as of before tip-off."""

    game_id: Ident
    game_date: GameDay
    tipoff_utc: Moment | None = None
    season: Code
    phase: Literal["regular", "playoffs", "preseason"] = "regular"
    team_id: Int64
    team_abbr: Code
    opponent_team_id: Int64
    opponent_abbr: Code
    is_home: bool


class HistoryTable(_Strict):
    """The player's games before the game date, column by column (compact, fast to parse)."""

    game_date: list[GameDay] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    season: list[Code] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    opponent_team_id: list[Int64] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    is_home: list[bool] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    minutes: list[Minutes] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    points: list[Points] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    fga: list[Count | None] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    fg3m: list[Count | None] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    fg3a: list[Count | None] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    ftm: list[Count | None] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    fta: list[Count | None] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    tov: list[Count | None] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    points_paint: list[Points | None] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)
    points_mid_range: list[Points | None] = Field(default_factory=list, max_length=HISTORY_MAX_GAMES)

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

    bookmaker: Ident
    line: Line
    over_price: Price | None = None
    under_price: Price | None = None
    snapshot_at: Moment
    opening_line: Line | None = None


class PredictionRequest(_Strict):
    """One player's pre-loaded payload: the unit of fan-out."""

    schema_version: Literal[1] = SCHEMA_VERSION
    batch_id: str = Field(min_length=1, max_length=64)
    player_id: int = Field(gt=0, le=INT64_MAX)
    player_name: Name
    game: GameContext
    injury_status: Literal["AVAILABLE", "PROBABLE", "QUESTIONABLE", "DOUBTFUL"] | None = None
    history: HistoryTable
    line: LineQuote | None = None
    # Context features beyond V8 (travel, schedule, age), stored with the prediction.
    context: dict[Ident, float | None] = Field(default_factory=dict, max_length=64)

    @field_validator("schema_version", mode="before")
    @classmethod
    def _exactly_the_integer(cls, value: object) -> object:
        # JSON's true and 1.0 equal 1 in Python; neither is the version number the contract speaks.
        if type(value) is not int:
            raise ValueError(f"schema_version must be the integer {SCHEMA_VERSION}, not {value!r}")
        return value

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


# Pub/Sub's own limits: 100 attributes, keys of 256 bytes and values of 1,024; message ids are
# decimal numbers of about 16 digits; the delivery attempt counts up from 1 in an int32.
MESSAGE_ID_MAX_CHARS: Final = 128
AttributeKey = Annotated[str, Field(max_length=256)]
AttributeValue = Annotated[str, Field(max_length=1024)]
DeliveryAttempt = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]


class PushMessage(BaseModel):
    """`message` of a Pub/Sub push request (both camelCase and snake_case ids, as Pub/Sub sends)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, strict=True)

    data: str | None = None
    attributes: dict[AttributeKey, AttributeValue] = Field(default_factory=dict, max_length=100)
    message_id: str | None = Field(default=None, alias="messageId", max_length=MESSAGE_ID_MAX_CHARS)
    # Pub/Sub always sends it: without it, nothing says how old a message is.
    publish_time: str = Field(alias="publishTime", max_length=64)


class PushEnvelope(BaseModel):
    """The body Pub/Sub POSTs to a push endpoint."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, strict=True)

    message: PushMessage
    subscription: str | None = Field(default=None, max_length=512)
    delivery_attempt: DeliveryAttempt | None = Field(default=None, alias="deliveryAttempt")

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
    if publish_time(envelope) is None:
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
    if type(version) is not int or version != SCHEMA_VERSION:
        raise PoisonMessage(
            "schema_version_mismatch",
            f"payload speaks schema {_clip(version)}, worker speaks {SCHEMA_VERSION}",
        )
    try:
        # Strict: JSON's "7" is no player id and 1 no boolean; dates are ISO text, not timestamps.
        request = PredictionRequest.model_validate_json(data, strict=True)
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
