"""The warehouse port's contract, run against DuckDB and against BigQuery (the emulator).

Every test talks to the port only (the named SQL statements, ``append``, ``load_frame``), so a
behaviour the services rely on holds on both backends or fails here. The BigQuery side uses the
real ``google-cloud-bigquery`` client against bqemulator; what the emulator cannot show (job
timeouts, cancellation) is covered in test_bigquery_warehouse.py with a fake client.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from shared.features.window import HISTORY_MAX_GAMES, history_params
from shared.outcomes import Outcome, outcome_row
from shared.training import load_training_targets
from shared.warehouse import Warehouse
from shared.warehouse.bigquery import BigQueryWarehouse
from shared.warehouse.duckdb import DuckDbWarehouse
from tests.support.bq_emulator import BigQueryEmulator
from tests.support.warehouses import small_night

pytestmark = pytest.mark.timeout(120)

BACKENDS = ["duckdb", pytest.param("bigquery", marks=pytest.mark.emulator)]
GAME_DATE = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


# -- fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def _bigquery_warehouse(request: pytest.FixtureRequest, dataset: str) -> BigQueryWarehouse:
    emulator: BigQueryEmulator = request.getfixturevalue("bq_emulator")
    return BigQueryWarehouse(emulator.client(), dataset, default_timeout_s=60)


@pytest.fixture
def warehouse(backend: str, request: pytest.FixtureRequest) -> Iterator[Warehouse]:
    """An empty warehouse of the backend with the schema created (a fresh dataset on BigQuery)."""
    made: Warehouse
    if backend == "duckdb":
        made = DuckDbWarehouse(":memory:")
    else:
        made = _bigquery_warehouse(request, request.getfixturevalue("bq_dataset"))
    made.create_schema()
    yield made
    made.close()


@pytest.fixture(scope="session")
def seeded_duckdb() -> Iterator[DuckDbWarehouse]:
    made = DuckDbWarehouse(":memory:")
    small_night().load_into(made)
    yield made
    made.close()


@pytest.fixture(scope="session")
def seeded_bigquery(bq_emulator: BigQueryEmulator) -> Iterator[BigQueryWarehouse]:
    """The same night in its own dataset (created by the adapter), loaded once per session."""
    made = BigQueryWarehouse(bq_emulator.client(), f"contract_{uuid.uuid4().hex[:8]}", default_timeout_s=60)
    small_night().load_into(made)
    yield made
    bq_emulator.client().delete_dataset(made.dataset, delete_contents=True, not_found_ok=True, timeout=30)
    made.close()


@pytest.fixture
def seeded(backend: str, request: pytest.FixtureRequest) -> Warehouse:
    """The small night loaded into the backend. Read only: tests that write use `warehouse`."""
    found: Warehouse = request.getfixturevalue(f"seeded_{backend}")
    return found


# -- rows --------------------------------------------------------------------------------------------


def prediction(batch_id: str, player_id: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "prediction_id": f"{batch_id}-{player_id}",
        "batch_id": batch_id,
        "game_date": GAME_DATE,
        "game_id": "g1",
        "player_id": player_id,
        "player_name": f"Player {player_id}",
        "team_abbr": "BOS",
        "opponent_abbr": "NYK",
        "line": 20.5,
        "bookmaker": "draftkings",
        "predicted_points": 22.25,
        "edge": 1.75,
        "recommendation": "OVER",
        "confidence": 0.6,
        "prob_over": 0.6,
        "model_version": "v8-test",
        "feature_set_hash": "abc",
        "features_json": "{}",
        "context_json": None,
        "message_id": "m1",
        "delivery_attempt": 1,
        "written_at": NOW,
    }
    row.update(changes)
    return row


def outcome(batch_id: str, player_id: int, kind: Outcome, reason: str = "because") -> dict[str, Any]:
    return outcome_row(
        outcome=kind,
        reason=reason,
        recorded_at=NOW,
        batch_id=batch_id,
        player_id=player_id,
        game_date=GAME_DATE,
    )


def start_batch(warehouse: Warehouse, batch_id: str, status: str = "running") -> None:
    assert (
        warehouse.execute(
            "batch_insert", {"batch_id": batch_id, "game_date": GAME_DATE, "status": status, "now": NOW}
        )
        == 1
    )


def update_batch(warehouse: Warehouse, batch_id: str, **changes: Any) -> int:
    params: dict[str, Any] = dict.fromkeys(
        (
            "status",
            "expected",
            "published",
            "skipped",
            "load_metrics_json",
            "error",
            "superseded_by",
            "players_json",
            "finished_at",
            "from_status",
        )
    )
    params.update(changes, batch_id=batch_id, now=NOW + timedelta(minutes=1))
    return warehouse.execute("batch_update", params)


def batch_predictions(warehouse: Warehouse, batch_id: str) -> pd.DataFrame:
    return warehouse.query("batch_predictions", {"batch_id": batch_id, "game_date": GAME_DATE})


def progress(warehouse: Warehouse, batch_id: str, players: range = range(1, 10)) -> dict[str, int]:
    params = {"batch_id": batch_id, "game_date": GAME_DATE, "player_ids": list(players)}
    frame = warehouse.query("batch_progress", params)
    return {key: int(frame.at[0, key]) for key in ("completed", "failed", "skipped")}


def slate_players(warehouse: Warehouse) -> list[int]:
    night = small_night().game_date
    slate = warehouse.query("slate", {"start_date": night, "end_date": night, "rostered": True})
    return sorted(int(p) for p in slate["player_id"])


# -- schema ------------------------------------------------------------------------------------------


def test_creating_the_schema_again_keeps_the_rows_already_written(warehouse: Warehouse) -> None:
    start_batch(warehouse, "b1")
    warehouse.append("predictions_raw", [prediction("b1", 7)])

    warehouse.create_schema()

    assert list(batch_predictions(warehouse, "b1")["player_id"]) == [7]
    assert warehouse.query("batch_get", {"batch_id": "b1"})["status"].tolist() == ["running"]


# -- the three batch queries -------------------------------------------------------------------------


def test_the_slate_holds_every_rostered_player_of_the_night_once(seeded: Warehouse) -> None:
    night = small_night()
    slate = seeded.query(
        "slate", {"start_date": night.game_date, "end_date": night.game_date, "rostered": True}
    )

    playing = night.frames["schedule"].loc[lambda s: s["game_date"] == pd.Timestamp(night.game_date)]
    teams = set(playing["home_team_id"]) | set(playing["away_team_id"])
    rostered = night.frames["players"].loc[lambda p: p["team_id"].isin(teams), "player_id"]
    assert sorted(slate["player_id"]) == sorted(rostered)
    assert slate["player_id"].is_unique
    assert (slate["game_date"] == pd.Timestamp(night.game_date)).all()
    assert slate["team_pace"].notna().all() and slate["opponent_def_rating"].notna().all()


def test_history_is_the_last_games_before_the_night_of_slate_players_only(seeded: Warehouse) -> None:
    night = small_night()
    players = slate_players(seeded)

    history = seeded.query("history", history_params(night.game_date, players))

    assert not history.empty
    assert set(history["player_id"]) <= set(players)
    assert (history["game_date"] < pd.Timestamp(night.game_date)).all()
    assert history.groupby("player_id").size().max() <= HISTORY_MAX_GAMES


def test_lines_are_one_pre_tip_snapshot_per_player_and_bookmaker(seeded: Warehouse) -> None:
    night = small_night()
    players = slate_players(seeded)

    lines = seeded.query(
        "lines", {"start_date": night.game_date, "end_date": night.game_date, "player_ids": players}
    )

    assert not lines.empty
    assert set(lines["player_id"]) <= set(players)
    assert not lines.duplicated(["player_id", "game_id", "bookmaker"]).any()
    assert lines["opening_line"].notna().all()


def test_an_empty_player_list_returns_no_lines(seeded: Warehouse) -> None:
    night = small_night().game_date
    lines = seeded.query("lines", {"start_date": night, "end_date": night, "player_ids": []})

    assert lines.empty


def _tipoff_night(warehouse: Warehouse) -> None:
    """Two games on GAME_DATE: G_UNKNOWN without a tip-off time (as the importer writes every game),
    G_KNOWN tipping off at 00:30Z the next day. Player 7 plays the first, player 8 the second; each
    has a morning, an evening and an in-game line snapshot, and a morning and a post-game injury
    report."""
    next_day = GAME_DATE + timedelta(days=1)

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)

    games = [("G_UNKNOWN", None, 1, 2, 7), ("G_KNOWN", at(next_day, 0, 30), 3, 4, 8)]
    warehouse.load_frame(
        "teams",
        pd.DataFrame({"team_id": [1, 2, 3, 4], "abbreviation": ["AAA", "BBB", "CCC", "DDD"], "name": "Team"}),
    )
    warehouse.load_frame(
        "players", pd.DataFrame({"player_id": [7, 8], "name": ["Seven", "Eight"], "team_id": [1, 3]})
    )
    schedule = pd.DataFrame(
        [
            {"game_id": g, "game_date": GAME_DATE, "tipoff_utc": tip, "home_team_id": home,
             "away_team_id": away, "season": "2026-27", "phase": "regular"}
            for g, tip, home, away, _ in games
        ]
    )  # fmt: skip
    schedule["tipoff_utc"] = pd.to_datetime(schedule["tipoff_utc"], utc=True)
    warehouse.load_frame("schedule", schedule)
    snapshots, reports, logs = [], [], []
    for game_id, _, home, away, player in games:
        for taken, line in (
            (at(GAME_DATE, 15), 24.5),
            (at(GAME_DATE, 23), 23.5),
            (at(next_day, 2, 15), 11.5),
        ):
            snapshots.append(
                {"game_id": game_id, "game_date": GAME_DATE, "player_id": player, "bookmaker": "fanduel",
                 "line": line, "over_price": -110, "under_price": -110, "snapshot_at": taken}
            )  # fmt: skip
        for reported, status in ((at(GAME_DATE, 14), "QUESTIONABLE"), (at(next_day, 4), "OUT")):
            reports.append(
                {"game_id": game_id, "game_date": GAME_DATE, "player_id": player, "status": status,
                 "reported_at": reported}
            )  # fmt: skip
        logs.append(
            {"game_id": game_id, "game_date": GAME_DATE, "season": "2026-27", "player_id": player,
             "team_id": home, "opponent_team_id": away, "is_home": True, "minutes": 30.0, "points": 20}
        )  # fmt: skip
    warehouse.load_frame("prop_line_snapshots", pd.DataFrame(snapshots))
    warehouse.load_frame("injury_reports", pd.DataFrame(reports))
    warehouse.load_frame("player_game_logs", pd.DataFrame(logs))


def _cutoff_view(warehouse: Warehouse) -> dict[str, dict[int, object]]:
    """What serving and training see of each player: the chosen line and the injury status."""
    night = {"start_date": GAME_DATE, "end_date": GAME_DATE}
    lines = warehouse.query("lines", {**night, "player_ids": [7, 8]})
    slate = warehouse.query("slate", {**night, "rostered": True})
    targets = load_training_targets(warehouse, GAME_DATE, GAME_DATE, ["fanduel"])
    return {
        "lines": {int(r.player_id): float(r.line) for r in lines.itertuples()},
        "training_lines": {int(r.player_id): float(r.line) for r in targets.itertuples()},
        "slate": {int(r.player_id): r.injury_status for r in slate.itertuples()},
        "training_context": {int(r.player_id): r.injury_status for r in targets.itertuples()},
    }


def test_without_a_tipoff_time_lines_and_injury_reports_count_until_16_utc_of_the_game_date(
    warehouse: Warehouse,
) -> None:
    _tipoff_night(warehouse)

    seen = _cutoff_view(warehouse)

    # Player 7's game has no tip-off time: the 15:00Z line counts, the 23:00Z and in-game ones do not.
    # Player 8's game tips off at 00:30Z: its 23:00Z line is the last before tip-off.
    assert seen["lines"] == seen["training_lines"] == {7: 24.5, 8: 23.5}
    assert seen["slate"] == seen["training_context"] == {7: "QUESTIONABLE", 8: "QUESTIONABLE"}


def test_the_cutoff_without_a_tipoff_time_is_16_utc_whatever_the_duckdb_session_time_zone() -> None:
    warehouse = DuckDbWarehouse(":memory:")
    warehouse.create_schema()
    _tipoff_night(warehouse)
    warehouse.sql("SET TimeZone = 'America/Los_Angeles'")  # the cursor the queries below run on

    try:
        seen = _cutoff_view(warehouse)
    finally:
        warehouse.close()

    assert seen["lines"] == seen["training_lines"] == {7: 24.5, 8: 23.5}


@pytest.mark.emulator
def test_slate_history_and_lines_are_the_same_on_duckdb_and_bigquery(
    seeded_duckdb: DuckDbWarehouse, seeded_bigquery: BigQueryWarehouse
) -> None:
    for name, (params, keys) in _night_reads(seeded_duckdb).items():
        on_duckdb = _canonical(seeded_duckdb.query(name, params), keys)
        on_bigquery = _canonical(seeded_bigquery.query(name, params), keys)

        assert _dtypes(on_bigquery) == _dtypes(on_duckdb), name
        pd.testing.assert_frame_equal(on_bigquery, on_duckdb, check_dtype=False, rtol=1e-9, obj=name)


@pytest.mark.emulator
def test_records_are_the_same_plain_values_on_duckdb_and_bigquery(
    seeded_duckdb: DuckDbWarehouse, seeded_bigquery: BigQueryWarehouse
) -> None:
    for name, (params, _) in _night_reads(seeded_duckdb).items():
        on_duckdb = seeded_duckdb.records(name, params)
        on_bigquery = seeded_bigquery.records(name, params)

        assert on_duckdb and len(on_bigquery) == len(on_duckdb), name
        for left, right in zip(_in_order(on_bigquery), _in_order(on_duckdb), strict=True):
            assert _alike(left, right), (name, left, right)


def _night_reads(warehouse: Warehouse) -> dict[str, tuple[dict[str, Any], list[str]]]:
    """The three batch reads of the small night: name -> (parameters, the key of a row)."""
    night = small_night()
    players = slate_players(warehouse)
    return {
        "slate": (
            {"start_date": night.game_date, "end_date": night.game_date, "rostered": True},
            ["player_id"],
        ),
        "history": (history_params(night.game_date, players), ["player_id", "game_date"]),
        "lines": (
            {"start_date": night.game_date, "end_date": night.game_date, "player_ids": players},
            ["player_id", "game_id", "bookmaker"],
        ),
    }


def _alike(left: Any, right: Any) -> bool:
    """Equal, and of the same types all the way down; floats to 1e-9 (the engines' sums differ)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        return math.isclose(left, right, rel_tol=1e-9)
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_alike(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(_alike(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def _in_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Floats can differ in their last digit between the engines: order by everything else."""
    return sorted(records, key=lambda r: [str(v) for v in r.values() if not isinstance(v, float)])


def _canonical(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.sort_values(keys).reset_index(drop=True)
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert("UTC")  # DuckDB says Etc/UTC, BigQuery UTC
    return out


def _dtypes(frame: pd.DataFrame) -> dict[str, str]:
    return {str(column): str(dtype) for column, dtype in frame.dtypes.items()}


# -- writes ------------------------------------------------------------------------------------------


def test_a_batch_written_by_dml_reads_back_and_updates_in_place(warehouse: Warehouse) -> None:
    start_batch(warehouse, "b1", status="loading")

    changed = update_batch(warehouse, "b1", status="running", expected=12, published=10)

    assert changed == 1
    batch = warehouse.query("batch_get", {"batch_id": "b1"})
    assert batch[["status", "expected", "published", "skipped"]].to_dict("records") == [
        {"status": "running", "expected": 12, "published": 10, "skipped": 0}
    ]
    assert pd.Timestamp(batch.at[0, "game_date"]).date() == GAME_DATE
    assert warehouse.query("batch_latest", {"game_date": None})["batch_id"].tolist() == ["b1"]


def test_records_hold_dates_as_dates_aware_utc_timestamps_and_none_for_null(warehouse: Warehouse) -> None:
    start_batch(warehouse, "b1", status="loading")
    update_batch(warehouse, "b1", status="running", expected=12, published=10)

    (batch,) = warehouse.records("batch_get", {"batch_id": "b1"})

    assert {key: batch[key] for key in ("batch_id", "status", "expected", "error", "finished_at")} == {
        "batch_id": "b1",
        "status": "running",
        "expected": 12,
        "error": None,
        "finished_at": None,
    }
    assert type(batch["game_date"]) is date and batch["game_date"] == GAME_DATE
    assert type(batch["expected"]) is int
    assert batch["created_at"] == NOW and batch["created_at"].utcoffset() == timedelta(0)
    assert warehouse.records("batch_get", {"batch_id": "nope"}) == []


def test_updating_a_batch_that_does_not_exist_changes_no_rows(warehouse: Warehouse) -> None:
    assert update_batch(warehouse, "nope", status="failed") == 0


def test_appended_predictions_show_in_the_predictions_view_with_their_values(warehouse: Warehouse) -> None:
    start_batch(warehouse, "b1")

    handed_over = warehouse.append(
        "predictions_raw", [prediction("b1", 1), prediction("b1", 2, line=None, recommendation="NO_LINE")]
    )

    assert handed_over == 2
    rows = batch_predictions(warehouse, "b1").sort_values("player_id")
    assert rows["player_id"].tolist() == [1, 2]
    assert rows["recommendation"].tolist() == ["OVER", "NO_LINE"]
    assert rows["line"].iloc[0] == 20.5 and pd.isna(rows["line"].iloc[1])


def test_a_redelivered_prediction_leaves_one_row_in_the_predictions_view(warehouse: Warehouse) -> None:
    start_batch(warehouse, "b1")
    first = prediction("b1", 1)
    warehouse.append("predictions_raw", [first, prediction("b1", 2)])

    # Pub/Sub delivers the message again; the worker writes the same prediction id once more.
    warehouse.append("predictions_raw", [prediction("b1", 1, message_id="m2", delivery_attempt=2)])
    warehouse.append("predictions_raw", [first])

    rows = batch_predictions(warehouse, "b1")
    assert sorted(rows["player_id"]) == [1, 2]
    assert progress(warehouse, "b1") == {"completed": 2, "failed": 0, "skipped": 0}


def test_a_redelivered_outcome_is_reported_once(warehouse: Warehouse) -> None:
    start_batch(warehouse, "b1")
    failed = outcome("b1", 5, Outcome.FAILED, "invalid_payload")

    warehouse.append("player_outcomes", [failed])
    warehouse.append("player_outcomes", [failed])

    outcomes = warehouse.query("batch_outcomes", {"batch_id": "b1"})
    assert outcomes[["player_id", "outcome", "reason"]].to_dict("records") == [
        {"player_id": 5, "outcome": "failed", "reason": "invalid_payload"}
    ]
    assert progress(warehouse, "b1")["failed"] == 1


def test_predictions_of_a_superseded_batch_leave_the_view(warehouse: Warehouse) -> None:
    start_batch(warehouse, "old")
    start_batch(warehouse, "new")
    warehouse.append("predictions_raw", [prediction("old", 1), prediction("new", 1)])

    update_batch(warehouse, "old", status="superseded", superseded_by="new")

    assert batch_predictions(warehouse, "old").empty
    assert batch_predictions(warehouse, "new")["player_id"].tolist() == [1]


def test_a_superseded_batch_stays_superseded_whatever_is_written_to_it(warehouse: Warehouse) -> None:
    start_batch(warehouse, "old")
    update_batch(warehouse, "old", status="superseded", superseded_by="new")

    # A coordinator still working on it moves it on: the other fields change, the status does not.
    assert update_batch(warehouse, "old", status="running", published=7) == 1

    row = warehouse.query("batch_get", {"batch_id": "old"}).iloc[0]
    assert row["status"] == "superseded" and int(row["published"]) == 7


def test_an_update_from_a_status_applies_only_in_that_status(warehouse: Warehouse) -> None:
    start_batch(warehouse, "b1", status="running")

    assert update_batch(warehouse, "b1", status="complete", from_status="publishing") == 0
    assert warehouse.query("batch_get", {"batch_id": "b1"}).at[0, "status"] == "running"
    assert update_batch(warehouse, "b1", status="complete", from_status="running") == 1
    # The second of two racing completions changes nothing: the caller knows it lost.
    assert update_batch(warehouse, "b1", status="complete", from_status="running") == 0
    assert warehouse.query("batch_get", {"batch_id": "b1"}).at[0, "status"] == "complete"


def test_rows_missing_a_required_column_are_refused_whole(warehouse: Warehouse) -> None:
    start_batch(warehouse, "b1")
    broken = prediction("b1", 2)
    del broken["model_version"]

    with pytest.raises(ValueError, match="model_version"):
        warehouse.append("predictions_raw", [prediction("b1", 1), broken])

    assert batch_predictions(warehouse, "b1").empty


def test_loading_rows_whose_keys_exist_keeps_the_first_row_of_each_key(warehouse: Warehouse) -> None:
    def batches(ids: list[str], status: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "batch_id": ids,
                "game_date": GAME_DATE,
                "status": status,
                "expected": 0,
                "published": 0,
                "skipped": 0,
                "created_at": NOW,
                "updated_at": NOW,
            }
        )

    warehouse.load_frame("batches", batches(["a", "b"], "complete"))
    handed_over = warehouse.load_frame("batches", batches(["a", "b", "c", "c"], "failed"))

    assert handed_over == 4
    statuses = {b: warehouse.query("batch_get", {"batch_id": b})["status"].tolist() for b in "abc"}
    assert statuses == {"a": ["complete"], "b": ["complete"], "c": ["failed"]}


def test_a_key_loaded_again_under_another_partition_date_keeps_its_first_row(warehouse: Warehouse) -> None:
    def game(game_id: str, day: date, home: int, away: int) -> dict[str, Any]:
        return {"game_id": game_id, "game_date": day, "tipoff_utc": None, "home_team_id": home,
                "away_team_id": away, "season": "2026-27", "phase": "regular"}  # fmt: skip

    warehouse.load_frame(
        "teams", pd.DataFrame({"team_id": [1, 2, 3, 4], "abbreviation": ["A", "B", "C", "D"], "name": "Team"})
    )
    warehouse.load_frame("players", pd.DataFrame({"player_id": [7, 9], "name": "P", "team_id": [1, 3]}))
    first, later = date(2026, 12, 1), date(2027, 1, 15)
    warehouse.load_frame("schedule", pd.DataFrame([game("G1", first, 1, 2)]))
    # G1 again, re-dated to another month (a postponed game keeps its id), with a new game G2.
    warehouse.load_frame("schedule", pd.DataFrame([game("G1", later, 1, 2), game("G2", later, 3, 4)]))

    def games_on(day: date) -> list[str]:
        return sorted(
            set(warehouse.query("slate", {"start_date": day, "end_date": day, "rostered": True})["game_id"])
        )

    assert (games_on(first), games_on(later)) == (["G1"], ["G2"])


# -- batch bookkeeping ------------------------------------------------------------------------------


def test_only_one_of_two_claims_on_the_same_generation_wins_the_batch_lock(warehouse: Warehouse) -> None:
    assert warehouse.execute("batch_lock_init", {"game_date": GAME_DATE, "now": NOW}) == 1
    assert warehouse.execute("batch_lock_init", {"game_date": GAME_DATE, "now": NOW}) == 0
    lock = warehouse.query("batch_lock_get", {"game_date": GAME_DATE})
    generation = int(lock.at[0, "generation"])
    assert generation == 0 and pd.isna(lock.at[0, "batch_id"])

    def claim(batch_id: str) -> int:
        return warehouse.execute(
            "batch_lock_claim",
            {"game_date": GAME_DATE, "expected": generation, "batch_id": batch_id, "now": NOW},
        )

    assert claim("first") == 1
    assert claim("second") == 0  # it read generation 0 too, but the first claim moved it on
    lock = warehouse.query("batch_lock_get", {"game_date": GAME_DATE})
    assert lock[["generation", "batch_id"]].to_dict("records") == [{"generation": 1, "batch_id": "first"}]


def test_progress_counts_what_the_tables_hold_for_the_batch(warehouse: Warehouse) -> None:
    start_batch(warehouse, "b1")
    start_batch(warehouse, "other")
    warehouse.append("predictions_raw", [prediction("b1", p) for p in (1, 2, 3)])
    warehouse.append("predictions_raw", [prediction("other", 9)])
    warehouse.append(
        "player_outcomes",
        [
            outcome("b1", 4, Outcome.FAILED),
            outcome("b1", 5, Outcome.DEAD_LETTERED),
            outcome("b1", 6, Outcome.SKIPPED, "injured_out"),
            # Failed once, then predicted on a redelivery: it counts as completed only.
            outcome("b1", 3, Outcome.FAILED),
            outcome("other", 7, Outcome.SKIPPED),
        ],
    )

    assert progress(warehouse, "b1") == {"completed": 3, "failed": 2, "skipped": 1}
    assert progress(warehouse, "nobody") == {"completed": 0, "failed": 0, "skipped": 0}


def test_progress_counts_only_the_players_the_batch_expects(warehouse: Warehouse) -> None:
    start_batch(warehouse, "b1")
    warehouse.append("predictions_raw", [prediction("b1", p) for p in (1, 2, 123)])
    warehouse.append(
        "player_outcomes", [outcome("b1", 3, Outcome.SKIPPED), outcome("b1", 124, Outcome.FAILED)]
    )

    assert progress(warehouse, "b1", range(1, 4)) == {"completed": 2, "failed": 0, "skipped": 1}
