"""Nobody unauthorized: Google-signed ID tokens (minted here with a local key, verified by google-auth
against certificates served on loopback), refusal to serve writes unauthenticated beyond loopback,
size-limited and strictly validated bodies."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import structlog
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from google.auth import crypt, jwt
from pydantic import ValidationError

from coordinator.app import create_app as create_coordinator_app
from nba_props.embedded import EmbeddedStack
from shared.auth import (
    CERTS_REFETCH_MIN_INTERVAL_S,
    CachingCertsRequest,
    GoogleIdTokenVerifier,
    Unauthenticated,
)
from shared.contracts import PredictionRequest
from shared.errors import ConfigurationError
from shared.limits import COORDINATOR_MAX_BODY_BYTES, WORKER_MAX_BODY_BYTES
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.reliability.conftest import coordinator_container, count, envelope
from tests.support.fakes import FakePublisher
from worker.app import PUSH_PATH, WorkerContainer
from worker.app import create_app as create_worker_app

COORDINATOR_AUDIENCE = "https://nba-props-coordinator.example.run.app"
WORKER_AUDIENCE = "https://nba-props-worker.example.run.app"
SCHEDULER = "nba-props-scheduler@example-project.iam.gserviceaccount.com"
PUSHER = "nba-props-push@example-project.iam.gserviceaccount.com"
KEY_ID = "local-key-1"


class SigningKey:
    """An RSA key with a self-signed certificate, as Google publishes its token signing keys."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test.googleusercontent.example")])
        now = datetime.now(UTC)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .sign(self.private, hashes.SHA256())
        )
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.signer = crypt.RSASigner.from_string(pem, key_id=key_id)

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    def token(self, **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://accounts.google.com",
            "aud": COORDINATOR_AUDIENCE,
            "sub": "1234567890",
            "email": SCHEDULER,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
        }
        claims.update(overrides)
        for key in [k for k, v in claims.items() if v is None]:
            del claims[key]
        return jwt.encode(self.signer, claims).decode()


