"""The loopback transport keeps Pub/Sub push semantics: ack on 2xx, backoff retries, dead letters."""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter

import httpx

from shared.transport import DeadLetter, OutgoingMessage
from shared.transport.loopback import LoopbackPushPublisher


def _publisher(
    handler: httpx.MockTransport, letters: list[DeadLetter], attempts: int = 3
) -> LoopbackPushPublisher:
    return LoopbackPushPublisher(
        "http://worker.test/pubsub/push",
        dead_letter=letters.append,
        max_attempts=attempts,
        min_backoff_s=0.001,
        max_backoff_s=0.01,
        concurrency=4,
        client=httpx.Client(transport=handler),
    )


def _messages(n: int) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(i, json.dumps({"n": i}).encode(), {"player_id": str(i), "batch_id": "b"})
        for i in range(n)
    ]


def test_delivers_push_envelopes_with_base64_data_attributes_and_message_ids() -> None:
    seen: list[dict[str, object]] = []
    lock = threading.Lock()

    def handle(request: httpx.Request) -> httpx.Response:
        with lock:
            seen.append(json.loads(request.content))
        return httpx.Response(204)

    letters: list[DeadLetter] = []
    publisher = _publisher(httpx.MockTransport(handle), letters)
    report = publisher.publish(_messages(20))
    assert publisher.drain(5)
    publisher.close()

    assert len(report.published) == 20 and not report.failed
    assert len(seen) == 20 and not letters
    by_player = {env["message"]["attributes"]["player_id"]: env for env in seen}  # type: ignore[index]
    envelope = by_player["7"]
    assert json.loads(base64.b64decode(envelope["message"]["data"])) == {"n": 7}  # type: ignore[index]
    assert envelope["message"]["messageId"] == report.published[7]  # type: ignore[index]
    assert envelope["deliveryAttempt"] == 1
    assert envelope["subscription"]


def test_retries_non_2xx_answers_with_backoff_until_acknowledged() -> None:
    attempts: Counter[str] = Counter()
    lock = threading.Lock()

    def handle(request: httpx.Request) -> httpx.Response:
        message_id = json.loads(request.content)["message"]["messageId"]
        with lock:
            attempts[message_id] += 1
            n = attempts[message_id]
        return httpx.Response(503 if n < 3 else 200)

    letters: list[DeadLetter] = []
    publisher = _publisher(httpx.MockTransport(handle), letters, attempts=5)
    report = publisher.publish(_messages(5))
    assert publisher.drain(5)
    publisher.close()
    assert not letters
    assert all(attempts[mid] == 3 for mid in report.published.values())


def test_dead_letters_after_the_configured_number_of_attempts() -> None:
    calls: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(json.loads(request.content)["deliveryAttempt"])
        return httpx.Response(500, text="boom")

    letters: list[DeadLetter] = []
    publisher = _publisher(httpx.MockTransport(handle), letters, attempts=3)
    report = publisher.publish(_messages(1))
    assert publisher.drain(5)
    publisher.close()
    assert calls == [1, 2, 3]
    assert len(letters) == 1
    letter = letters[0]
    assert letter.message_id == report.published[0]
    assert letter.attempts == 3 and letter.last_status == 500 and "boom" in letter.last_error
    assert letter.attributes["player_id"] == "0"


def test_a_connection_error_counts_as_a_failed_attempt() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    letters: list[DeadLetter] = []
    publisher = _publisher(httpx.MockTransport(handle), letters, attempts=2)
    publisher.publish(_messages(2))
    assert publisher.drain(5)
    publisher.close()
    assert len(letters) == 2
    assert all(letter.last_status is None and "ConnectError" in letter.last_error for letter in letters)


def test_a_failing_dead_letter_sink_does_not_break_delivery_of_others() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        player = json.loads(request.content)["message"]["attributes"]["player_id"]
        return httpx.Response(500 if player == "1" else 204)

    def sink(_: DeadLetter) -> None:
        raise RuntimeError("sink down")

    publisher = LoopbackPushPublisher(
        "http://worker.test/pubsub/push",
        dead_letter=sink,
        max_attempts=1,
        client=httpx.Client(transport=httpx.MockTransport(handle)),
    )
    publisher.publish(_messages(3))
    assert publisher.drain(5)
    publisher.close()
    assert publisher.dead_lettered == 1 and publisher.deliveries == 3
