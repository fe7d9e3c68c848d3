"""The one alert manager: durable deduplication and rate limiting, sinks that cannot break callers."""

from __future__ import annotations

import ast
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
import structlog
from pydantic import ValidationError

from coordinator.alerts import (
    Alert,
    AlertKind,
    AlertManager,
    AlertPublishFailed,
    PubSubAlertSink,
    Severity,
    SlackWebhookSink,
    WarehouseAlertStore,
    WebhookRejected,
)
from shared.settings import Settings
from shared.transport import OutgoingMessage
from shared.warehouse import QueryParams, Warehouse
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.fake_pubsub import FakePubSubServer
from tests.support.fakes import FakePublisher, SpyWarehouse
from tests.support.grading import RecordingSink, recording_manager
from tests.support.pubsub_fixtures import fake_pubsub  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


def _alert(key: str = "2026-12-01", kind: AlertKind = AlertKind.GRADING_COVERAGE) -> Alert:
    return Alert(kind, Severity.WARNING, f"{kind.value} for {key}", key=key, details={"coverage": 0.5})


class _FailingSink:
    def __init__(self) -> None:
        self.calls = 0

    def send(self, alert: Alert) -> None:
        self.calls += 1
        raise RuntimeError("sink is down")


class _BrokenWarehouse(SpyWarehouse):
    def query(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> pd.DataFrame:
        raise ConnectionError("warehouse unreachable")


class _RacingWarehouse(SpyWarehouse):
    """Lets a competing instance claim the same signature, a moment earlier, right after this
    instance's check: the race the read-back settles."""

    def __init__(self, inner: Warehouse, competitor_claim: dict[str, Any]) -> None:
        super().__init__(inner)
        self._claim: dict[str, Any] | None = competitor_claim

    def query(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> pd.DataFrame:
        answer = super().query(name, params, timeout_s=timeout_s)
        if name == "alert_recent" and self._claim is not None:
            self.inner.append("alert_log", [self._claim])
            self._claim = None
        return answer


# -- deduplication and rate limiting --------------------------------------------------------------


def test_an_alert_raised_by_two_instances_sharing_the_warehouse_goes_out_once(
    backend_warehouse: Warehouse,
) -> None:
    first, first_sink = recording_manager(backend_warehouse, T0)
    second, second_sink = recording_manager(backend_warehouse, T0 + timedelta(minutes=3))

    assert first.raise_alert(_alert()) is True
    assert second.raise_alert(_alert()) is False
    assert second.raise_alert(_alert(key="2026-12-02")) is True, "another key is another alert"

    assert first_sink.kinds == ["grading_coverage"]
    assert [a.key for a in second_sink.sent] == ["2026-12-02"]


def test_the_same_alert_goes_out_again_once_its_window_has_passed(memory_warehouse: DuckDbWarehouse) -> None:
    early, early_sink = recording_manager(memory_warehouse, T0, window_s=3600)
    late, late_sink = recording_manager(memory_warehouse, T0 + timedelta(minutes=61), window_s=3600)

    early.raise_alert(_alert())
    late.raise_alert(_alert())

    assert len(early_sink.sent) == len(late_sink.sent) == 1


def test_alerts_beyond_the_hourly_limit_are_logged_but_not_sent(memory_warehouse: DuckDbWarehouse) -> None:
    manager, sink = recording_manager(memory_warehouse, T0, per_hour=2)

    sent = [manager.raise_alert(_alert(key=f"2026-12-0{i}")) for i in range(1, 5)]

    assert sent == [True, True, False, False]
    assert [a.key for a in sink.sent] == ["2026-12-01", "2026-12-02"]
    decisions = memory_warehouse.sql("SELECT decision, COUNT(*) AS n FROM alert_log GROUP BY decision")
    assert dict(zip(decisions["decision"], decisions["n"], strict=True)) == {"claimed": 2, "rate_limited": 2}


def test_when_two_instances_race_only_the_earliest_claim_is_sent(memory_warehouse: DuckDbWarehouse) -> None:
    alert = _alert()
    competitor = {
        "alert_id": "0" * 32,
        "signature": alert.signature,
        "kind": alert.kind.value,
        "severity": alert.severity.value,
        "alert_key": alert.key,
        "summary": alert.summary,
        "details_json": "{}",
        "decision": "claimed",
        "instance": "the-other-instance",
        "raised_at": T0 - timedelta(milliseconds=5),
    }
    racing = _RacingWarehouse(memory_warehouse, competitor)
    sink = RecordingSink()
    store = WarehouseAlertStore(racing, dedup_window_s=3600, rate_limit_per_hour=30)
    manager = AlertManager([sink], store, clock=lambda: T0)

    assert manager.raise_alert(alert) is False
    assert sink.sent == []
    assert racing.queries == ["alert_recent", "alert_first_claim"]


def test_an_unreachable_warehouse_does_not_stop_the_alert(memory_warehouse: DuckDbWarehouse) -> None:
    sink = RecordingSink()
    store = WarehouseAlertStore(_BrokenWarehouse(memory_warehouse), dedup_window_s=60, rate_limit_per_hour=5)

    assert AlertManager([sink], store).raise_alert(_alert()) is True
    assert sink.kinds == ["grading_coverage"]


def test_a_failing_sink_never_breaks_the_caller_and_the_next_sink_still_gets_the_alert() -> None:
    failing, recording = _FailingSink(), RecordingSink()

    assert AlertManager([failing, recording]).raise_alert(_alert()) is True
    assert failing.calls == 1 and recording.kinds == ["grading_coverage"]


def test_the_structured_log_gets_every_alert_that_is_not_a_duplicate(
    memory_warehouse: DuckDbWarehouse,
) -> None:
    manager, _ = recording_manager(memory_warehouse, T0, per_hour=1)
    with structlog.testing.capture_logs() as logged:
        manager.raise_alert(_alert(key="a"))
        manager.raise_alert(_alert(key="b"))  # rate limited: logged, not sent
        manager.raise_alert(_alert(key="a"))  # duplicate: only a suppression note

    alerts = [e for e in logged if e["event"] == "Alert"]
    assert [(e["alert_key"], e["alert_delivery"], e["log_level"]) for e in alerts] == [
        ("a", "claimed", "warning"),
        ("b", "rate_limited", "warning"),
    ]
    assert alerts[0]["alert_kind"] == "grading_coverage" and alerts[0]["details"] == {"coverage": 0.5}
    assert [e["alert_key"] for e in logged if e["event"] == "Alert suppressed"] == ["a"]


# -- the webhook sink -------------------------------------------------------------------------------


def _webhook(handler: Any, attempts: int = 3) -> tuple[SlackWebhookSink, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer: httpx.Response = handler(len(seen))
        return answer

    sink = SlackWebhookSink(
        "https://hooks.example.test/services/T/B/secret",
        attempts=attempts,
        backoff_s=0.001,
        transport=httpx.MockTransport(record),
    )
    return sink, seen


def test_the_webhook_gets_a_slack_message_and_server_errors_are_retried() -> None:
    sink, seen = _webhook(lambda n: httpx.Response(503 if n < 3 else 200, text="ok"))

    sink.send(_alert())

    assert len(seen) == 3
    body = json.loads(seen[-1].content)
    assert set(body) == {"text"}
    assert "grading_coverage" in body["text"] and "2026-12-01" in body["text"]


def test_a_webhook_that_rejects_the_message_is_not_retried() -> None:
    sink, seen = _webhook(lambda n: httpx.Response(404, text="no_service"))

    with pytest.raises(WebhookRejected, match="404"):
        sink.send(_alert())
    assert len(seen) == 1


def test_a_webhook_that_keeps_failing_gives_up_after_the_configured_attempts_without_naming_the_url() -> None:
    sink, seen = _webhook(lambda n: httpx.Response(500), attempts=2)

    with pytest.raises(WebhookRejected) as raised:
        sink.send(_alert())
    assert len(seen) == 2
    assert "secret" not in str(raised.value)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback HTTP endpoint that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}/hook"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def test_a_webhook_that_never_answers_times_out_on_every_attempt(silent_server: str) -> None:
    sink = SlackWebhookSink(silent_server, timeout_s=0.2, attempts=2, backoff_s=0.001)

    with pytest.raises(WebhookRejected, match="unreachable after 2 attempts: ReadTimeout"):
        sink.send(_alert())


# -- the Pub/Sub sink and the composition from settings -----------------------------------------------


def test_the_pubsub_sink_publishes_the_alert_as_json_with_its_kind_and_signature() -> None:
    publisher = FakePublisher()

    PubSubAlertSink(publisher).send(_alert())

    [(_, message)] = publisher.sent
    assert json.loads(message.data)["summary"] == _alert().summary
    assert message.attributes == {
        "kind": "grading_coverage",
        "severity": "warning",
        "signature": _alert().signature,
        "key": "2026-12-01",
    }


def test_a_pubsub_sink_that_cannot_publish_raises_for_the_manager_to_log() -> None:
    def refuse(message: OutgoingMessage) -> str:
        return "topic missing"

    with pytest.raises(AlertPublishFailed, match="topic missing"):
        PubSubAlertSink(FakePublisher(fail=refuse)).send(_alert())


def test_a_manager_built_from_settings_sends_to_the_webhook_and_the_topic_once(
    memory_warehouse: DuckDbWarehouse,
    fake_pubsub: FakePubSubServer,  # noqa: F811
) -> None:
    received: list[dict[str, Any]] = []
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake_pubsub.create_topic("projects/alerts-test/topics/nba-props-alerts")
    settings = Settings(
        alert_webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook",  # type: ignore[arg-type]
        alert_pubsub_topic="nba-props-alerts",
        pubsub_project="alerts-test",
    )
    manager = AlertManager.from_settings(settings, memory_warehouse)
    try:
        assert manager.raise_alert(_alert()) is True
        assert manager.raise_alert(_alert()) is False
    finally:
        manager.close()
        server.shutdown()
        thread.join(timeout=5)
    assert len(received) == 1 and "grading_coverage" in received[0]["text"]
    [message] = fake_pubsub.messages("projects/alerts-test/topics/nba-props-alerts")
    assert message.attributes["kind"] == "grading_coverage"


def test_an_alert_webhook_must_be_https_and_its_url_stays_secret() -> None:
    with pytest.raises(ValidationError, match="https"):
        Settings(alert_webhook_url="http://hooks.example.com/services/x")  # type: ignore[arg-type]
    settings = Settings(alert_webhook_url="https://hooks.example.com/services/T/B/secret")  # type: ignore[arg-type]
    assert "secret" not in repr(settings)


# -- one implementation ---------------------------------------------------------------------------------

SOURCE_DIRS = ("shared", "coordinator", "worker", "nba_props", "deploy", "scripts", "bench")
ALERT_MODULE = ROOT / "coordinator" / "alerts.py"
# Strings that only the alert module (and the files named) may contain.
MARKERS = {
    "hooks.slack.com": set(),
    "alert_log": {"shared/schema/runs.py"},
}


def _python_sources() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS if (ROOT / d).exists() for p in (ROOT / d).rglob("*.py"))


def test_there_is_exactly_one_alert_implementation_in_the_tree() -> None:
    """No other module defines alert types, managers, sinks or senders, or talks to a chat webhook:
    every alert goes through coordinator.alerts.AlertManager."""
    offenders: list[str] = []
    for path in _python_sources():
        if path == ALERT_MODULE:
            continue
        source = path.read_text()
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if isinstance(node, ast.ClassDef) and (
                "alert" in node.name.lower() or "notif" in node.name.lower()
            ):
                offenders.append(f"{where}: class {node.name}")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.lower() in {
                "raise_alert",
                "send_alert",
                "alert",
                "notify",
                "send_slack",
                "post_to_slack",
            }:
                offenders.append(f"{where}: def {node.name}")
        for marker, allowed in MARKERS.items():
            if marker in source and where not in allowed:
                offenders.append(f"{where}: mentions {marker}")
    assert offenders == []


def test_the_alert_kinds_cover_everything_the_issue_asks_to_watch() -> None:
    assert {k.value for k in AlertKind} >= {
        "grading_coverage",
        "batch_stalled",
        "batch_failed",
        "load_timeout",
        "no_predictions",
        "predictions_out_of_range",
        "prediction_bias",
        "hit_rate_below_break_even",
        "dead_letters",
    }
