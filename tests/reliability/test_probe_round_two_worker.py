"""Issue 17, worker side: what the outside probe broke, pinned through the push routes only.

Every test asserts the behaviour the issue asks for and is marked ``xfail(strict=True)``: the suite
stays green while a defect stands, and the test turns into a failure (XPASS) the moment the defect
is fixed, telling the fixer to remove its mark. Run ``pytest --runxfail`` on this file to read the
failures that pin each defect today.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.contracts import PredictionRequest
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.reliability.conftest import count
from worker.app import WorkerContainer, create_app

Payload = dict[str, Any]

# The public URLs Pub/Sub's push subscriptions are configured with (deploy/), not the app's constants.
PUSH_PATH = "/pubsub/push"
DEAD_LETTER_PATH = "/pubsub/dead-letter"


def pubsub_envelope(data: bytes, attributes: dict[str, str], message_id: str, attempt: int = 1) -> Payload:
    """A push body exactly as Pub/Sub sends it (https://cloud.google.com/pubsub/docs/push)."""
    return {
        "message": {
            "data": base64.b64encode(data).decode(),
            "attributes": attributes,
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": datetime.now(UTC).isoformat(),
        },
        "subscription": "projects/p/subscriptions/sub",
        "deliveryAttempt": attempt,
    }


def issue17(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"issue 17: {reason}")


@pytest.fixture
def worker(league_warehouse: DuckDbWarehouse, settings: Settings) -> Iterator[TestClient]:
    """The worker over HTTP; a server error is answered 500, as a real server would, not raised."""
    app = create_app(WorkerContainer.build(settings, league_warehouse))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def request_with_line(requests_for_night: list[PredictionRequest]) -> PredictionRequest:
    return next(r for r in requests_for_night if r.line is not None)


def _push(
    request: PredictionRequest,
    mutate: Callable[[Payload], None] | None = None,
    *,
    message_id: str = "m-1",
    attempt: int = 1,
) -> Payload:
    """A push envelope of `request` (payload changed by `mutate`), attributes consistent with it."""
    payload = json.loads(request.to_bytes())
    if mutate is not None:
        mutate(payload)
    attributes = {
        "batch_id": str(payload["batch_id"]),
        "player_id": str(request.player_id),
        "game_date": str(payload["game"]["game_date"]),
        "schema_version": "1",
    }
    data = json.dumps(payload).encode()
    return pubsub_envelope(data, attributes, message_id, attempt)


def _set(path: str, value: Any) -> Callable[[Payload], None]:
    def mutate(payload: Payload) -> None:
        *parents, last = path.split(".")
        target = payload
        for key in parents:
            target = target[key]
        target[last] = value

    return mutate


def _assert_rejected_and_recorded(response: Any, warehouse: DuckDbWarehouse) -> None:
    """Acknowledged (2xx), not predicted, and exactly one durable record of the rejection."""
    assert response.status_code == 200, f"{response.status_code}: {response.text[:300]}"
    assert response.json()["status"] == "rejected"
    assert count(warehouse, "predictions_raw") == 0
    assert count(warehouse, "player_outcomes") == 1


# -- rejection records -------------------------------------------------------------------------------


def test_each_distinct_bad_delivery_naming_one_player_keeps_its_own_record_and_reason(
    worker: TestClient, league_warehouse: DuckDbWarehouse, request_with_line: PredictionRequest
) -> None:
    request = request_with_line
    bad: list[tuple[Payload, str]] = []
    versioned = _push(request, _set("schema_version", 2), message_id="bad-1")
    bad.append((versioned, "schema_version_mismatch"))
    not_base64 = _push(request, message_id="bad-2")
    not_base64["message"]["data"] = "!!! not base64 !!!"
    bad.append((not_base64, "invalid_base64"))
    not_json = _push(request, message_id="bad-3")
    not_json["message"]["data"] = base64.b64encode(b"{not json").decode()
    bad.append((not_json, "invalid_payload_json"))
    empty = _push(request, message_id="bad-4")
    empty["message"]["data"] = ""
    bad.append((empty, "empty_message"))

    answered = []
    for body, _ in bad:
        response = worker.post(PUSH_PATH, json=body)
        assert response.status_code == 200, response.text
        answered.append(response.json()["reason"])
    assert answered == [reason for _, reason in bad]
    # Pub/Sub redelivers one of them: still one row for that delivery.
    assert worker.post(PUSH_PATH, json=bad[0][0]).status_code == 200

    rows = league_warehouse.sql(
        "SELECT message_id, reason FROM player_outcomes WHERE batch_id = $b AND player_id = $p",
        {"b": request.batch_id, "p": request.player_id},
    )
    assert sorted(zip(rows["message_id"], rows["reason"], strict=True)) == sorted(
        (body["message"]["messageId"], reason) for body, reason in bad
    )


# -- 5xx where the contract says never -----------------------------------------------------------


def test_an_absurd_delivery_attempt_is_acknowledged_and_leaves_exactly_one_record(
    worker: TestClient, league_warehouse: DuckDbWarehouse, request_with_line: PredictionRequest
) -> None:
    response = worker.post(PUSH_PATH, json=_push(request_with_line, attempt=10**30))
    assert response.status_code in (200, 204), f"{response.status_code}: {response.text[:300]}"
    records = count(league_warehouse, "predictions_raw") + count(league_warehouse, "player_outcomes")
    assert records == 1


def test_a_dead_letter_naming_an_out_of_range_player_is_acknowledged_and_recorded(
    worker: TestClient, league_warehouse: DuckDbWarehouse, request_with_line: PredictionRequest
) -> None:
    attributes = {
        **request_with_line.attributes(),
        "player_id": str(2**70),
        # What Pub/Sub adds to a dead-lettered message.
        "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        "CloudPubSubDeadLetterSourceSubscription": "projects/p/subscriptions/nba-props-predictions-worker",
    }
    body = pubsub_envelope(request_with_line.to_bytes(), attributes, "dlq-1")
    response = worker.post(DEAD_LETTER_PATH, json=body)
    assert response.status_code in (200, 204), f"{response.status_code}: {response.text[:300]}"
    assert count(league_warehouse, "player_outcomes") == 1


# -- lenient parsing: what must be rejected (acknowledged and recorded), not predicted -------------------


LENIENT_PAYLOADS: list[tuple[str, Callable[[Payload], None]]] = [
    ("schema_version true", _set("schema_version", True)),
    ("schema_version 1.0", _set("schema_version", 1.0)),
    ("player_id as a string", lambda p: p.update(player_id=str(p["player_id"]))),
    ("1e300 minutes", lambda p: p["history"]["minutes"].__setitem__(-1, 1e300)),
    ("year 9999", _set("game.game_date", "9999-12-31")),
    ("a 1 MB game_id", _set("game.game_id", "g" * 1_000_000)),
]


@pytest.mark.parametrize("mutate", [m for _, m in LENIENT_PAYLOADS], ids=[k for k, _ in LENIENT_PAYLOADS])
def test_a_payload_outside_the_strict_contract_is_rejected_and_recorded_not_predicted(
    worker: TestClient,
    league_warehouse: DuckDbWarehouse,
    request_with_line: PredictionRequest,
    mutate: Callable[[Payload], None],
) -> None:
    response = worker.post(PUSH_PATH, json=_push(request_with_line, mutate))
    _assert_rejected_and_recorded(response, league_warehouse)


def _huge_message_id(body: Payload) -> None:
    body["message"]["messageId"] = body["message"]["message_id"] = "m" * 2_000_000


def _publish_time_2099(body: Payload) -> None:
    body["message"]["publishTime"] = "2099-01-01T00:00:00Z"


def _no_publish_time(body: Payload) -> None:
    del body["message"]["publishTime"]


LENIENT_ENVELOPES: list[tuple[str, Callable[[Payload], None]]] = [
    ("a 2 MB messageId", _huge_message_id),
    ("publishTime in 2099", _publish_time_2099),
    ("no publishTime", _no_publish_time),
]


@pytest.mark.parametrize("mutate", [m for _, m in LENIENT_ENVELOPES], ids=[k for k, _ in LENIENT_ENVELOPES])
def test_an_envelope_outside_the_strict_contract_is_rejected_and_recorded_not_predicted(
    worker: TestClient,
    league_warehouse: DuckDbWarehouse,
    request_with_line: PredictionRequest,
    mutate: Callable[[Payload], None],
) -> None:
    body = _push(request_with_line)
    mutate(body)
    response = worker.post(PUSH_PATH, json=body)
    _assert_rejected_and_recorded(response, league_warehouse)


# -- faults: a full disk -----------------------------------------------------------------------------


def test_a_push_on_a_full_disk_answers_503_naming_the_full_disk_not_a_write_conflict(
    full_disk: DuckDbWarehouse, settings: Settings, request_with_line: PredictionRequest
) -> None:
    app = create_app(WorkerContainer.build(settings, full_disk))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(PUSH_PATH, json=_push(request_with_line))
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert "write conflict" not in detail
    assert "no space left" in detail.lower()


@issue17("the worker's /readyz stays 200 while nothing can be written")
def test_the_workers_readiness_is_503_while_writes_fail(
    full_disk: DuckDbWarehouse, settings: Settings, request_with_line: PredictionRequest
) -> None:
    app = create_app(WorkerContainer.build(settings, full_disk))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.post(PUSH_PATH, json=_push(request_with_line)).status_code == 503
        ready = client.get("/readyz")
    assert ready.status_code == 503, ready.text