class CertsServer:
    """Serves ``{key id: PEM certificate}`` on loopback, as https://www.googleapis.com/oauth2/v1/certs."""

    def __init__(self, keys: list[SigningKey]) -> None:
        self.keys = keys
        self.requests = 0
        self.down = False
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                if outer.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps({k.key_id: k.certificate_pem for k in outer.keys}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/oauth2/v1/certs"

    def __enter__(self) -> CertsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey(KEY_ID)


@pytest.fixture(scope="module")
def impostor() -> SigningKey:
    """Another key claiming Google's key id: its signatures must not verify."""
    return SigningKey(KEY_ID)


@pytest.fixture
def certs(key: SigningKey) -> Iterator[CertsServer]:
    with CertsServer([key]) as server:
        yield server


def _secured(settings: Settings, certs: CertsServer, audience: str, email: str) -> Settings:
    return settings.model_copy(
        update={
            "auth": "google_oidc",
            "auth_audiences": [audience],
            "auth_allowed_emails": [email],
            "auth_certs_url": certs.url,
        }
    )


@pytest.fixture
def coordinator(
    league_warehouse: DuckDbWarehouse, settings: Settings, certs: CertsServer
) -> Iterator[TestClient]:
    secured = _secured(settings, certs, COORDINATOR_AUDIENCE, SCHEDULER)
    app = create_coordinator_app(coordinator_container(league_warehouse, secured, FakePublisher()))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def worker(league_warehouse: DuckDbWarehouse, settings: Settings, certs: CertsServer) -> Iterator[TestClient]:
    secured = _secured(settings, certs, WORKER_AUDIENCE, PUSHER)
    with TestClient(create_worker_app(WorkerContainer.build(secured, league_warehouse))) as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Tokens:
    """Tokens for one service: its audience and the identity allowed to call it, signed by `key`."""

    def __init__(self, key: SigningKey, impostor: SigningKey, audience: str, email: str) -> None:
        self.key, self.impostor, self.audience, self.email = key, impostor, audience, email

    def good(self, signer: SigningKey | None = None, **overrides: Any) -> str:
        claims = {"aud": self.audience, "email": self.email, **overrides}
        return (signer or self.key).token(**claims)

    def expired(self) -> str:
        past = int(time.time()) - 7200
        return self.good(iat=past, exp=past + 600)


# (case, headers from the service's tokens, status): the same refusals for both services.
REFUSALS: list[tuple[str, Any, int]] = [
    ("missing token", lambda t: {}, 401),
    ("not a bearer token", lambda t: {"Authorization": "Basic dXNlcjpwYXNz"}, 401),
    ("empty bearer", lambda t: {"Authorization": "Bearer "}, 401),
    ("not a jwt", lambda t: _bearer("not.a.jwt"), 401),
    ("bad signature", lambda t: _bearer(t.good(signer=t.impostor)), 401),
    ("unknown key id", lambda t: _bearer(t.good(signer=SigningKey("rotated-away"))), 401),
    ("wrong audience", lambda t: _bearer(t.good(aud="https://elsewhere.example")), 401),
    ("not issued by google", lambda t: _bearer(t.good(iss="https://evil.example")), 401),
    ("expired", lambda t: _bearer(t.expired()), 401),
    ("wrong email", lambda t: _bearer(t.good(email="intruder@example.com")), 403),
    ("no email", lambda t: _bearer(t.good(email=None)), 403),
    ("unverified email", lambda t: _bearer(t.good(email_verified=False)), 403),
]


@pytest.mark.parametrize(("headers", "status"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_start_without_a_valid_google_id_token_is_refused(
    coordinator: TestClient,
    league_warehouse: DuckDbWarehouse,
    key: SigningKey,
    impostor: SigningKey,
    game_date: date,
    headers: Any,
    status: int,
) -> None:
    made = headers(Tokens(key, impostor, COORDINATOR_AUDIENCE, SCHEDULER))
    response = coordinator.post("/start", json={"game_date": game_date.isoformat()}, headers=made)
    assert response.status_code == status, response.text
    assert response.json()["error"] == ("unauthenticated" if status == 401 else "forbidden")
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert count(league_warehouse, "batches") == 0


def test_start_with_the_schedulers_token_runs_the_batch(
    coordinator: TestClient, key: SigningKey, impostor: SigningKey, game_date: date
) -> None:
    token = Tokens(key, impostor, COORDINATOR_AUDIENCE, SCHEDULER).good()
    response = coordinator.post("/start", json={"game_date": game_date.isoformat()}, headers=_bearer(token))
    assert response.status_code == 202, response.text


def test_every_coordinator_route_but_the_health_probes_requires_a_token(
    coordinator: TestClient, key: SigningKey, impostor: SigningKey
) -> None:
    app = coordinator.app  # type: ignore[attr-defined]
    direct = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
        if method != "HEAD"
    }
    # Routes of an included APIRouter are not APIRoute entries of app.routes in recent FastAPI; the
    # OpenAPI schema lists every route, however it was added.
    documented = {(m.upper(), path) for path, item in app.openapi()["paths"].items() for m in item}
    routes = sorted(direct | documented)
    assert {("POST", "/start"), ("POST", "/batches/check-stalls"), ("GET", "/status")} <= set(routes)
    assert {("POST", "/batches/{batch_id}/finalize"), ("POST", "/batches/{batch_id}/resume")} <= set(routes)
    for method, path in routes:
        response = coordinator.request(method, path.replace("{batch_id}", "b1"))
        expected = 200 if path in {"/healthz", "/readyz"} else 401
        assert response.status_code == expected, (method, path, response.text)
    # With the scheduler's token, a read is answered (404: no batch has run yet).
    token = Tokens(key, impostor, COORDINATOR_AUDIENCE, SCHEDULER).good()
    assert coordinator.get("/status", headers=_bearer(token)).status_code == 404


@pytest.mark.parametrize(("headers", "status"), [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_a_push_without_pubsubs_valid_token_is_refused_and_writes_nothing(
    worker: TestClient,
    league_warehouse: DuckDbWarehouse,
    key: SigningKey,
    impostor: SigningKey,
    requests_for_night: list[PredictionRequest],
    headers: Any,
    status: int,
) -> None:
    made = headers(Tokens(key, impostor, WORKER_AUDIENCE, PUSHER))
    response = worker.post(PUSH_PATH, json=envelope(requests_for_night[0]), headers=made)
    assert response.status_code == status, response.text
    assert count(league_warehouse, "predictions_raw") == 0 and count(league_warehouse, "player_outcomes") == 0


def test_the_schedulers_token_is_not_accepted_by_the_worker(
    worker: TestClient, key: SigningKey, impostor: SigningKey, requests_for_night: list[PredictionRequest]
) -> None:
    token = Tokens(key, impostor, COORDINATOR_AUDIENCE, SCHEDULER).good()
    response = worker.post(PUSH_PATH, json=envelope(requests_for_night[0]), headers=_bearer(token))
    assert response.status_code == 401


def test_a_push_with_pubsubs_token_is_predicted(
    worker: TestClient, key: SigningKey, impostor: SigningKey, requests_for_night: list[PredictionRequest]
) -> None:
    token = Tokens(key, impostor, WORKER_AUDIENCE, PUSHER).good()
    assert (
        worker.post(PUSH_PATH, json=envelope(requests_for_night[0]), headers=_bearer(token)).status_code
        == 204
    )


def test_unreachable_certificates_answer_503_so_the_caller_retries(
    worker: TestClient,
    certs: CertsServer,
    key: SigningKey,
    impostor: SigningKey,
    requests_for_night: list[PredictionRequest],
) -> None:
    certs.down = True
    token = Tokens(key, impostor, WORKER_AUDIENCE, PUSHER).good()
    response = worker.post(PUSH_PATH, json=envelope(requests_for_night[0]), headers=_bearer(token))
    assert response.status_code == 503 and response.json()["error"] == "auth_unavailable"


def test_certificates_are_fetched_once_for_many_verifications(certs: CertsServer, key: SigningKey) -> None:
    verifier = GoogleIdTokenVerifier(
        audiences=[COORDINATOR_AUDIENCE],
        allowed_emails=[SCHEDULER],
        certs_url=certs.url,
        request=CachingCertsRequest(),
    )
    for _ in range(20):
        assert verifier.verify(f"Bearer {key.token()}").email == SCHEDULER
    assert certs.requests == 1


def test_a_rotated_key_is_picked_up_by_fetching_the_certificates_again(
    certs: CertsServer, key: SigningKey
) -> None:
    verifier = GoogleIdTokenVerifier(
        audiences=[COORDINATOR_AUDIENCE], allowed_emails=[SCHEDULER], certs_url=certs.url
    )
    assert verifier.verify(f"Bearer {key.token()}").authenticated
    rotated = SigningKey("rotated-in")
    certs.keys.append(rotated)
    assert verifier.verify(f"Bearer {rotated.token()}").email == SCHEDULER
    assert certs.requests == 2


class _ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _token_naming_key_id(key_id: str) -> str:
    """Unsigned garbage an anonymous caller can send: only its header's key id matters here."""

    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'kid': key_id, 'typ': 'JWT'})}.{part({'aud': COORDINATOR_AUDIENCE})}.c2ln"


def test_tokens_naming_unknown_key_ids_cannot_make_the_service_refetch_certificates_at_will(
    certs: CertsServer, key: SigningKey
) -> None:
    clock = _ManualClock()
    verifier = GoogleIdTokenVerifier(
        audiences=[COORDINATOR_AUDIENCE],
        allowed_emails=[SCHEDULER],
        certs_url=certs.url,
        request=CachingCertsRequest(clock=clock),
    )
    for i in range(20):
        with pytest.raises(Unauthenticated):
            verifier.verify(f"Bearer {_token_naming_key_id(f'bogus-{i}')}")
    assert certs.requests <= 2
    # Rate-limited, not switched off: a key Google rotated in later is still picked up.
    clock.now += CERTS_REFETCH_MIN_INTERVAL_S + 1
    rotated = SigningKey("rotated-in")
    certs.keys.append(rotated)
    assert verifier.verify(f"Bearer {rotated.token()}").email == SCHEDULER


# -- serving without auth: loopback only --------------------------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "::"])
def test_a_service_with_auth_disabled_refuses_to_start_outside_loopback(
    league_warehouse: DuckDbWarehouse, settings: Settings, host: str
) -> None:
    public = settings.model_copy(update={"host": host})
    coordinator = create_coordinator_app(coordinator_container(league_warehouse, public))
    with pytest.raises(ConfigurationError, match="NBA_PROPS_AUTH"), TestClient(coordinator):
        pass
    worker = create_worker_app(WorkerContainer.build(public, league_warehouse))
    with pytest.raises(ConfigurationError, match="NBA_PROPS_AUTH"), TestClient(worker):
        pass


def test_google_oidc_auth_needs_audiences_and_allowed_emails() -> None:
    with pytest.raises(ValidationError, match="AUTH_AUDIENCES"):
        Settings(auth="google_oidc", auth_allowed_emails="a@example.com")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="AUTH_ALLOWED_EMAILS"):
        Settings(auth="google_oidc", auth_audiences="https://x.example")  # type: ignore[arg-type]
    ok = Settings(auth="google_oidc", auth_audiences="https://a, https://b", auth_allowed_emails="s@x")  # type: ignore[arg-type]
    assert ok.auth_audiences == ["https://a", "https://b"]


