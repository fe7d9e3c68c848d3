"""Graceful shutdown: a worker process told to stop (SIGTERM, as Cloud Run does) finishes the request
it is serving and leaves nothing half-written; the coordinator never relies on CPU after answering."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from shared.contracts import PredictionRequest
from shared.settings import Settings
from shared.transport import OutgoingMessage, PublishReport
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.reliability.conftest import coordinator_client, envelope, wait_until
from tests.support.fakes import FakePublisher

NBA_PROPS = Path(sys.executable).with_name("nba-props")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_a_worker_process_sent_sigterm_mid_request_finishes_it_and_writes_one_whole_row(
    tmp_path: Path, model_dir: Path, requests_for_night: list[PredictionRequest]
) -> None:
    # The worker process owns its own DuckDB file (one writer per file); the test reads it afterwards.
    warehouse_file = tmp_path / "worker.duckdb"
    empty = DuckDbWarehouse(warehouse_file)
    empty.create_schema()
    empty.close()
    request = requests_for_night[0]
    body = json.dumps(envelope(request)).encode()
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NBA_PROPS_")},
        "NBA_PROPS_DUCKDB_PATH": str(warehouse_file),
        "NBA_PROPS_MODEL_DIR": str(model_dir),
        "NBA_PROPS_LOG_FORMAT": "json",
    }
    worker = subprocess.Popen(
        [str(NBA_PROPS), "serve", "worker", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _accepts_connections(port) or worker.poll() is not None, 60, "worker listens")
        assert worker.poll() is None, worker.stdout.read().decode() if worker.stdout else ""
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            head = (
                f"POST /pubsub/push HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            conn.sendall(head + body[: len(body) // 2])  # the request is in flight: half its body sent
            worker.send_signal(signal.SIGTERM)
            # Shutdown has begun once the listening socket is closed to new connections.
            wait_until(lambda: not _accepts_connections(port), 30, "worker stops accepting connections")
            assert worker.poll() is None, "the worker must not exit with a request in flight"
            conn.sendall(body[len(body) // 2 :])
            answer = conn.recv(4096).decode(errors="replace")
        assert answer.startswith("HTTP/1.1 204"), answer
        # uvicorn re-raises SIGTERM once it has drained, so the exit status says how it ended.
        assert worker.wait(timeout=30) in {0, -signal.SIGTERM}
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
    written = DuckDbWarehouse(warehouse_file, read_only=True)
    try:
        rows = written.sql("SELECT * FROM predictions_raw")
    finally:
        written.close()
    assert list(rows["prediction_id"]) == [request.prediction_id()]
    assert rows.iloc[0][["predicted_points", "recommendation", "features_json", "written_at"]].notna().all()


class _ReportingPublisher(FakePublisher):
    """Notes whether publish() had returned, for every message, when the HTTP answer was built."""

    def __init__(self) -> None:
        super().__init__()
        self.returned = False

    def publish(self, messages: list[OutgoingMessage]) -> PublishReport:  # type: ignore[override]
        self.returned = False
        report = super().publish(messages)
        self.returned = True
        return report


def test_the_coordinator_has_published_every_message_before_it_answers_start(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    publisher = _ReportingPublisher()
    with coordinator_client(league_warehouse, settings, publisher) as client:
        response = client.post("/start", json={"game_date": game_date.isoformat()})
        assert publisher.returned and len(publisher.sent) == response.json()["published"]
        batch = league_warehouse.sql("SELECT status, published FROM batches").iloc[0]
    assert response.status_code == 202
    # The batch row already says so: nothing about the fan-out is left for after the answer.
    assert batch["status"] == "running" and int(batch["published"]) == len(publisher.sent)
