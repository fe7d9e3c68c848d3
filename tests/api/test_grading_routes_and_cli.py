"""POST /grade, GET /grade, GET /report over HTTP, and `nba-props grade` / `nba-props report`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from coordinator.app import CoordinatorContainer, create_app
from coordinator.batches import BatchCoordinator
from nba_props.cli import app as cli
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.fakes import FakePublisher
from tests.support.grading import RecordingSink, recording_manager
from tests.support.known_night import CASES, GAME_DATE, load_known_night


@pytest.fixture
def known_night() -> Iterator[DuckDbWarehouse]:
    warehouse = DuckDbWarehouse(":memory:")
    load_known_night(warehouse)
    yield warehouse
    warehouse.close()


@pytest.fixture
def client_and_sink(
    known_night: DuckDbWarehouse, grading_settings: Settings
) -> Iterator[tuple[TestClient, RecordingSink]]:
    publisher = FakePublisher()
    alerts, sink = recording_manager(known_night)
    container = CoordinatorContainer(
        grading_settings,
        known_night,
        publisher,
        BatchCoordinator(known_night, publisher, grading_settings),
        alerts,
    )
    with TestClient(create_app(container)) as client:
        yield client, sink


def test_post_grade_grades_the_night_and_answers_with_its_summary_and_alerts(
    client_and_sink: tuple[TestClient, RecordingSink],
) -> None:
    client, sink = client_and_sink

    response = client.post("/grade", json={"game_date": GAME_DATE.isoformat()})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["game_date"] == GAME_DATE.isoformat() and body["written"] == len(CASES)
    assert body["summary"]["predictions"] == len(CASES)
    assert [(a["kind"], a["sent"]) for a in body["alerts"]] == [("grading_coverage", True)]
    assert sink.kinds == ["grading_coverage"]
    stored = client.get("/grade", params={"date": GAME_DATE.isoformat()})
    assert stored.status_code == 200 and stored.json()["grading_run_id"] == body["grading_run_id"]


def test_post_grade_without_a_body_grades_yesterday_in_the_leagues_time_zone(
    client_and_sink: tuple[TestClient, RecordingSink], grading_settings: Settings
) -> None:
    client, _ = client_and_sink
    before = (datetime.now(ZoneInfo(grading_settings.league_timezone)) - timedelta(days=1)).date()

    response = client.post("/grade")

    after = (datetime.now(ZoneInfo(grading_settings.league_timezone)) - timedelta(days=1)).date()
    assert response.status_code == 200, response.text
    assert response.json()["game_date"] in {before.isoformat(), after.isoformat()}
    assert response.json()["summary"]["predictions"] == 0


def test_grade_refuses_a_body_it_does_not_understand(
    client_and_sink: tuple[TestClient, RecordingSink],
) -> None:
    client, _ = client_and_sink

    assert client.post("/grade", json={"date": "2026-12-01"}).status_code == 422
    assert client.post("/grade", json={"game_date": "yesterday"}).status_code == 422


def test_a_night_never_graded_has_no_summary_but_still_a_report(
    client_and_sink: tuple[TestClient, RecordingSink],
) -> None:
    client, _ = client_and_sink

    missing = client.get("/grade", params={"date": "2026-11-30"})
    page = client.get("/report", params={"date": "2026-11-30"})

    assert missing.status_code == 404 and missing.json()["error"] == "not_graded"
    assert page.status_code == 200 and "No graded nights yet" in page.text


def test_the_report_route_serves_the_graded_night_as_html(
    client_and_sink: tuple[TestClient, RecordingSink],
) -> None:
    client, _ = client_and_sink
    client.post("/grade", json={"game_date": GAME_DATE.isoformat()})

    page = client.get("/report", params={"date": GAME_DATE.isoformat()})

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.text.count("<svg") == 3 and "Player 01" in page.text and "<script" not in page.text


# -- the command line -------------------------------------------------------------------------------


@pytest.fixture
def night_file(tmp_path: Path) -> Path:
    path = tmp_path / "night.duckdb"
    warehouse = DuckDbWarehouse(path)
    load_known_night(warehouse)
    warehouse.close()
    return path


def test_nba_props_grade_grades_the_warehouse_and_prints_json(night_file: Path) -> None:
    env = {"NBA_PROPS_DUCKDB_PATH": str(night_file), "NBA_PROPS_LOG_FORMAT": "console"}

    first = CliRunner().invoke(cli, ["grade", "--date", GAME_DATE.isoformat(), "--json"], env=env)
    second = CliRunner().invoke(cli, ["grade", "--date", GAME_DATE.isoformat()], env=env)

    assert first.exit_code == 0, first.output
    body = json.loads(first.stdout[first.stdout.index("{") :])
    assert body["summary"]["graded"] == 8 and body["summary"]["predictions"] == len(CASES)
    assert second.exit_code == 0, second.output
    assert "hit rate" in second.stdout and "grading_coverage" in second.stdout
    warehouse = DuckDbWarehouse(night_file, read_only=True)
    try:
        current = warehouse.sql("SELECT COUNT(*) AS n FROM graded_predictions").at[0, "n"]
        raw = warehouse.sql("SELECT COUNT(*) AS n FROM graded_predictions_raw").at[0, "n"]
    finally:
        warehouse.close()
    assert (int(current), int(raw)) == (len(CASES), 2 * len(CASES))


def test_nba_props_report_writes_a_self_contained_page(night_file: Path, tmp_path: Path) -> None:
    env = {"NBA_PROPS_DUCKDB_PATH": str(night_file), "NBA_PROPS_LOG_FORMAT": "console"}
    CliRunner().invoke(cli, ["grade", "--date", GAME_DATE.isoformat()], env=env)
    out = tmp_path / "reports" / "night.html"

    result = CliRunner().invoke(cli, ["report", "--date", GAME_DATE.isoformat(), "--html", str(out)], env=env)

    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3 and "Player 11" in page


def test_a_malformed_date_is_refused_before_anything_runs(night_file: Path) -> None:
    result = CliRunner().invoke(
        cli, ["grade", "--date", "12/01/2026"], env={"NBA_PROPS_DUCKDB_PATH": str(night_file)}
    )

    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def _unused_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_grade_goes_to_the_coordinator_named_in_the_environment_and_says_when_it_is_unreachable(
    night_file: Path,
) -> None:
    # With $NBA_PROPS_COORDINATOR_URL set, grading the local warehouse instead would grade the wrong
    # warehouse without a word; an unreachable coordinator is one line and exit code 1.
    url = f"http://127.0.0.1:{_unused_port()}"
    env = {"NBA_PROPS_DUCKDB_PATH": str(night_file), "NBA_PROPS_COORDINATOR_URL": url}

    result = CliRunner().invoke(cli, ["grade", "--date", GAME_DATE.isoformat()], env=env)

    assert result.exit_code == 1 and f"Cannot reach the coordinator at {url}/grade" in result.output
    assert "Traceback" not in result.output
    warehouse = DuckDbWarehouse(night_file, read_only=True)
    try:
        graded = int(warehouse.sql("SELECT COUNT(*) AS n FROM graded_predictions_raw").at[0, "n"])
    finally:
        warehouse.close()
    assert graded == 0


def test_start_and_status_without_a_coordinator_fail_with_one_clear_line() -> None:
    url = f"http://127.0.0.1:{_unused_port()}"
    for command in (["start", "--url", url], ["status", "--url", url]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1 and "Cannot reach the coordinator" in result.output, command
        assert "Traceback" not in result.output


def test_evaluate_refuses_a_season_that_is_not_a_season_label() -> None:
    # "2022-2023" compared with "2022-23" as text would quietly leave 2022-23 out of training.
    result = CliRunner().invoke(cli, ["evaluate", "--train-through", "2022-2023", "--test", "2023-24"])

    assert result.exit_code == 2 and "2022-23" in result.output