def test_embedded_mode_binds_loopback_with_auth_disabled_and_says_so_at_startup(
    league_warehouse: DuckDbWarehouse, settings: Settings
) -> None:
    with (
        structlog.testing.capture_logs() as logs,
        EmbeddedStack(settings, warehouse=league_warehouse) as stack,
    ):
        assert stack.coordinator_url.startswith("http://127.0.0.1:")
        assert stack.worker_url.startswith("http://127.0.0.1:")
    disabled = [e for e in logs if e["event"] == "Authentication disabled: serving on loopback only"]
    assert {e["service"] for e in disabled} == {"coordinator", "worker"}


# -- bodies ----------------------------------------------------------------------------------------------


def test_the_coordinator_refuses_a_body_larger_than_a_start_request_with_413(
    league_warehouse: DuckDbWarehouse, settings: Settings
) -> None:
    with TestClient(create_coordinator_app(coordinator_container(league_warehouse, settings))) as client:
        big = b'{"game_date": "2026-01-01", "pad": "' + b"x" * COORDINATOR_MAX_BODY_BYTES + b'"}'
        declared = client.post("/start", content=big, headers={"content-type": "application/json"})
        streamed = client.post("/start", content=iter([big[:1000], big[1000:]]))
    assert declared.status_code == 413 and streamed.status_code == 413
    assert count(league_warehouse, "batches") == 0


