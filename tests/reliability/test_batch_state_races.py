"""Batch state under races and unexpected errors: a superseded batch stays superseded, completion
happens once, an error before publishing fails the batch loudly and frees the date, one bad slate
row costs one player, and a re-sent message that never arrives is still accounted for."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from coordinator.app import create_app
from coordinator.batches import BatchCoordinator
from shared.contracts import PredictionRequest
from shared.errors import WarehouseUnavailable
from shared.settings import Settings
from shared.transport import OutgoingMessage, PublishReport
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.reliability.conftest import (
    ManualClock,
    RecordingSink,
    coordinator_client,
    coordinator_container,
    envelope,
)
from tests.support.fakes import FakePublisher, SpyWarehouse
from worker.app import WorkerContainer


def _requests(publisher: FakePublisher) -> list[PredictionRequest]:
    return [PredictionRequest.model_validate_json(m.data) for _, m in publisher.sent]


def _deliver(warehouse: DuckDbWarehouse, settings: Settings, requests: Sequence[PredictionRequest]) -> None:
    handler = WorkerContainer.build(settings, warehouse).handler
    for request in requests:
        handler.handle(json.dumps(envelope(request)).encode())


def _statuses(warehouse: DuckDbWarehouse) -> dict[str, str]:
    frame = warehouse.sql("SELECT batch_id, status FROM batches")
    return dict(zip(frame["batch_id"], frame["status"], strict=True))


class _HookPublisher(FakePublisher):
    """Runs a hook once, at the start of its first publish (the batch already holds the date)."""

    def __init__(self, hook: Callable[[], object]) -> None:
        super().__init__()
        self._hook: Callable[[], object] | None = hook

    def publish(self, messages: Sequence[OutgoingMessage]) -> PublishReport:
        hook, self._hook = self._hook, None
        if hook is not None:
            hook()
        return super().publish(messages)


def test_a_batch_superseded_while_it_publishes_stays_superseded_and_hidden(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    second = FakePublisher()
    newer = BatchCoordinator(league_warehouse, second, settings)
    taken: dict[str, object] = {}
    first = _HookPublisher(lambda: taken.setdefault("b", newer.start(game_date, force=True)))

    a = BatchCoordinator(league_warehouse, first, settings).start(game_date)
    b = newer.status(taken["b"].batch_id)  # type: ignore[attr-defined]

    assert _statuses(league_warehouse)[a.batch_id] == "superseded"
    _deliver(league_warehouse, settings, _requests(first) + _requests(second))
    # Both batches' messages were delivered; consumers see only the batch that holds the date.
    shown = league_warehouse.sql(
        "SELECT batch_id, COUNT(*) AS n FROM predictions WHERE game_date = $d GROUP BY 1", {"d": game_date}
    )
    assert list(shown["batch_id"]) == [b["batch_id"]] and int(shown.at[0, "n"]) == len(_requests(second))
    # Nothing brings the old batch back: not a /status that finds all its players predicted.
    assert (
        BatchCoordinator(league_warehouse, FakePublisher(), settings).reconcile(a.batch_id)["status"]
        == "superseded"
    )
    assert _statuses(league_warehouse)[a.batch_id] == "superseded"


def _counting(
    warehouse: DuckDbWarehouse, publisher: FakePublisher, settings: Settings, completions: list[str]
) -> BatchCoordinator:
    """A coordinator that notes every batch it completes (its night checks' hook)."""
    return BatchCoordinator(warehouse, publisher, settings, on_complete=lambda b, d, e: completions.append(b))


def test_two_reconciles_finding_a_batch_done_complete_it_once(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    publisher = FakePublisher()
    completions: list[str] = []
    first = _counting(league_warehouse, publisher, settings, completions)
    second = _counting(league_warehouse, FakePublisher(), settings, completions)
    started = first.start(game_date)
    _deliver(league_warehouse, settings, _requests(publisher))

    # The second coordinator completes the batch between the first's progress read and its update.
    original = first.store.update

    def racing(batch_id: str, **changes: object) -> bool:
        if changes.get("status") == "complete":
            assert second.reconcile(batch_id)["status"] == "complete"
        return original(batch_id, **changes)  # type: ignore[arg-type]

    first.store.update = racing  # type: ignore[method-assign]
    assert first.reconcile(started.batch_id)["status"] == "complete"
    assert completions == [started.batch_id]  # the night checks ran once, not twice


def test_an_unexpected_slate_row_costs_one_player_not_the_night(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    game = league_warehouse.sql(
        "SELECT game_id FROM schedule WHERE game_date = $d ORDER BY game_id LIMIT 1", {"d": game_date}
    ).at[0, "game_id"]
    # A phase the message contract does not know: every player of that game is refused.
    league_warehouse.sql("UPDATE schedule SET phase = 'play_in' WHERE game_id = $g", {"g": game})
    publisher = FakePublisher()
    coordinator = BatchCoordinator(league_warehouse, publisher, settings)

    started = coordinator.start(game_date)

    status = coordinator.status(started.batch_id)
    refused = [p for p in status["problems"] if p["reason"] == "invalid_slate_row"]
    assert refused and all("phase" in p["detail"] for p in refused)
    assert status["failed"] == len(refused) and started.published == len(publisher.sent) > 0
    assert status["expected"] == started.published + started.skipped + len(refused)


class _AppendUnavailable(SpyWarehouse):
    def append(self, table: str, rows: Sequence[dict[str, object]]) -> None:
        raise WarehouseUnavailable("streaming insert: 503 backend error")


def test_an_error_before_publishing_fails_the_batch_loudly_and_frees_the_date(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings, sink: RecordingSink
) -> None:
    publisher = FakePublisher()
    app = create_app(
        coordinator_container(_AppendUnavailable(league_warehouse), settings, publisher, sink=sink)
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        first = client.post("/start", json={"game_date": game_date.isoformat()})
        status = client.get("/status").json()

    assert first.status_code == 503 and publisher.sent == []
    assert status["status"] == "failed" and "503 backend error" in status["error"]
    assert [a.kind for a in sink.alerts] == ["batch_failed"]
    # The date is free: a retry (with the warehouse back) starts a new batch without `force`.
    again = BatchCoordinator(league_warehouse, FakePublisher(), settings).start(game_date)
    assert again.published > 0


def test_an_injury_status_with_stray_spaces_is_still_out(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    out = league_warehouse.sql(
        "SELECT player_id FROM injury_reports WHERE game_date = $d AND status = 'OUT' LIMIT 1",
        {"d": game_date},
    )
    player = int(out.at[0, "player_id"])
    league_warehouse.sql(
        "UPDATE injury_reports SET status = ' out ' WHERE game_date = $d AND player_id = $p",
        {"d": game_date, "p": player},
    )
    coordinator = BatchCoordinator(league_warehouse, FakePublisher(), settings)

    load = coordinator.load(game_date, "b-spaces")

    assert player in {pid for pid, reason, _ in load.skips if reason == "injured_out"}
    assert player not in {r.player_id for r in load.requests}
    assert len(load.requests) + len(load.skips) == load.metrics.player_count


def test_a_resent_message_that_never_arrives_is_found_missing_at_finalize(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings, clock: ManualClock
) -> None:
    flaky = {"on": True}
    publisher = FakePublisher(fail=lambda m: "UNAVAILABLE" if flaky["on"] and m.key % 2 else None)
    with coordinator_client(league_warehouse, settings, publisher, clock=clock) as client:
        batch_id = client.post("/start", json={"game_date": game_date.isoformat()}).json()["batch_id"]
        lost = client.get("/status", params={"batch_id": batch_id}).json()["failed"]
        assert lost > 0
        flaky["on"] = False
        resumed = client.post(f"/batches/{batch_id}/resume").json()
        assert len(resumed["resent"]) == lost
        in_flight = client.get("/status", params={"batch_id": batch_id}).json()
        assert in_flight["failed"] == 0  # re-sent: in flight again, not failed
        # Nothing is ever delivered; the batch stalls and is finalized.
        clock.advance(settings.stall_after_s + 60)
        finalized = client.post(f"/batches/{batch_id}/finalize").json()
        status = client.get("/status", params={"batch_id": batch_id}).json()

    assert set(resumed["resent"]) <= set(finalized["missing"])
    assert status["completed"] == 0 and status["remaining"] == 0
    assert status["failed"] == status["expected"] - status["skipped"]
    missing = {p["player_id"] for p in status["problems"] if p["outcome"] == "missing"}
    assert set(resumed["resent"]) <= missing


class _FailsOnce(SpyWarehouse):
    """The named statement answers 503 the first time (the n-th call, for reads), then works."""

    def __init__(self, inner: DuckDbWarehouse, name: str, nth: int = 1) -> None:
        super().__init__(inner)
        self._name, self._left = name, nth

    def _maybe_fail(self, name: str) -> None:
        if name == self._name:
            self._left -= 1
            if self._left == 0:
                raise WarehouseUnavailable(f"{name}: 503 backend error")

    def query(self, name: str, params: Any, *, timeout_s: float | None = None) -> Any:
        self._maybe_fail(name)
        return super().query(name, params, timeout_s=timeout_s)

    def execute(self, name: str, params: Any, *, timeout_s: float | None = None) -> int:
        self._maybe_fail(name)
        return super().execute(name, params, timeout_s=timeout_s)


def test_a_batch_row_that_could_not_be_written_gives_the_date_back_for_the_schedulers_retry(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    publisher = FakePublisher()
    flaky = _FailsOnce(league_warehouse, "batch_insert")
    with TestClient(
        create_app(coordinator_container(flaky, settings, publisher)), raise_server_exceptions=False
    ) as client:
        first = client.post("/start", json={"game_date": game_date.isoformat()})
        retry = client.post("/start", json={"game_date": game_date.isoformat()})

    assert first.status_code == 503
    assert retry.status_code == 202 and retry.json()["published"] == len(publisher.sent) > 0


def test_a_failed_claim_check_before_publishing_fails_the_batch_and_a_retry_runs_the_night(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings, sink: RecordingSink
) -> None:
    publisher = FakePublisher()
    # The first lock read is the claim's own; the second is the check just before publishing.
    flaky = _FailsOnce(league_warehouse, "batch_lock_get", nth=2)
    with TestClient(
        create_app(coordinator_container(flaky, settings, publisher, sink=sink)),
        raise_server_exceptions=False,
    ) as client:
        first = client.post("/start", json={"game_date": game_date.isoformat()})
        failed = client.get("/status").json()
        retry = client.post("/start", json={"game_date": game_date.isoformat()})

    assert first.status_code == 503 and failed["status"] == "failed" and "503" in failed["error"]
    assert "batch_failed" in [a.kind for a in sink.alerts]
    assert retry.status_code == 202 and retry.json()["published"] == len(publisher.sent) > 0


def test_a_fan_out_that_publishes_nothing_answers_502_and_resume_sends_everyone_later(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    broken = {"on": True}
    publisher = FakePublisher(fail=lambda m: "NOT_FOUND: topic" if broken["on"] else None)
    with coordinator_client(league_warehouse, settings, publisher) as client:
        first = client.post("/start", json={"game_date": game_date.isoformat()})
        batch_id = client.get("/status").json()["batch_id"]
        status = client.get("/status", params={"batch_id": batch_id}).json()
        broken["on"] = False
        resumed = client.post(f"/batches/{batch_id}/resume").json()

    # Cloud Scheduler sees a failed call (and its alert fires), not a 202 with nothing sent.
    assert first.status_code == 502 and first.json()["error"] == "publish_failed"
    assert status["failed"] == status["expected"] - status["skipped"] > 0
    assert len(resumed["resent"]) == status["failed"] == len(publisher.sent)


def test_status_only_reads_and_reconcile_is_what_completes_a_finished_batch(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    publisher = FakePublisher()
    completions: list[str] = []
    coordinator = _counting(league_warehouse, publisher, settings, completions)
    started = coordinator.start(game_date)
    _deliver(league_warehouse, settings, _requests(publisher))

    read = coordinator.status(started.batch_id)
    assert read["status"] == "running" and read["remaining"] == 0
    assert _statuses(league_warehouse)[started.batch_id] == "running" and completions == []

    assert coordinator.reconcile(started.batch_id)["status"] == "complete"
    assert _statuses(league_warehouse)[started.batch_id] == "complete"
    assert completions == [started.batch_id]
    assert coordinator.status(started.batch_id)["status"] == "complete"
