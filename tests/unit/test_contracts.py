"""The message contract refuses numbers no game can hold, and the worker's rejection reason says why."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from pydantic import ValidationError

from shared.contracts import (
    INT64_MAX,
    PredictionRequest,
    PushEnvelope,
    request_from_envelope,
)
from shared.errors import PoisonMessage

# A valid message payload, as the coordinator sends it.
PAYLOAD = """{
  "schema_version": 1, "batch_id": "b-1", "player_id": 7, "player_name": "A Player",
  "game": {"game_id": "g-1", "game_date": "2025-01-15", "season": "2024-25", "team_id": 1,
           "team_abbr": "AAA", "opponent_team_id": 2, "opponent_abbr": "BBB", "is_home": true,
           "team_pace": 99.0},
  "history": {"game_date": ["2025-01-13"], "season": ["2024-25"], "opponent_team_id": [3],
              "is_home": [false], "minutes": [30.0], "points": [20.0], "fga": [null],
              "fg3m": [1.0], "fg3a": [2.0], "ftm": [3.0], "fta": [4.0], "tov": [1.0],
              "points_paint": [8.0], "points_mid_range": [null]},
  "line": {"bookmaker": "book", "line": 20.5, "snapshot_at": "2025-01-15T12:00:00Z"},
  "context": {"travel_miles": 250.0, "player_age": null}
}"""


def payload() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(PAYLOAD)
    return loaded


def rejection(changed: dict[str, Any]) -> str:
    data = base64.b64encode(json.dumps(changed).encode()).decode()
    envelope = PushEnvelope.model_validate(
        {"message": {"data": data, "attributes": {}, "publishTime": "2025-01-15T12:00:00Z"}}
    )
    with pytest.raises(PoisonMessage) as err:
        request_from_envelope(envelope)
    return err.value.reason


def test_a_valid_payload_is_accepted() -> None:
    request = PredictionRequest.model_validate(payload())
    assert request.history.fga == [None] and request.context == {"travel_miles": 250.0, "player_age": None}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("context", "travel_miles"), float("nan")),
        (("game", "opponent_pace"), float("-inf")),
        (("history", "fga"), [-1.0]),
        (("history", "points_paint"), [float("inf")]),
        (("history", "opponent_team_id"), [INT64_MAX + 1]),
        (("game", "team_rest_days"), -(2**64)),
        (("line", "over_price"), 2**70),
        (("player_id",), INT64_MAX + 1),
    ],
)
def test_an_impossible_number_is_refused_as_invalid_features(path: tuple[str, ...], value: object) -> None:
    changed = payload()
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError):
        PredictionRequest.model_validate(changed)
    assert rejection(changed) == "invalid_features"


def test_a_line_out_of_bounds_is_a_bad_payload_even_when_it_is_nan() -> None:
    for value in (float("nan"), 150.0):
        changed = payload()
        changed["line"]["line"] = value
        assert rejection(changed) == "invalid_payload"


def test_player_fields_alone_are_an_unknown_player_and_a_mix_is_a_bad_payload() -> None:
    changed = payload()
    changed["player_id"] = 0
    assert rejection(changed) == "unknown_player"
    changed = payload()
    changed["history"]["minutes"] = [-1.0]
    changed["game"]["season"] = 2025
    assert rejection(changed) == "invalid_payload"