def test_the_worker_takes_what_pubsub_can_send_and_refuses_more_with_413(
    league_warehouse: DuckDbWarehouse, settings: Settings
) -> None:
    with TestClient(create_worker_app(WorkerContainer.build(settings, league_warehouse))) as client:
        # Pub/Sub's largest message, base64-encoded in an envelope: acknowledged (here: rejected as poison).
        message = {"data": "A" * (WORKER_MAX_BODY_BYTES - 1024), "publishTime": datetime.now(UTC).isoformat()}
        largest = json.dumps({"message": message}).encode()
        accepted = client.post(PUSH_PATH, content=largest)
        too_big = b"{" + b" " * WORKER_MAX_BODY_BYTES + b"}"
        declared = client.post(PUSH_PATH, content=too_big)
        streamed = client.post(PUSH_PATH, content=iter([too_big[: 1 << 20], too_big[1 << 20 :]]))
    assert accepted.status_code == 200 and accepted.json()["reason"] == "invalid_payload_json"
    assert declared.status_code == 413 and streamed.status_code == 413


@pytest.mark.parametrize(
    "body",
    [
        {"game_date": "2026-01-01", "oops": 1},
        {"game_date": "1999-12-31"},
        {"game_date": "2101-01-01"},
        {"game_date": "2026-02-30"},
        {"game_date": 20260101},
        {"force": "yes"},
        {"force": 1},
        [],
    ],
    ids=[
        "unknown field",
        "too early",
        "too late",
        "no such day",
        "a number",
        "force as text",
        "force as 1",
        "a list",
    ],
)
def test_start_validates_its_body_strictly(
    league_warehouse: DuckDbWarehouse, settings: Settings, body: Any
) -> None:
    with TestClient(create_coordinator_app(coordinator_container(league_warehouse, settings))) as client:
        assert client.post("/start", json=body).status_code == 422
    assert count(league_warehouse, "batches") == 0
