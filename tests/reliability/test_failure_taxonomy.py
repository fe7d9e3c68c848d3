"""Failures classified once: every permanent problem is acknowledged (2xx) and recorded with its reason,
transient ones answer 5xx, and no bad envelope makes the worker answer 5xx or raise."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send

from nba_props.embedded import EmbeddedStack
from shared.contracts import PredictionRequest
from shared.errors import QueryTimeout
from shared.outcomes import record_dead_letter
from shared.settings import Settings
from shared.transport import OutgoingMessage
from shared.transport.loopback import LoopbackPushPublisher
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.reliability.conftest import coordinator_client, count, envelope, serve
from tests.support.fakes import FakePublisher, SpyWarehouse
from worker.app import PUSH_PATH, WorkerContainer, create_app

Mutation = Callable[[dict[str, Any]], None]


@pytest.fixture
def worker(league_warehouse: DuckDbWarehouse, settings: Settings) -> Iterator[TestClient]:
    container = WorkerContainer.build(
        settings.model_copy(update={"max_message_age_s": 3600}), league_warehouse
    )
    with TestClient(create_app(container)) as client:
        yield client


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _raw(body: dict[str, Any] | list[Any]) -> bytes:
    return json.dumps(body).encode()


def _with_payload(request: PredictionRequest, mutate: Mutation) -> bytes:
    """A real envelope of `request` whose payload was changed by `mutate`."""
    payload = json.loads(request.to_bytes())
    mutate(payload)
    body = envelope(request)
    body["message"]["data"] = _b64(json.dumps(payload).encode())
    return _raw(body)


def _with_envelope(request: PredictionRequest, mutate: Mutation) -> bytes:
    body = envelope(request)
    mutate(body)
    return _raw(body)


def _set(path: str, value: Any) -> Mutation:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = doc
        for key in parents:
            target = target[key]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return mutate


def _drop(key: str) -> Mutation:
    return lambda doc: doc.pop(key)


# (kind, body builder from a valid request, reason recorded, whether the row names batch and player)
BAD_ENVELOPES: list[tuple[str, Callable[[PredictionRequest], bytes], str, bool]] = [
    ("empty body", lambda r: b"", "invalid_envelope_json", False),
    ("not json", lambda r: b"not json", "invalid_envelope_json", False),
    ("invalid utf-8", lambda r: b"\xff\xfe\xfa{", "invalid_envelope_json", False),
    ("deeply nested json", lambda r: b"[" * 200_000 + b"]" * 200_000, "invalid_envelope_json", False),
    ("a json array", lambda r: b"[]", "invalid_envelope", False),
    ("json null", lambda r: b"null", "invalid_envelope", False),
    ("a json string", lambda r: b'"message"', "invalid_envelope", False),
    ("no message", lambda r: _raw({"subscription": "s"}), "invalid_envelope", False),
    ("message not an object", lambda r: _raw({"message": "hello"}), "invalid_envelope", False),
    ("data not a string", lambda r: _with_envelope(r, _set("message.data", 12)), "invalid_envelope", True),
    (
        "attribute not a string",
        lambda r: _with_envelope(r, _set("message.attributes.retries", 3)),
        "invalid_envelope",
        False,
    ),
    (
        "attempt not a number",
        lambda r: _with_envelope(r, _set("deliveryAttempt", "x")),
        "invalid_envelope",
        True,
    ),
    (
        "unreadable publish time",
        lambda r: _with_envelope(r, _set("message.publishTime", "yesterday")),
        "invalid_envelope",
        True,
    ),
    ("no data", lambda r: _with_envelope(r, lambda e: e["message"].pop("data")), "empty_message", True),
    ("empty data", lambda r: _with_envelope(r, _set("message.data", "")), "empty_message", True),
    ("data not base64", lambda r: _with_envelope(r, _set("message.data", "***")), "invalid_base64", True),
    ("base64 bad padding", lambda r: _with_envelope(r, _set("message.data", "YWJ")), "invalid_base64", True),
    (
        "payload not json",
        lambda r: _with_envelope(r, _set("message.data", _b64(b"{nope"))),
        "invalid_payload_json",
        True,
    ),
    (
        "payload not utf-8",
        lambda r: _with_envelope(r, _set("message.data", _b64(b"\xff\xfe\xfd"))),
        "invalid_payload_json",
        True,
    ),
    (
        "payload integer too long to parse",
        lambda r: _with_envelope(r, _set("message.data", _b64(b'{"player_id": ' + b"9" * 5000 + b"}"))),
        "invalid_payload_json",
        True,
    ),
    (
        "payload a json array",
        lambda r: _with_envelope(r, _set("message.data", _b64(b"[1, 2]"))),
        "invalid_payload",
        True,
    ),
    (
        "schema version 99",
        lambda r: _with_payload(r, _set("schema_version", 99)),
        "schema_version_mismatch",
        True,
    ),
    (
        "schema version as text",
        lambda r: _with_payload(r, _set("schema_version", "1")),
        "schema_version_mismatch",
        True,
    ),
    (
        "no schema version",
        lambda r: _with_payload(r, _drop("schema_version")),
        "schema_version_mismatch",
        True,
    ),
    ("unknown payload field", lambda r: _with_payload(r, _set("surprise", 1)), "invalid_payload", True),
    ("no game", lambda r: _with_payload(r, _drop("game")), "invalid_payload", True),
    (
        "history on the game date",
        lambda r: _with_payload(r, _set("history.game_date.0", r.game.game_date.isoformat())),
        "invalid_payload",
        True,
    ),
    (
        "history columns of different lengths",
        lambda r: _with_payload(r, lambda p: p["history"]["points"].pop()),
        "invalid_payload",
        True,
    ),
    ("no player id", lambda r: _with_payload(r, _drop("player_id")), "unknown_player", True),
    ("player id zero", lambda r: _with_payload(r, _set("player_id", 0)), "unknown_player", True),
    ("no player name", lambda r: _with_payload(r, _set("player_name", "")), "unknown_player", True),
    (
        "attributes name another player",
        lambda r: _with_envelope(r, _set("message.attributes.player_id", str(r.player_id + 1))),
        "unknown_player",
        False,  # recorded under the player the transport routed it as
    ),
    (
        "attributes name another batch",
        lambda r: _with_envelope(r, _set("message.attributes.batch_id", "another-batch")),
        "inconsistent_attributes",
        False,
    ),
    (
        "NaN points",
        lambda r: _with_payload(r, _set("history.points.0", float("nan"))),
        "invalid_features",
        True,
    ),
    (
        "infinite team pace",
        lambda r: _with_payload(r, _set("game.team_pace", float("inf"))),
        "invalid_features",
        True,
    ),
    (
        "negative minutes",
        lambda r: _with_payload(r, _set("history.minutes.0", -12.0)),
        "invalid_features",
        True,
    ),
    (
        "opponent id beyond 64 bits",
        lambda r: _with_payload(r, _set("game.opponent_team_id", 2**70)),
        "invalid_features",
        True,
    ),
    (
        "published two days ago",
        lambda r: _raw(envelope(r, published_at=datetime.now(UTC) - timedelta(days=2))),
        "message_expired",
        True,
    ),
    # JSON's \uXXXX escapes admit lone UTF-16 surrogates, which no UTF-8 column (or hash) can hold.
    *[
        (
            f"lone surrogate in {path}",
            lambda r, path=path: _with_payload(r, _set(path, "X\ud800")),
            "invalid_payload_json",
            True,
        )
        for path in ("game.team_abbr", "game.game_id", "line.bookmaker", "schema_version", "player_name")
    ],
    (
        "lone surrogate in the batch attribute",
        lambda r: _with_envelope(r, _set("message.attributes.batch_id", "b\udc00")),
        "invalid_envelope_json",
        False,
    ),
    (
        "lone surrogate in the message id",
        lambda r: _with_envelope(r, _set("message.messageId", "m\ud800")),
        "invalid_envelope_json",
        True,
    ),
    (
        "surrogate encoded as raw bytes",
        lambda r: b'{"message": {"messageId": "m-\xed\xa0\x80", "data": "e30="}}',
        "invalid_envelope_json",
        False,
    ),
]


def test_the_suite_covers_at_least_twenty_kinds_of_bad_envelope() -> None:
    assert len(BAD_ENVELOPES) >= 20
    assert len({kind for kind, *_ in BAD_ENVELOPES}) == len(BAD_ENVELOPES)


@pytest.mark.parametrize(
    ("build", "reason", "identified"), [case[1:] for case in BAD_ENVELOPES], ids=[c[0] for c in BAD_ENVELOPES]
)
def test_a_bad_envelope_is_acknowledged_with_200_and_recorded_with_its_reason(
    worker: TestClient,
    league_warehouse: DuckDbWarehouse,
    requests_for_night: list[PredictionRequest],
    build: Callable[[PredictionRequest], bytes],
    reason: str,
    identified: bool,
) -> None:
    request = next(r for r in requests_for_night if r.line is not None)
    response = worker.post(PUSH_PATH, content=build(request), headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "rejected", "reason": reason}
    rows = league_warehouse.sql("SELECT * FROM player_outcomes")
    assert list(rows["reason"]) == [reason] and list(rows["outcome"]) == ["failed"]
    assert rows.at[0, "detail"]
    if identified:
        assert rows.at[0, "batch_id"] == request.batch_id and rows.at[0, "player_id"] == request.player_id
    assert count(league_warehouse, "predictions_raw") == 0


def test_a_redelivered_bad_envelope_keeps_one_failure_record(
    worker: TestClient, league_warehouse: DuckDbWarehouse, requests_for_night: list[PredictionRequest]
) -> None:
    body = _with_payload(requests_for_night[0], _set("schema_version", 2))
    for _ in range(3):
        assert worker.post(PUSH_PATH, content=body).status_code == 200
    assert count(league_warehouse, "player_outcomes") == 1


def test_different_unidentified_bad_bodies_each_leave_their_own_failure_record(
    worker: TestClient, league_warehouse: DuckDbWarehouse
) -> None:
    # No messageId and no batch/player attributes: nothing but the body tells these deliveries apart.
    for body in (b"not json at all", b"{broken", b"\xff\xfe garbage", b"{broken"):
        assert worker.post(PUSH_PATH, content=body).status_code == 200
    for batch in ("b0", "b1", "b2"):
        published = datetime.now(UTC).isoformat()
        unnamed = {"message": {"data": "!!!", "attributes": {"batch_id": batch}, "publishTime": published}}
        assert worker.post(PUSH_PATH, content=_raw(unnamed)).status_code == 200
    rows = league_warehouse.sql("SELECT reason, batch_id FROM player_outcomes ORDER BY reason, batch_id")
    assert list(rows["reason"]) == ["invalid_base64"] * 3 + ["invalid_envelope_json"] * 3
    assert list(rows["batch_id"][:3]) == ["b0", "b1", "b2"]


def test_a_message_within_the_age_limit_is_predicted(
    worker: TestClient, league_warehouse: DuckDbWarehouse, requests_for_night: list[PredictionRequest]
) -> None:
    fresh = envelope(requests_for_night[0], published_at=datetime.now(UTC) - timedelta(minutes=50))
    assert worker.post(PUSH_PATH, json=fresh).status_code == 204
    assert count(league_warehouse, "predictions_raw") == 1


# Text that JSON can carry but UTF-8 cannot: lone surrogates (as "\ud800" escapes), often enough to matter.
_TEXT = st.text(st.characters(exclude_categories=()) | st.sampled_from(["\ud800", "\udfff"]), max_size=20)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=12,
)

_FUZZ = hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_FUZZ
@given(body=st.binary(max_size=300))
def test_no_byte_string_makes_the_worker_answer_5xx(worker: TestClient, body: bytes) -> None:
    assert worker.post(PUSH_PATH, content=body).status_code in {200, 204}


@_FUZZ
@given(document=_JSON)
def test_no_json_envelope_makes_the_worker_answer_5xx(worker: TestClient, document: Any) -> None:
    assert worker.post(PUSH_PATH, content=json.dumps(document).encode()).status_code in {200, 204}


@_FUZZ
@given(message=st.dictionaries(st.sampled_from(["data", "attributes", "messageId", "publishTime"]), _JSON))
def test_no_message_object_makes_the_worker_answer_5xx(worker: TestClient, message: dict[str, Any]) -> None:
    body = json.dumps({"message": message}).encode()  # escaped: httpx's json= cannot encode surrogates
    assert worker.post(PUSH_PATH, content=body).status_code in {200, 204}


@_FUZZ
@given(data=st.data())
def test_no_corruption_of_a_real_payload_makes_the_worker_answer_5xx(
    worker: TestClient, requests_for_night: list[PredictionRequest], data: st.DataObject
) -> None:
    request = requests_for_night[data.draw(st.integers(0, len(requests_for_night) - 1))]
    payload = json.loads(request.to_bytes())
    key = data.draw(st.sampled_from(sorted(payload)))
    if isinstance(payload[key], dict) and payload[key] and data.draw(st.booleans()):
        inner = data.draw(st.sampled_from(sorted(payload[key])))
        payload[key][inner] = data.draw(_JSON)
    else:
        payload[key] = data.draw(_JSON)
    body = envelope(request)
    body["message"]["data"] = _b64(json.dumps(payload).encode())
    assert worker.post(PUSH_PATH, content=_raw(body)).status_code in {200, 204}


# -- transient failures and what /status shows ------------------------------------------------------


class _TimingOutWarehouse(SpyWarehouse):
    def append(self, table: str, rows: Any) -> int:
        raise QueryTimeout("append", 1.0, 1.2)


def test_a_warehouse_timeout_while_writing_answers_503_so_pubsub_redelivers(
    league_warehouse: DuckDbWarehouse, settings: Settings, requests_for_night: list[PredictionRequest]
) -> None:
    down = _TimingOutWarehouse(league_warehouse)
    with TestClient(create_app(WorkerContainer.build(settings, down))) as client:
        response = client.post(PUSH_PATH, json=envelope(requests_for_night[0]))
        rejected = client.post(PUSH_PATH, content=b"garbage")  # even recording a rejection can fail
    assert response.status_code == 503 and rejected.status_code == 503
    assert count(league_warehouse, "predictions_raw") == 0


async def _always_503(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        message = await receive()
        while message["type"] != "lifespan.shutdown":
            await send({"type": message["type"] + ".complete"})
            message = await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 503, "headers": []})
    await send({"type": "http.response.body", "body": b"warehouse down"})


def test_failed_and_dead_lettered_players_appear_in_status_with_their_reasons(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    publisher = FakePublisher()
    with coordinator_client(league_warehouse, settings, publisher) as client:
        started = client.post("/start", json={"game_date": game_date.isoformat()}).json()
        requests = [PredictionRequest.model_validate_json(m.data) for _, m in publisher.sent]
        poisoned, lost = requests[0], requests[1]
        with TestClient(create_app(WorkerContainer.build(settings, league_warehouse))) as worker:
            body = _with_payload(poisoned, _set("history.minutes.0", -1.0))
            assert worker.post(PUSH_PATH, content=body).status_code == 200
        with serve(_always_503) as url:
            loopback = LoopbackPushPublisher(
                url + PUSH_PATH,
                dead_letter=lambda letter: record_dead_letter(league_warehouse, letter, datetime.now(UTC)),
                max_attempts=3,
                min_backoff_s=0.01,
                max_backoff_s=0.02,
            )
            loopback.publish([OutgoingMessage(lost.player_id, lost.to_bytes(), lost.attributes())])
            assert loopback.drain(30)
            loopback.close()
        status = client.get("/status", params={"batch_id": started["batch_id"]}).json()
    problems = {p["player_id"]: p for p in status["problems"]}
    assert status["failed"] == 2 and set(problems) == {poisoned.player_id, lost.player_id}
    assert problems[poisoned.player_id]["outcome"] == "failed"
    assert problems[poisoned.player_id]["reason"] == "invalid_features"
    assert "minutes" in problems[poisoned.player_id]["detail"]
    assert problems[lost.player_id]["outcome"] == "dead_lettered"
    assert problems[lost.player_id]["reason"] == "max_delivery_attempts"
    assert "3 attempts" in problems[lost.player_id]["detail"] and "503" in problems[lost.player_id]["detail"]


class _StuckPredictionWrites(SpyWarehouse):
    """A worker stuck mid-batch: each prediction write waits `hold_s` first. Never closed by the stack,
    so the test can read what was recorded after it stopped."""

    def __init__(self, inner: DuckDbWarehouse, hold_s: float) -> None:
        super().__init__(inner)
        self.hold_s = hold_s
        self.writing = threading.Event()

    def append(self, table: str, rows: Any) -> int:
        if table == "predictions_raw":
            self.writing.set()
            time.sleep(self.hold_s)
        return super().append(table, rows)

    def close(self) -> None:
        pass


def test_stopping_the_embedded_stack_mid_batch_records_every_undelivered_player_as_dead_lettered(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    stuck = _StuckPredictionWrites(league_warehouse, hold_s=1.0)
    quick = settings.model_copy(update={"push_close_timeout_s": 0.2, "push_concurrency": 2})
    stack = EmbeddedStack(quick, warehouse=stuck).start()
    try:
        with httpx.Client(base_url=stack.coordinator_url, timeout=60) as http:
            started = http.post("/start", json={"game_date": game_date.isoformat()}).json()
        assert stuck.writing.wait(30), "no delivery reached the worker"
    finally:
        stack.stop()

    batch = {"b": started["batch_id"]}
    dead = league_warehouse.sql(
        "SELECT player_id, reason FROM player_outcomes WHERE batch_id = $b AND outcome = 'dead_lettered'",
        batch,
    )
    predicted = set(
        league_warehouse.sql("SELECT player_id FROM predictions_raw WHERE batch_id = $b", batch)["player_id"]
    )
    # Nothing published is lost: predicted, or recorded as closed-before-delivery (the two deliveries
    # in flight at the deadline may be both: at-least-once, as with Pub/Sub).
    assert set(dead["reason"]) == {"transport_closed"}
    assert len(set(dead["player_id"]) | predicted) == started["published"]
    assert len(dead) >= started["published"] - quick.push_concurrency
