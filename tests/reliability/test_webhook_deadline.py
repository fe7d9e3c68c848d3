"""The webhook's time budget holds against a server that answers a byte at a time: each attempt has
an overall deadline of `timeout_s`, not a timeout per socket read."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from coordinator.alerts import Alert, AlertKind, Severity, SlackWebhookSink, WebhookRejected

pytestmark = pytest.mark.timeout(60)

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 64\r\n\r\n" + b"o" * 64


@dataclass
class DrippingServer:
    """A loopback HTTP server that reads the request, then sends its 200 answer one byte every
    `gap_s` (about 3 s in all): each read of the client waits far less than any timeout, the whole
    answer takes far longer than the budgets below."""

    url: str
    sent: list[int] = field(default_factory=list)  # bytes of the answer sent, per connection
    threads: list[threading.Thread] = field(default_factory=list)

    def settle(self, timeout_s: float = 10.0) -> list[int]:
        """Bytes sent per connection, once every connection has ended (the answer was complete or
        the client hung up, which the next byte's send notices)."""
        for thread in list(self.threads):
            thread.join(timeout=timeout_s)
            assert not thread.is_alive(), "a connection was still dripping"
        return self.sent


@pytest.fixture
def dripping_server() -> Iterator[DrippingServer]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.05)
    server = DrippingServer(f"http://127.0.0.1:{listener.getsockname()[1]}/hook")
    stop = threading.Event()

    def drip(conn: socket.socket, slot: int) -> None:
        with conn:
            conn.settimeout(5)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                request += chunk
            for i in range(len(ANSWER)):
                if stop.wait(0.025):
                    return
                try:
                    conn.sendall(ANSWER[i : i + 1])
                except OSError:
                    return  # the client hung up
                server.sent[slot] = i + 1

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            server.sent.append(0)
            thread = threading.Thread(target=drip, args=(conn, len(server.sent) - 1), daemon=True)
            server.threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield server
    stop.set()
    acceptor.join(timeout=5)
    for thread in server.threads:
        thread.join(timeout=5)
    listener.close()


def _alert() -> Alert:
    return Alert(AlertKind.DEAD_LETTERS, Severity.ERROR, "3 messages dead-lettered", key="b1")


def test_an_attempt_ends_when_its_budget_is_spent_however_steadily_bytes_arrive(
    dripping_server: DrippingServer,
) -> None:
    # A 1 s budget against an answer that takes about 3 s: the request went out and bytes of the
    # answer were read, then the attempt was cut, on each of the two attempts.
    sink = SlackWebhookSink(dripping_server.url, timeout_s=1.0, attempts=2, backoff_s=0.001)

    with pytest.raises(WebhookRejected, match="unreachable after 2 attempts: ReadTimeout"):
        sink.send(_alert())
    sink.close()

    sent = dripping_server.settle()
    assert len(sent) == 2, "one connection per attempt"
    assert all(0 < n < len(ANSWER) for n in sent), f"bytes were read, the answer was cut short: {sent}"


def test_a_server_dripping_its_answer_cannot_hold_an_attempt_past_its_timeout(
    dripping_server: DrippingServer,
) -> None:
    # The real clock: 2 attempts of 0.3 s against an answer that takes about 3 s to arrive. Each
    # byte comes well inside 0.3 s, so a per-read timeout alone would wait for all of it and succeed.
    sink = SlackWebhookSink(dripping_server.url, timeout_s=0.3, attempts=2, backoff_s=0.001)

    with pytest.raises(WebhookRejected, match="unreachable after 2 attempts: ReadTimeout"):
        sink.send(_alert())
    sink.close()

    sent = dripping_server.settle()
    assert len(sent) == 2 and all(n < len(ANSWER) for n in sent), f"neither answer was waited out: {sent}"


def test_an_answer_that_arrives_inside_the_budget_is_delivered(dripping_server: DrippingServer) -> None:
    # The deadline cuts only what overruns: a budget longer than the whole drip (about 3 s) lets the
    # slow 200 arrive, on the first attempt.
    sink = SlackWebhookSink(dripping_server.url, timeout_s=30.0, attempts=1)

    sink.send(_alert())
    sink.close()

    assert dripping_server.settle() == [len(ANSWER)]
