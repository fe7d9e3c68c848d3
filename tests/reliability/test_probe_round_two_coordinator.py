"""Issue 17, coordinator side (and what both services share: auth, docs, faults, the CLI, embedded
mode): what the outside probe broke, pinned through HTTP routes, the CLI and the warehouse port only.

Every test asserts the behaviour the issue asks for and is marked ``xfail(strict=True)``: the suite
stays green while a defect stands, and the test turns into a failure (XPASS) the moment the defect
is fixed, telling the fixer to remove its mark. Run ``pytest --runxfail`` on this file to read the
failures that pin each defect today.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from coordinator.app import create_app as create_coordinator_app
from nba_props.cli import app as cli
from nba_props.embedded import EmbeddedStack
from shared.contracts import PredictionRequest
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.reliability.conftest import ManualClock, coordinator_container, count, wait_until
from tests.reliability.test_probe_round_two_worker import PUSH_PATH, pubsub_envelope
from tests.reliability.test_security import (
    COORDINATOR_AUDIENCE,
    PUSHER,
    SCHEDULER,
    WORKER_AUDIENCE,
    CertsServer,
    SigningKey,
)
from tests.support.fakes import FakePublisher
from worker.app import WorkerContainer
from worker.app import create_app as create_worker_app

NBA_PROPS = Path(sys.executable).with_name("nba-props")
NO_GAMES_DATE = "2030-07-04"  # inside the accepted range, no game in the test league


def issue17(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=f"issue 17: {reason}")


def _coordinator(warehouse: Any, settings: Settings, **kwargs: Any) -> TestClient:
    """The coordinator over HTTP; a server error is answered 500, as a real server would, not raised."""
    app = create_coordinator_app(coordinator_container(warehouse, settings, **kwargs))
    return TestClient(app, raise_server_exceptions=False)


def _worker(warehouse: Any, settings: Settings) -> TestClient:
    app = create_worker_app(WorkerContainer.build(settings, warehouse))
    return TestClient(app, raise_server_exceptions=False)


def _sent(publisher: FakePublisher) -> list[PredictionRequest]:
    return [PredictionRequest.model_validate_json(m.data) for _, m in publisher.sent]


def _push(request: PredictionRequest, message_id: str) -> dict[str, Any]:
    return pubsub_envelope(request.to_bytes(), request.attributes(), message_id)


# -- /status --------------------------------------------------------------------------------------


def test_a_poison_message_naming_a_player_off_the_slate_does_not_count_towards_the_batch(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    publisher = FakePublisher()
    with (
        _coordinator(league_warehouse, settings, publisher=publisher) as coordinator,
        _worker(league_warehouse, settings) as worker,
    ):
        started = coordinator.post("/start", json={"game_date": game_date.isoformat()}).json()
        requests = _sent(publisher)
        off_slate = 123
        assert off_slate not in {r.player_id for r in requests}
        for i, request in enumerate(requests[:-1]):  # every player but one is predicted
            assert worker.post(PUSH_PATH, json=_push(request, f"m-{i}")).status_code == 204
        poison = {
            "message": {
                "data": "!!!",
                "attributes": {
                    "batch_id": started["batch_id"],
                    "player_id": str(off_slate),
                    "game_date": game_date.isoformat(),
                },
                "messageId": "poison-1",
            }
        }
        assert worker.post(PUSH_PATH, json=poison).status_code == 200
        status = coordinator.get("/status", params={"batch_id": started["batch_id"]}).json()
    assert status["completed"] == len(requests) - 1
    assert status["failed"] == 0
    assert status["remaining"] == 1 and status["status"] == "running"
    assert status["progress_pct"] < 100


def test_status_without_an_id_reports_the_newest_batch_that_had_games(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    # The right answer, as the issue implies: a night without games is not "the latest batch" an
    # operator asks about; GET /status reports the newest batch that is not `no_games`.
    with _coordinator(league_warehouse, settings) as client:
        started = client.post("/start", json={"game_date": game_date.isoformat()})
        assert started.status_code == 202
        empty = client.post("/start", json={"game_date": NO_GAMES_DATE})
        assert empty.status_code == 200 and empty.json()["status"] == "no_games"
        latest = client.get("/status")
    assert latest.status_code == 200, latest.text
    assert latest.json()["batch_id"] == started.json()["batch_id"]
    assert latest.json()["status"] != "no_games"


def test_a_resume_that_sends_nothing_leaves_a_stalled_batch_stalled(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings, clock: ManualClock
) -> None:
    with _coordinator(league_warehouse, settings, clock=clock) as client:
        batch_id = client.post("/start", json={"game_date": game_date.isoformat()}).json()["batch_id"]
        clock.advance(settings.stall_after_s + 60)
        assert client.get("/status").json()["status"] == "stalled"
        resumed = client.post(f"/batches/{batch_id}/resume")
        # Nothing was lost (every player is still in flight): nothing to re-send, or refused.
        assert resumed.status_code == 409 or resumed.json()["resent"] == [], resumed.text
        after = client.get("/status").json()
    assert after["status"] == "stalled"
    assert after["idle_s"] > settings.stall_after_s


# -- 5xx where the contract says never ------------------------------------------------------------

UNENCODABLE = [
    ("NaN", b'{"game_date": NaN}'),
    ("Infinity", b'{"game_date": Infinity}'),
    ("lone surrogate", b'{"game_date": "\\ud800"}'),
]


@pytest.mark.parametrize("path", ["/start", "/grade"])
@pytest.mark.parametrize("body", [b for _, b in UNENCODABLE], ids=[k for k, _ in UNENCODABLE])
def test_a_body_the_error_page_cannot_echo_is_refused_with_422(
    league_warehouse: DuckDbWarehouse, settings: Settings, path: str, body: bytes
) -> None:
    with _coordinator(league_warehouse, settings) as client:
        response = client.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, f"{response.status_code}: {response.text[:300]}"
    assert count(league_warehouse, "batches") == 0


# -- lenient parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b'{"game_date": 1796601600}', b"null"],
    ids=["an integer timestamp as the date", "a null body"],
)
def test_start_refuses_a_body_a_strict_contract_refuses_and_starts_nothing(
    league_warehouse: DuckDbWarehouse, settings: Settings, body: bytes
) -> None:
    with _coordinator(league_warehouse, settings) as client:
        response = client.post("/start", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, f"{response.status_code}: {response.text[:300]}"
    assert count(league_warehouse, "batches") == 0


@pytest.mark.parametrize("body", [b"", b"{}", b" \n"], ids=["no body", "an empty object", "whitespace"])
def test_start_without_a_body_still_runs_tonight(
    league_warehouse: DuckDbWarehouse, settings: Settings, body: bytes
) -> None:
    with _coordinator(league_warehouse, settings) as client:
        response = client.post("/start", content=body, headers={"content-type": "application/json"})
    assert response.status_code in (200, 202), response.text
    assert count(league_warehouse, "batches") == 1


def test_a_query_date_given_as_a_timestamp_is_refused(
    league_warehouse: DuckDbWarehouse, settings: Settings
) -> None:
    with _coordinator(league_warehouse, settings) as client:
        response = client.get("/grade", params={"date": "1796601600"})
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"


# -- auth: tokens never echoed, docs not open -------------------------------------------------------


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey("local-key-1")


@pytest.fixture
def certs(key: SigningKey) -> Iterator[CertsServer]:
    with CertsServer([key]) as server:
        yield server


def _secured_app(
    service: str, warehouse: DuckDbWarehouse, settings: Settings, certs: CertsServer
) -> tuple[FastAPI, str, str]:
    """(app, audience, allowed email) of one service with Google ID tokens required."""
    audience, email = (
        (COORDINATOR_AUDIENCE, SCHEDULER) if service == "coordinator" else (WORKER_AUDIENCE, PUSHER)
    )
    secured = settings.model_copy(
        update={
            "auth": "google_oidc",
            "auth_audiences": [audience],
            "auth_allowed_emails": [email],
            "auth_certs_url": certs.url,
        }
    )
    if service == "coordinator":
        return create_coordinator_app(coordinator_container(warehouse, secured)), audience, email
    return create_worker_app(WorkerContainer.build(secured, warehouse)), audience, email


@pytest.mark.parametrize("service", ["coordinator", "worker"])
def test_a_refused_token_appears_in_no_response_and_no_log_line(
    league_warehouse: DuckDbWarehouse,
    settings: Settings,
    certs: CertsServer,
    key: SigningKey,
    service: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app, audience, email = _secured_app(service, league_warehouse, settings, certs)
    token = key.token(aud=audience, email=email)
    signature = token.rsplit(".", 1)[1]  # what makes the token replayable
    path = "/start" if service == "coordinator" else PUSH_PATH
    caplog.set_level(logging.DEBUG)
    with (
        structlog.testing.capture_logs() as events,
        TestClient(app, raise_server_exceptions=False) as client,
    ):
        response = client.post(path, json={}, headers={"Authorization": f"Bearer {token}.x"})
    assert response.status_code == 401, response.text
    printed = capsys.readouterr()
    logged = [repr(e) for e in events] + [r.getMessage() for r in caplog.records] + [printed.out, printed.err]
    assert signature not in response.text
    assert not [line for line in logged if signature in line]


DOCS = ["/openapi.json", "/docs", "/redoc", "/docs/oauth2-redirect"]


@pytest.mark.parametrize("path", DOCS)
@pytest.mark.parametrize("service", ["coordinator", "worker"])
def test_the_api_docs_are_not_served_without_a_token_when_auth_is_on(
    league_warehouse: DuckDbWarehouse, settings: Settings, certs: CertsServer, service: str, path: str
) -> None:
    app, _, _ = _secured_app(service, league_warehouse, settings, certs)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(path)
    # Behind auth (401/403) or switched off (404): either way, not served.
    assert response.status_code in (401, 403, 404), f"{response.status_code}: {response.text[:200]}"


@pytest.mark.parametrize("service", ["coordinator", "worker"])
def test_the_api_docs_are_served_to_a_caller_with_a_valid_token(
    league_warehouse: DuckDbWarehouse, settings: Settings, certs: CertsServer, key: SigningKey, service: str
) -> None:
    app, audience, email = _secured_app(service, league_warehouse, settings, certs)
    headers = {"Authorization": f"Bearer {key.token(aud=audience, email=email)}"}
    with TestClient(app, raise_server_exceptions=False) as client:
        schema = client.get("/openapi.json", headers=headers)
        page = client.get("/docs", headers=headers)
    assert schema.status_code == 200 and schema.json()["paths"]
    assert page.status_code == 200 and "swagger" in page.text.lower()


# -- faults: a read-only file, a full disk -----------------------------------------------------------


@pytest.fixture
def read_only_warehouse(league_file: tuple[Path, date], tmp_path: Path) -> Iterator[DuckDbWarehouse]:
    """A copy of the league opened read-only: every write is refused by DuckDB."""
    copy = tmp_path / "read-only.duckdb"
    shutil.copy(league_file[0], copy)
    warehouse = DuckDbWarehouse(copy, read_only=True)
    yield warehouse
    warehouse.close()


def test_start_on_a_read_only_warehouse_answers_503_naming_the_cause(
    read_only_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    with _coordinator(read_only_warehouse, settings) as client:
        response = client.post("/start", json={"game_date": game_date.isoformat()})
    assert response.status_code == 503, f"{response.status_code}: {response.text[:300]}"
    body = response.json()
    assert body["error"] == "warehouse_unavailable" and "read-only" in body["detail"]


def test_start_on_a_full_disk_answers_503_naming_the_full_disk_not_a_write_conflict(
    full_disk: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    with _coordinator(full_disk, settings) as client:
        response = client.post("/start", json={"game_date": game_date.isoformat()})
    assert response.status_code == 503, f"{response.status_code}: {response.text[:300]}"
    body = response.json()
    assert body["error"] == "warehouse_unavailable"
    assert "write conflict" not in body["detail"] and "no space left" in body["detail"].lower()


@pytest.mark.parametrize("fault", ["read_only_warehouse", "full_disk"])
def test_the_coordinators_readiness_is_503_while_writes_fail(
    request: pytest.FixtureRequest, game_date: date, settings: Settings, fault: str
) -> None:
    warehouse: DuckDbWarehouse = request.getfixturevalue(fault)
    with _coordinator(warehouse, settings) as client:
        assert client.post("/start", json={"game_date": game_date.isoformat()}).status_code >= 500
        ready = client.get("/readyz")
    assert ready.status_code == 503, ready.text


@pytest.fixture
def locked_database(tmp_path: Path) -> Iterator[Path]:
    """A DuckDB file another process holds open for writing (DuckDB's file lock)."""
    path = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        yield path
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_the_cli_reports_a_locked_database_in_a_few_lines_without_a_traceback(
    locked_database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBA_PROPS_DUCKDB_PATH", str(locked_database))
    result = CliRunner().invoke(cli, ["warehouse", "create"])
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # handled, not raised
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 5
    assert "lock" in result.output.lower()


# -- clean shutdown checkpoints DuckDB ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.skipif(os.name != "posix", reason="signals")
@pytest.mark.parametrize("service", ["coordinator", "worker"])
def test_a_service_stopped_with_sigterm_leaves_its_duckdb_file_checkpointed(
    league_file: tuple[Path, date],
    tmp_path: Path,
    model_dir: Path,
    requests_for_night: list[PredictionRequest],
    service: str,
) -> None:
    warehouse_file = tmp_path / "served.duckdb"
    shutil.copy(league_file[0], warehouse_file)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("NBA_PROPS_")},
        "NBA_PROPS_DUCKDB_PATH": str(warehouse_file),
        "NBA_PROPS_MODEL_DIR": str(model_dir),
        "NBA_PROPS_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [str(NBA_PROPS), "serve", service, "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _healthy(url) or process.poll() is not None, 90, f"{service} serves")
        assert process.poll() is None, f"{service} exited with {process.returncode}"
        if service == "coordinator":
            written = httpx.post(f"{url}/start", json={"game_date": NO_GAMES_DATE}, timeout=60)
            assert written.status_code == 200, written.text
        else:
            written = httpx.post(f"{url}{PUSH_PATH}", json=_push(requests_for_night[0], "m-1"), timeout=60)
            assert written.status_code == 204, written.text
        assert Path(f"{warehouse_file}.wal").exists()  # the write is in the log, not yet checkpointed
        process.send_signal(signal.SIGTERM)
        # uvicorn re-raises SIGTERM once it has drained, so the exit status says how it ended.
        assert process.wait(timeout=60) in {0, -signal.SIGTERM}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert not Path(f"{warehouse_file}.wal").exists()


# -- embedded mode on IPv6 loopback ----------------------------------------------------------------


def _has_ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_embedded_mode_serves_on_ipv6_loopback(league_warehouse: DuckDbWarehouse, settings: Settings) -> None:
    ipv6 = settings.model_copy(update={"host": "::1"})
    with EmbeddedStack(ipv6, warehouse=league_warehouse) as stack:
        for url in (stack.coordinator_url, stack.worker_url):
            assert url.startswith("http://[::1]:"), url
            assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
