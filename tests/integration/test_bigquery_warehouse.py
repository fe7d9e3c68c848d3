"""BigQueryWarehouse beyond the shared contract: timeouts, parameters, errors, DDL, the write path.

Most tests drive the adapter with a fake ``bigquery.Client`` (tests/support/fake_bigquery.py),
because the emulator runs jobs synchronously and ignores ``job_timeout_ms`` and cancellation: a job
that never finishes can only be staged there. The emulator tests at the end check what it can show.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlglot
from google.api_core import exceptions
from google.cloud import bigquery
from sqlglot import exp

from shared.errors import QueryTimeout, WarehouseFault, WarehouseUnavailable
from shared.features.window import history_params
from shared.schema import TABLES, VIEWS
from shared.settings import Settings
from shared.sql import SqlStatement, statement
from shared.warehouse import Warehouse
from shared.warehouse.bigquery import STAGING_PREFIX, BigQueryWarehouse
from tests.support.bq_emulator import BigQueryEmulator
from tests.support.fake_bigquery import FakeBigQueryClient, JobPlan
from tests.support.stub_bigquery_api import StubBigQueryApi

pytestmark = pytest.mark.timeout(60)

DATASET = "nba"
GAME_DATE = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def make(
    plan: Callable[[str], JobPlan] | None = None, **options: Any
) -> tuple[BigQueryWarehouse, FakeBigQueryClient]:
    client = FakeBigQueryClient(plan)
    return BigQueryWarehouse(client, DATASET, **options), client  # type: ignore[arg-type]


def plan_for(fragment: str, special: JobPlan) -> Callable[[str], JobPlan]:
    """`special` for the jobs whose SQL contains `fragment`, an instant success for the others."""
    return lambda sql: special if fragment in sql else JobPlan()


def batch_update_params(**changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = dict.fromkeys(statement("batch_update").params)
    params.update(batch_id="b1", now=NOW, **changes)
    return params


def prediction(player_id: int, **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "prediction_id": f"b1-{player_id}",
        "batch_id": "b1",
        "game_date": GAME_DATE,
        "game_id": "g1",
        "player_id": np.int64(player_id),
        "player_name": "A Player",
        "team_abbr": "BOS",
        "opponent_abbr": "NYK",
        "line": float("nan"),
        "bookmaker": None,
        "predicted_points": 21.5,
        "edge": None,
        "recommendation": "NO_LINE",
        "confidence": 0.5,
        "prob_over": None,
        "model_version": "v8",
        "feature_set_hash": "abc",
        "written_at": NOW,
    }
    row.update(changes)
    return row


# -- the timeout --------------------------------------------------------------------------------------


def test_every_job_carries_its_limit_as_job_timeout_ms() -> None:
    warehouse, client = make(default_timeout_s=42)

    warehouse.create_schema()
    warehouse.query("slate", {"start_date": GAME_DATE, "end_date": GAME_DATE, "rostered": True}, timeout_s=7)
    warehouse.execute("batch_update", batch_update_params(status="running"))
    warehouse.append("batches", [{"batch_id": "b", "game_date": GAME_DATE, "status": "loading",
                                  "expected": 0, "published": 0, "skipped": 0,
                                  "created_at": NOW, "updated_at": NOW}])  # fmt: skip

    limits = [int(s.config.job_timeout_ms) for s in client.submitted]
    assert len(limits) == len(TABLES) + len(VIEWS) + 3  # DDL, the query, the update, the load's copy
    slate = next(s for s in client.submitted if s.sql == statement("slate").bigquery)
    assert int(slate.config.job_timeout_ms) == 7000
    assert {limit for s, limit in zip(client.submitted, limits, strict=True) if s is not slate} == {42000}
    (load,) = client.loads
    assert int(load.config.job_timeout_ms) == 42000


def test_a_query_that_never_finishes_is_cancelled_and_raises_query_timeout() -> None:
    warehouse, client = make(plan_for("FROM schedule", JobPlan(polls_until_done=None)))

    with pytest.raises(QueryTimeout) as raised:
        warehouse.query(
            "slate", {"start_date": GAME_DATE, "end_date": GAME_DATE, "rostered": True}, timeout_s=0.3
        )

    assert (raised.value.query, raised.value.timeout_s) == ("slate", 0.3)
    assert raised.value.elapsed_s >= 0.3
    assert "slate" in str(raised.value) and "0.3 s" in str(raised.value)
    job = client.job_for("FROM schedule")
    assert client.cancelled == [job.job_id]
    # The client's wait was bounded: it polled, and no single poll could outlast the limit.
    assert job.polls > 1
    assert all(t is not None and t <= 0.3 for t in job.done_timeouts)


def test_a_job_insert_that_outlasts_the_limit_is_cancelled_by_the_id_it_was_given() -> None:
    warehouse, client = make(plan_for("FROM schedule", JobPlan(insert_hangs=True)))

    with pytest.raises(QueryTimeout) as raised:
        warehouse.query(
            "slate", {"start_date": GAME_DATE, "end_date": GAME_DATE, "rostered": True}, timeout_s=0.2
        )

    assert raised.value.query == "slate"
    assert client.jobs == []  # the insert never returned a job
    assert client.cancelled == [client.submitted[-1].job_id]


def test_a_job_the_server_stopped_at_its_timeout_raises_query_timeout() -> None:
    stopped = JobPlan(error_result={"reason": "timeout", "message": "Job timed out after 7 sec"})
    warehouse, _ = make(plan_for("FROM player_game_logs", stopped))

    with pytest.raises(QueryTimeout, match="history"):
        warehouse.query("history", history_params(GAME_DATE, [1, 2]), timeout_s=7)


def test_a_query_that_finishes_in_time_is_not_cancelled() -> None:
    rows = pd.DataFrame({"batch_id": ["b1"]})
    warehouse, client = make(plan_for("FROM batches", JobPlan(polls_until_done=3, frame=rows)))

    frame = warehouse.query("batch_latest", {"game_date": None}, timeout_s=30)

    assert frame["batch_id"].tolist() == ["b1"]
    assert client.cancelled == []


# -- the client library's own calls (a real client over a scripted HTTP layer) ---------------------


def over(api: StubBigQueryApi) -> BigQueryWarehouse:
    return BigQueryWarehouse(api.client(), DATASET, location="US", default_timeout_s=30)


def test_a_job_insert_whose_answer_was_lost_is_waited_for_under_its_own_id() -> None:
    # The insert creates the job but its answer is lost; the client re-sends it and hears 409; the
    # job is then briefly invisible to jobs.get.
    api = StubBigQueryApi(lost_insert_answers=1, invisible_gets=1, pages=2)

    frame = over(api).query("batch_latest", {"game_date": None})

    assert frame["player_id"].tolist() == [1, 2]
    inserts = api.of_kind("insert")
    assert len(inserts) == 2 and len({call.job_id for call in inserts}) == 1  # one job, never a second
    assert api.of_kind("cancel") == []


def test_result_pages_are_fetched_within_the_limit_and_no_page_is_asked_for_after_it() -> None:
    limit, delay = 1.0, 0.1
    api = StubBigQueryApi(pages=40, page_delay_s=delay)  # 4 s of pages for a 1 s limit
    started = time.monotonic()

    with pytest.raises(QueryTimeout) as raised:
        over(api).query("batch_latest", {"game_date": None}, timeout_s=limit)

    assert raised.value.query == "batch_latest"
    pages = api.of_kind("page")
    assert len(pages) < 40
    # The download stops at the deadline: a page asked for later would be one nobody reads. (The
    # client gives each page request at least 120 s of transport timeout, hence the own deadline.)
    assert all(page.at - started <= limit + delay for page in pages), pages
    assert api.of_kind("cancel") == []  # the job itself had finished: nothing to stop


def test_a_result_page_that_never_answers_ends_in_query_timeout_at_the_limit() -> None:
    api = StubBigQueryApi(pages=3, hanging_page=2, hang_cap_s=5.0)

    with pytest.raises(QueryTimeout) as raised:
        over(api).query("batch_latest", {"game_date": None}, timeout_s=1.0)

    # The caller hears at its limit, not when the hanging request's transport gives up.
    assert raised.value.elapsed_s < api.hang_cap_s
    assert [call.page for call in api.of_kind("page")][:2] == [1, 2]


# -- SQL and parameters -------------------------------------------------------------------------------


def test_a_statement_runs_as_written_in_its_file_against_the_default_dataset() -> None:
    warehouse, client = make()

    warehouse.query("lines", {"start_date": GAME_DATE, "end_date": GAME_DATE, "player_ids": [3, 1]})

    (submitted,) = client.submitted
    assert submitted.sql == statement("lines").bigquery
    assert "2026" not in submitted.sql  # values travel as parameters, never in the text
    assert submitted.config.default_dataset.path == "/projects/fake-project/datasets/nba"
    assert submitted.config.use_legacy_sql is False


def test_parameters_take_their_types_from_the_sql_header_even_when_null() -> None:
    warehouse, client = make()

    warehouse.query("batch_latest", {"game_date": None})
    warehouse.query("history", history_params(GAME_DATE, [np.int64(5), 3]))

    latest, history = (s.config.query_parameters for s in client.submitted)
    assert latest == [bigquery.ScalarQueryParameter("game_date", "DATE", None)]
    by_name = {p.name: p for p in history}
    assert by_name["player_ids"] == bigquery.ArrayQueryParameter("player_ids", "INT64", [3, 5])
    assert by_name["game_date"] == bigquery.ScalarQueryParameter("game_date", "DATE", GAME_DATE)
    assert by_name["max_games"].type_ == "INT64"


def test_null_parameters_of_an_update_keep_their_declared_types() -> None:
    warehouse, client = make()

    warehouse.execute("batch_update", batch_update_params(status="failed"))

    types = {p.name: (p.type_, p.value) for p in client.submitted[0].config.query_parameters}
    assert types["status"] == ("STRING", "failed")
    assert types["expected"] == ("INT64", None)
    assert types["finished_at"] == ("TIMESTAMP", None)
    assert types["now"] == ("TIMESTAMP", NOW)


def test_a_value_of_the_wrong_type_is_refused_before_anything_is_sent() -> None:
    warehouse, client = make()

    with pytest.raises(TypeError, match="@batch_id is declared STRING"):
        warehouse.query("batch_get", {"batch_id": 42})
    with pytest.raises(ValueError, match="expected parameters"):
        warehouse.query("batch_get", {"batch": "b1"})

    assert client.submitted == []


# -- results and affected rows ------------------------------------------------------------------------


def test_execute_returns_the_rows_the_statement_changed() -> None:
    warehouse, _ = make(plan_for("UPDATE batch_locks", JobPlan(dml_affected_rows=0)))
    claim = {"game_date": GAME_DATE, "expected": 0, "batch_id": "b1", "now": NOW}

    assert warehouse.execute("batch_lock_claim", claim) == 0


def test_a_dml_statement_that_lost_a_concurrent_update_is_run_again() -> None:
    conflict = {
        "reason": "invalidQuery",
        "message": "Could not serialize access to table due to concurrent update",
    }
    outcomes = iter([JobPlan(error_result=conflict), JobPlan(dml_affected_rows=1)])
    warehouse, client = make(lambda _sql: next(outcomes))

    changed = warehouse.execute(
        "batch_lock_claim", {"game_date": GAME_DATE, "expected": 0, "batch_id": "b", "now": NOW}
    )

    assert changed == 1
    assert len(client.submitted) == 2


# -- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "plan",
    [
        JobPlan(insert_error=exceptions.ServiceUnavailable("backend down")),
        JobPlan(insert_error=exceptions.Forbidden("slow down", errors=[{"reason": "rateLimitExceeded"}])),
        JobPlan(error_result={"reason": "backendError", "message": "try again"}),
    ],
    ids=["http-503", "rate-limited", "job-backend-error"],
)
def test_errors_that_may_pass_become_warehouse_unavailable(plan: JobPlan) -> None:
    warehouse, _ = make(lambda _sql: plan)

    with pytest.raises(WarehouseUnavailable, match="batch_get"):
        warehouse.query("batch_get", {"batch_id": "b1"})


@pytest.mark.parametrize(
    ("plan", "error"),
    [
        (JobPlan(error_result={"reason": "invalidQuery", "message": "Syntax error"}), exceptions.BadRequest),
        (JobPlan(insert_error=exceptions.NotFound("Not found: Table nba.batches")), exceptions.NotFound),
    ],
    ids=["bad-sql", "missing-table"],
)
def test_errors_a_retry_cannot_fix_propagate_unchanged(plan: JobPlan, error: type[Exception]) -> None:
    warehouse, _ = make(lambda _sql: plan)

    with pytest.raises(error):
        warehouse.query("batch_get", {"batch_id": "b1"})


def test_a_refused_permission_is_warehouse_unavailable_naming_it_and_is_not_retried() -> None:
    denied = JobPlan(insert_error=exceptions.Forbidden("denied", errors=[{"reason": "accessDenied"}]))
    warehouse, client = make(lambda _sql: denied)

    with pytest.raises(WarehouseUnavailable, match="permission denied") as raised:
        warehouse.execute("batch_update", batch_update_params(status="failed"))

    assert raised.value.fault is WarehouseFault.PERMISSION_DENIED
    assert len(client.submitted) == 1
    assert warehouse.write_failure is raised.value


# -- the write path ----------------------------------------------------------------------------------


def test_predictions_are_streamed_with_the_prediction_id_as_insert_id() -> None:
    warehouse, client = make()

    handed_over = warehouse.append("predictions_raw", [prediction(1), prediction(2)])

    assert handed_over == 2
    ((table, rows, row_ids),) = client.streamed
    assert table == "fake-project.nba.predictions_raw"
    assert row_ids == ["b1-1", "b1-2"]
    assert rows[0]["game_date"] == "2026-12-01"
    assert rows[0]["written_at"] == "2026-12-01T22:00:00+00:00"
    assert rows[0]["player_id"] == 1 and rows[0]["line"] is None  # NaN is NULL: NO_LINE
    json.dumps(rows)  # plain JSON, no numpy or datetime objects left
    assert client.submitted == []  # no DML on the table the workers write


@pytest.mark.parametrize("table", ["batches", "batch_locks"])
def test_tables_changed_by_dml_are_loaded_never_streamed(table: str) -> None:
    warehouse, client = make()
    row = {"batch_id": "b", "game_date": GAME_DATE, "status": "loading", "expected": 0, "published": 0,
           "skipped": 0, "created_at": NOW, "updated_at": NOW, "generation": 0,
           "claimed_at": NOW}  # fmt: skip

    warehouse.append(table, [row])

    assert client.streamed == []
    (load,) = client.loads
    assert load.destination.startswith(f"fake-project.nba.{STAGING_PREFIX}{table}_")
    (copy,) = client.submitted
    assert copy.sql.startswith(f"INSERT INTO `fake-project.nba.{table}`")
    assert "NOT EXISTS" in copy.sql


def test_rows_refused_by_the_streaming_api_raise() -> None:
    warehouse, client = make()
    client.stream_errors = [{"index": 0, "errors": [{"reason": "invalid", "message": "no such field"}]}]

    with pytest.raises(ValueError, match="refused rows"):
        warehouse.append("predictions_raw", [prediction(1)])


def test_a_load_into_a_partitioned_table_filters_the_partitions_it_checks_for_existing_keys() -> None:
    warehouse, client = make()
    frame = pd.DataFrame([prediction(1, game_date=date(2026, 11, 30)), prediction(2)])

    warehouse.load_frame("predictions_raw", frame)

    (copy,) = client.submitted
    assert "t.game_date BETWEEN @first_day AND @last_day" in copy.sql
    assert {p.name: p.value for p in copy.config.query_parameters} == {
        "first_day": date(2026, 11, 30),
        "last_day": GAME_DATE,
    }


def test_a_load_into_a_table_whose_key_omits_the_partition_date_checks_every_partition() -> None:
    warehouse, client = make()
    game = {"game_id": "G1", "game_date": GAME_DATE, "home_team_id": 1, "away_team_id": 2,
            "season": "2026-27", "phase": "regular"}  # fmt: skip

    warehouse.load_frame("schedule", pd.DataFrame([game]))

    (copy,) = client.submitted
    assert "NOT EXISTS" in copy.sql and "game_date" not in copy.sql.split("NOT EXISTS", 1)[1]
    assert list(copy.config.query_parameters) == []


# -- schema -------------------------------------------------------------------------------------------


def test_the_ddl_partitions_clusters_and_requires_a_partition_filter_without_primary_keys() -> None:
    warehouse, client = make()

    warehouse.create_schema()

    ddl = {s.sql.split("`")[1].rsplit(".", 1)[1]: s.sql for s in client.submitted}
    assert set(ddl) == {t.name for t in TABLES} | set(VIEWS)
    assert not any("PRIMARY KEY" in sql for sql in ddl.values())  # not enforced, and the emulator rejects it
    raw = ddl["predictions_raw"]
    assert raw.startswith("CREATE TABLE IF NOT EXISTS `fake-project.nba.predictions_raw`")
    assert "PARTITION BY game_date" in raw and "CLUSTER BY batch_id, player_id" in raw
    assert "require_partition_filter = TRUE" in raw


def test_creating_the_schema_adds_the_nullable_columns_an_older_table_lacks() -> None:
    warehouse, client = make()
    current = next(t for t in TABLES if t.name == "predictions_raw")
    nullable_tail = [c for c in current.columns[-2:] if not c.required]
    assert nullable_tail, "the test needs a table whose last columns are nullable"
    client.old_schemas["predictions_raw"] = [
        bigquery.SchemaField(c.name, c.type.value, mode="REQUIRED" if c.required else "NULLABLE")
        for c in current.columns[: -len(nullable_tail)]
    ]

    warehouse.create_schema()

    ((updated, fields),) = client.updated
    assert fields == ["schema"]
    assert [f.name for f in updated.schema] == current.column_names
    assert {f.mode for f in updated.schema[-len(nullable_tail) :]} == {"NULLABLE"}


def test_a_required_column_missing_from_an_older_table_stops_schema_creation() -> None:
    warehouse, client = make()
    client.old_schemas["batches"] = [bigquery.SchemaField("batch_id", "STRING", mode="REQUIRED")]

    with pytest.raises(ValueError, match="REQUIRED columns"):
        warehouse.create_schema()

    assert client.updated == []


def test_views_are_created_with_dataset_qualified_tables() -> None:
    warehouse, client = make()

    warehouse.create_schema()

    view = next(s.sql for s in client.submitted if "VIEW `fake-project.nba.predictions`" in s.sql)
    assert view.startswith("CREATE OR REPLACE VIEW")
    assert "FROM `fake-project`.`nba`.predictions_raw AS r" in view
    assert "JOIN `fake-project`.`nba`.batches AS b" in view


def test_every_statement_reading_a_table_that_requires_a_partition_filter_has_one() -> None:
    # BigQuery refuses such a query outright; the emulator does not, so this is checked statically.
    guarded = {t.name: t.partition_by for t in TABLES if t.require_partition_filter and t.partition_by}
    guarded["predictions"] = "game_date"  # the view over predictions_raw passes the filter through
    names = sorted(
        p.name[: -len(".sql")] for p in resources.files("shared.sql").iterdir() if p.name.endswith(".sql")
    )
    checked = 0
    for name in names:
        if name.endswith("_view"):
            continue  # a view is filtered by the statements that read it
        tree = sqlglot.parse_one(statement(name).bigquery, read="bigquery")
        for ref in tree.find_all(exp.Table):
            if ref.name not in guarded or isinstance(ref.parent, exp.Insert | exp.Schema):
                continue
            select = ref.find_ancestor(exp.Select)
            where = select.args.get("where") if select is not None else None
            filtered = where is not None and any(
                c.name == guarded[ref.name] for c in where.find_all(exp.Column)
            )
            assert filtered, f"{name}.sql reads {ref.name} without a filter on {guarded[ref.name]}"
            checked += 1
    assert checked >= 3  # batch_predictions, batch_progress, ...: the check did look at something


def test_bigquery_settings_without_a_project_are_refused() -> None:
    settings = Settings.model_construct(bigquery_project=None)

    with pytest.raises(ValueError, match="NBA_PROPS_BIGQUERY_PROJECT"):
        BigQueryWarehouse.from_settings(settings)


# -- on the emulator ---------------------------------------------------------------------------------


@pytest.fixture
def emulated(bq_emulator: BigQueryEmulator, bq_dataset: str) -> Iterator[BigQueryWarehouse]:
    warehouse = BigQueryWarehouse(bq_emulator.client(), bq_dataset, default_timeout_s=60)
    warehouse.create_schema()
    yield warehouse
    warehouse.close()


@pytest.mark.emulator
# The emulator reports the flag only on time_partitioning, whose accessor is pending deprecation.
@pytest.mark.filterwarnings("ignore:TimePartitioning.require_partition_filter:PendingDeprecationWarning")
def test_the_created_predictions_table_is_partitioned_by_date_and_requires_a_partition_filter(
    emulated: BigQueryWarehouse, bq_client: bigquery.Client
) -> None:
    raw = bq_client.get_table(f"{emulated.dataset_id}.predictions_raw")

    assert raw.time_partitioning is not None
    assert raw.time_partitioning.field == "game_date"
    assert raw.time_partitioning.require_partition_filter is True
    assert [f.name for f in raw.schema] == [
        c.name for c in next(t for t in TABLES if t.name == "predictions_raw").columns
    ]


@pytest.mark.emulator
def test_a_slow_query_on_the_emulator_times_out_with_the_query_named(
    emulated: BigQueryWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ~1 s of work on the emulator; it runs jobs synchronously, so the insert call itself is what
    # outlasts the limit (job_timeout_ms and cancel are accepted and ignored there).
    slow = SqlStatement(
        name="slate",
        bigquery="SELECT SUM(MOD(a * b, 7)) AS s FROM UNNEST(GENERATE_ARRAY(1, 10000)) AS a"
        " CROSS JOIN UNNEST(GENERATE_ARRAY(1, 10000)) AS b WHERE @game_date IS NOT NULL",
        params={"game_date": "DATE"},
    )
    monkeypatch.setattr("shared.warehouse.bigquery.adapter.statement", lambda _name: slow)

    with pytest.raises(QueryTimeout) as raised:
        emulated.query("slate", {"game_date": GAME_DATE}, timeout_s=0.1)

    assert (raised.value.query, raised.value.timeout_s) == ("slate", 0.1)


@pytest.mark.emulator
def test_a_second_adapter_on_the_same_dataset_sees_what_the_first_wrote(
    emulated: BigQueryWarehouse, bq_emulator: BigQueryEmulator
) -> None:
    # What the coordinator and the workers do: separate processes, one dataset.
    other: Warehouse = BigQueryWarehouse(bq_emulator.client(), emulated.dataset)
    emulated.execute(
        "batch_insert", {"batch_id": "b1", "game_date": GAME_DATE, "status": "running", "now": NOW}
    )
    emulated.append("predictions_raw", [prediction(1, batch_id="b1")])

    seen = other.query("batch_predictions", {"batch_id": "b1", "game_date": GAME_DATE})

    assert seen["prediction_id"].tolist() == ["b1-1"]
    other.close()
