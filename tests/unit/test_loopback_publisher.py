"""The loopback transport keeps Pub/Sub push semantics: ack on 2xx, backoff retries, dead letters."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections import Counter

import httpx

from shared.bootstrap import make_publisher
from shared.settings import Settings
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


# -- closing: bounded, and nothing accepted is lost without a record ----------------------------------


def _wait_for(event: threading.Event, what: str) -> None:
    assert event.wait(10), f"{what}: not within 10 s"


def test_close_records_what_is_still_queued_or_in_flight_at_its_deadline_as_dead_letters() -> None:
    release, entered = threading.Event(), threading.Event()
    delivering: list[threading.Thread] = []

    def handle(request: httpx.Request) -> httpx.Response:
        delivering.append(threading.current_thread())
        entered.set()
        release.wait(30)  # a worker that hangs until the test lets it go
        return httpx.Response(204)

    letters: list[DeadLetter] = []
    publisher = LoopbackPushPublisher(
        "http://worker.test/pubsub/push",
        dead_letter=letters.append,
        max_attempts=5,
        concurrency=1,
        client=httpx.Client(transport=httpx.MockTransport(handle)),
    )
    report = publisher.publish(_messages(3))
    _wait_for(entered, "first delivery")
    publisher.close(timeout_s=0.1)

    # One delivery was in flight and two were queued: all three are recorded, none silently dropped.
    assert sorted(letter.message_id for letter in letters) == sorted(report.published.values())
    assert {letter.reason for letter in letters} == {"transport_closed"}
    assert sorted(letter.attempts for letter in letters) == [0, 0, 1]
    assert publisher.pending == 0
    # The hung delivery answering afterwards does not record the message a second time.
    release.set()
    delivering[0].join(10)
    assert len(letters) == 3 and len(delivering) == 1


def test_close_cuts_a_retry_backoff_short_and_dead_letters_the_message() -> None:
    attempted = threading.Event()

    def handle(request: httpx.Request) -> httpx.Response:
        attempted.set()
        return httpx.Response(503, text="warehouse down")

    letters: list[DeadLetter] = []
    publisher = LoopbackPushPublisher(
        "http://worker.test/pubsub/push",
        dead_letter=letters.append,
        max_attempts=5,
        min_backoff_s=120,  # the next attempt would come minutes from now
        max_backoff_s=600,
        client=httpx.Client(transport=httpx.MockTransport(handle)),
    )
    publisher.publish(_messages(1))
    _wait_for(attempted, "first attempt")
    closer = threading.Thread(target=publisher.close, kwargs={"timeout_s": 0.1}, daemon=True)
    closer.start()
    closer.join(10)

    assert not closer.is_alive(), "close() waited out the retry schedule"
    assert len(letters) == 1
    assert letters[0].attempts == 1 and letters[0].last_status == 503
    assert "warehouse down" in letters[0].last_error


def test_publish_after_close_reports_every_message_failed_instead_of_raising() -> None:
    letters: list[DeadLetter] = []
    publisher = _publisher(httpx.MockTransport(lambda request: httpx.Response(204)), letters)
    publisher.close(timeout_s=1)
    report = publisher.publish(_messages(3))
    assert report.published == {} and set(report.failed) == {0, 1, 2}
    assert all("closed" in reason for reason in report.failed.values())
    assert not letters


class _RecordingWarehouse:
    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        self.recorded = threading.Event()

    def append(self, table: str, rows: list[dict[str, object]]) -> int:
        self.rows.extend(rows)
        self.recorded.set()
        return len(rows)


def test_the_push_request_timeout_comes_from_settings_and_an_unanswered_delivery_is_a_failed_attempt() -> (
    None
):
    # A worker that accepts the connection and never answers.
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    settings = Settings(
        worker_push_url=f"http://127.0.0.1:{silent.getsockname()[1]}/pubsub/push",
        push_request_timeout_s=0.2,
        max_delivery_attempts=1,
    )
    warehouse = _RecordingWarehouse()
    publisher = make_publisher(settings, warehouse)
    try:
        publisher.publish(_messages(1))
        _wait_for(warehouse.recorded, "the dead letter")
    finally:
        publisher.close()
        silent.close()
    [row] = warehouse.rows
    assert row["outcome"] == "dead_lettered" and "Timeout" in str(row["detail"])
