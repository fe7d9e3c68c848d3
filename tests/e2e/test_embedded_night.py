"""One night end to end on the embedded default: real HTTP, real push envelopes, real DuckDB."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

import httpx

from nba_props.embedded import EmbeddedStack
from shared.outcomes import Outcome
from shared.settings import Settings
from shared.transport import OutgoingMessage
from shared.transport.loopback import LoopbackPushPublisher
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.fakes import SpyWarehouse


def _wait_for_end(http: httpx.Client, batch_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status: dict[str, Any] = http.get("/status", params={"batch_id": batch_id}).json()
        if status["status"] not in {"loading", "publishing", "running"}:
            return status
        time.sleep(0.05)
    raise AssertionError(f"batch did not finish in {timeout_s} s: {status}")


def test_a_night_ends_with_one_prediction_per_eligible_player_and_survives_redelivery(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    spy = SpyWarehouse(league_warehouse)
    with (
        EmbeddedStack(settings, warehouse=spy) as stack,
        httpx.Client(base_url=stack.coordinator_url) as http,
    ):
        started = http.post("/start", json={"game_date": game_date.isoformat()})
        assert started.status_code == 202, started.text
        batch = started.json()
        assert [q for q in spy.queries if q in {"slate", "history", "lines"}] == ["slate", "history", "lines"]

        status = _wait_for_end(http, batch["batch_id"])
        assert status["status"] == "complete", status
        assert status["failed"] == 0 and status["remaining"] == 0
        assert status["completed"] == batch["published"]
        assert status["completed"] + status["skipped"] == status["expected"] == batch["expected"]
        assert status["load"]["queries"] == 3

        predictions = league_warehouse.sql(
            "SELECT * FROM predictions WHERE game_date = $d AND batch_id = $b",
            {"d": game_date, "b": batch["batch_id"]},
        )
        assert len(predictions) == batch["published"]
        assert predictions["player_id"].is_unique
        assert set(predictions["recommendation"]) <= {"OVER", "UNDER", "PASS", "NO_LINE"}
        assert (predictions["line"].isna() == (predictions["recommendation"] == "NO_LINE")).all()
        skipped = league_warehouse.sql(
            "SELECT reason FROM player_outcomes WHERE batch_id = $b AND outcome = $o",
            {"b": batch["batch_id"], "o": Outcome.SKIPPED.value},
        )
        assert len(skipped) == status["skipped"] and skipped["reason"].str.len().gt(0).all()

        # Deliver every message of the batch a second time, as Pub/Sub may.
        assert stack.coordinator is not None
        again = stack.coordinator.coordinator.load(game_date, batch["batch_id"]).requests
        publisher = stack.coordinator.publisher
        assert isinstance(publisher, LoopbackPushPublisher)
        publisher.publish([OutgoingMessage(r.player_id, r.to_bytes(), r.attributes()) for r in again])
        assert publisher.drain(60)
        raw = league_warehouse.sql("SELECT COUNT(*) AS n FROM predictions_raw").at[0, "n"]
        assert int(raw) == batch["published"]
        assert (
            http.get("/status", params={"batch_id": batch["batch_id"]}).json()["completed"]
            == status["completed"]
        )
