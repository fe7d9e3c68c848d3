"""The BigQuery emulator (bqemulator 1.4.0) does what the project's BigQuery adapter needs.

Every test talks to the emulator with the real ``google-cloud-bigquery`` client. Tests marked
``xfail(strict=True)`` assert real BigQuery behaviour the emulator lacks; if a newer emulator
gains it, they XPASS and fail, so this list stays true.

What did NOT work on bqemulator 1.4.0 (measured; design the DDL generator and adapter around it):
- ``PRIMARY KEY (...) NOT ENFORCED`` in DDL (table-level, column-level, ALTER TABLE ADD): HTTP 400,
  DuckDB parser error. ``client.create_table`` with ``table_constraints`` is accepted but the
  constraint is dropped (``table_constraints`` reads back as None).
- ``CLUSTER BY`` in DDL: accepted, not reported (``clustering_fields`` None). Via
  ``client.create_table`` it is reported.
- ``PARTITION BY DATE(ts)`` / ``TIMESTAMP_TRUNC(ts, DAY)``: accepted, not reported.
  ``PARTITION BY date_column`` is reported.
- ``OPTIONS(require_partition_filter=true)``: accepted and reported, but only as
  ``time_partitioning.require_partition_filter`` (``Table.require_partition_filter`` is None), and
  never enforced: a query without a partition filter succeeds.
- ``insert_rows_json`` row_ids: a repeated insertId is stored twice (BigQuery deduplicates).
- A streamed row that violates the schema (NULL in a REQUIRED column, text in INT64) gets HTTP 500
  instead of a per-row insert error; with the client's default retry that is a 10-minute loop, so
  always pass a bounded ``retry``.
- ``load_table_from_json`` (a multipart upload): HTTP 400 "unsupported Content-Type '*/*'".
  ``load_table_from_file`` without ``size`` (a resumable upload) works, but its ``output_rows``
  reports the table's row count instead of the rows loaded.
- ``job_timeout_ms``: ignored. ``job.cancel()``: no effect, since ``client.query`` only returns once
  the query finished (jobs run synchronously and one slow query blocks the whole server).
- Unaliased select expressions get DuckDB names (``count_star()``) instead of ``f0_``: alias all.
- DDL-made tables report legacy type names (INTEGER, FLOAT, BOOLEAN); compare types normalized.
Worked: DDL with DATE/TIMESTAMP/INT64/FLOAT64/STRING/BOOL and NOT NULL, CREATE TABLE IF NOT EXISTS,
CREATE VIEW, CREATE OR REPLACE VIEW, MERGE, UPDATE, DELETE, insert_rows_json, DATE / TIMESTAMP /
INT64 and STRING array query parameters, QUALIFY, ARRAY_AGG(STRUCT(... AS ...) ORDER BY ... LIMIT n),
to_arrow / to_dataframe with ``create_bqstorage_client=False`` (to_dataframe needs ``db-dtypes``).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from google.api_core.exceptions import BadRequest, GoogleAPICallError, InternalServerError
from google.api_core.retry import Retry
from google.cloud import bigquery
from google.cloud.bigquery.table import PrimaryKey, TableConstraints

pytestmark = pytest.mark.emulator

# Bounded everywhere: the client's defaults retry for 10 minutes, and the emulator answers some
# inputs with HTTP 500 (see above).
RETRY = Retry(initial=0.1, maximum=1.0, multiplier=2.0, timeout=15.0)
NO_RETRY = Retry(predicate=lambda _error: False)
WAIT_S = 30.0
JOB_TIMEOUT_MS = 30_000

# ~1 s of work on the emulator (2 cores): long enough that a 100 ms job timeout or a cancel
# would land mid-query on BigQuery.
SLOW_QUERY = (
    "SELECT SUM(MOD(a * b, 7)) AS s"
    " FROM UNNEST(GENERATE_ARRAY(1, 10000)) AS a CROSS JOIN UNNEST(GENERATE_ARRAY(1, 10000)) AS b"
)

BOX_SCORES_DDL = """
CREATE TABLE `{dataset}.box_scores` (
  game_date DATE NOT NULL,
  tipoff TIMESTAMP,
  player_id INT64 NOT NULL,
  points FLOAT64,
  player_name STRING,
  is_home BOOL
)
"""
BOX_SCORES_SCHEMA = [
    bigquery.SchemaField("game_date", "DATE", mode="REQUIRED"),
    bigquery.SchemaField("tipoff", "TIMESTAMP"),
    bigquery.SchemaField("player_id", "INT64", mode="REQUIRED"),
    bigquery.SchemaField("points", "FLOAT64"),
    bigquery.SchemaField("player_name", "STRING"),
    bigquery.SchemaField("is_home", "BOOL"),
]
_STANDARD_TYPE = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL"}

GAME_DAY = dt.date(2025, 1, 15)
TIPOFF = dt.datetime(2025, 1, 15, 19, 30, tzinfo=dt.UTC)


def run(
    client: bigquery.Client,
    sql: str,
    params: Iterable[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter] = (),
    *,
    job_timeout_ms: int = JOB_TIMEOUT_MS,
) -> bigquery.QueryJob:
    """Run ``sql`` to completion the way the adapter will: parameters, job timeout, bounded waits."""
    config = bigquery.QueryJobConfig(query_parameters=list(params), job_timeout_ms=job_timeout_ms)
    job = client.query(sql, job_config=config, retry=RETRY, job_retry=None, timeout=WAIT_S)
    job.result(timeout=WAIT_S, retry=RETRY, job_retry=None)
    return job


def rows(client: bigquery.Client, sql: str, *params: Any) -> list[dict[str, Any]]:
    """The result rows of ``sql`` as dicts."""
    result = run(client, sql, params).result(timeout=WAIT_S, retry=RETRY, job_retry=None)
    return [dict(row.items()) for row in result]


def column_types(table: bigquery.Table) -> list[tuple[str, str, str]]:
    return [(f.name, _STANDARD_TYPE.get(f.field_type, f.field_type), f.mode) for f in table.schema]


def box_score(player_id: int, points: float, *, day: dt.date = GAME_DAY) -> dict[str, Any]:
    return {
        "game_date": day.isoformat(),
        "tipoff": TIPOFF.isoformat(),
        "player_id": player_id,
        "points": points,
        "player_name": f"player {player_id}",
        "is_home": player_id % 2 == 0,
    }


def stream(client: bigquery.Client, table: str, records: Sequence[dict[str, Any]]) -> None:
    """``insert_rows_json`` with explicit insertIds, as the adapter sends them."""
    ids = [f"{r['game_date']}:{r['player_id']}" for r in records]
    errors = client.insert_rows_json(table, records, row_ids=ids, retry=RETRY, timeout=WAIT_S)
    assert errors == []


@pytest.fixture
def box_scores(bq_client: bigquery.Client, bq_dataset: str) -> str:
    """``<dataset>.box_scores`` made with DDL and holding six players of one game day."""
    run(bq_client, BOX_SCORES_DDL.format(dataset=bq_dataset))
    table = f"{bq_dataset}.box_scores"
    stream(bq_client, table, [box_score(pid, 10.0 * pid) for pid in range(1, 7)])
    return table


# -- DDL and table metadata --------------------------------------------------------------------------


def test_ddl_creates_a_table_with_every_column_type_the_project_uses(
    bq_client: bigquery.Client, bq_dataset: str
) -> None:
    run(bq_client, BOX_SCORES_DDL.format(dataset=bq_dataset))

    table = bq_client.get_table(f"{bq_dataset}.box_scores", retry=RETRY)
    assert column_types(table) == [
        ("game_date", "DATE", "REQUIRED"),
        ("tipoff", "TIMESTAMP", "NULLABLE"),
        ("player_id", "INT64", "REQUIRED"),
        ("points", "FLOAT64", "NULLABLE"),
        ("player_name", "STRING", "NULLABLE"),
        ("is_home", "BOOL", "NULLABLE"),
    ]


def test_create_table_if_not_exists_leaves_an_existing_table_and_its_rows_alone(
    bq_client: bigquery.Client, box_scores: str
) -> None:
    run(bq_client, f"CREATE TABLE IF NOT EXISTS `{box_scores}` (other STRING)")

    table = bq_client.get_table(box_scores, retry=RETRY)
    assert [f.name for f in table.schema][:2] == ["game_date", "tipoff"]
    assert rows(bq_client, f"SELECT COUNT(*) AS n FROM `{box_scores}`") == [{"n": 6}]


def test_client_create_table_keeps_partitioning_and_clustering(
    bq_client: bigquery.Client, bq_dataset: str
) -> None:
    table = bigquery.Table(f"{bq_client.project}.{bq_dataset}.by_api", schema=BOX_SCORES_SCHEMA)
    table.time_partitioning = bigquery.TimePartitioning(field="game_date")
    table.clustering_fields = ["player_id"]
    bq_client.create_table(table, retry=RETRY, timeout=WAIT_S)

    got = bq_client.get_table(table.reference, retry=RETRY)
    assert column_types(got) == column_types(table)
    assert got.time_partitioning is not None and got.time_partitioning.field == "game_date"
    assert got.clustering_fields == ["player_id"]


# Reading TimePartitioning.require_partition_filter warns; it is where the emulator puts the flag.
@pytest.mark.filterwarnings("ignore:TimePartitioning.require_partition_filter:PendingDeprecationWarning")
def test_ddl_partition_by_a_date_column_with_require_partition_filter_is_reported(
    bq_client: bigquery.Client, bq_dataset: str
) -> None:
    run(
        bq_client,
        f"CREATE TABLE `{bq_dataset}.partitioned` (game_date DATE NOT NULL, player_id INT64)"
        " PARTITION BY game_date CLUSTER BY player_id"
        " OPTIONS(require_partition_filter = TRUE, description = 'box scores')",
    )

    table = bq_client.get_table(f"{bq_dataset}.partitioned", retry=RETRY)
    partitioning = table.time_partitioning
    assert partitioning is not None and partitioning.field == "game_date"
    # BigQuery reports the flag on the table; the emulator only inside time_partitioning.
    assert table.require_partition_filter or partitioning.require_partition_filter
    assert table.description == "box scores"


@pytest.mark.xfail(strict=True, reason="bqemulator 1.4.0 accepts CLUSTER BY in DDL but drops it")
def test_ddl_cluster_by_is_reported_in_table_metadata(bq_client: bigquery.Client, bq_dataset: str) -> None:
    run(
        bq_client,
        f"CREATE TABLE `{bq_dataset}.clustered` (game_date DATE, player_id INT64)"
        " PARTITION BY game_date CLUSTER BY player_id",
    )

    assert bq_client.get_table(f"{bq_dataset}.clustered", retry=RETRY).clustering_fields == ["player_id"]


@pytest.mark.xfail(strict=True, reason="bqemulator 1.4.0 accepts PARTITION BY DATE(ts) but drops it")
def test_ddl_partition_by_the_date_of_a_timestamp_is_reported_in_table_metadata(
    bq_client: bigquery.Client, bq_dataset: str
) -> None:
    run(bq_client, f"CREATE TABLE `{bq_dataset}.by_ts` (tipoff TIMESTAMP, x INT64) PARTITION BY DATE(tipoff)")

    partitioning = bq_client.get_table(f"{bq_dataset}.by_ts", retry=RETRY).time_partitioning
    assert partitioning is not None and partitioning.field == "tipoff"


@pytest.mark.xfail(strict=True, reason="bqemulator 1.4.0 never enforces require_partition_filter")
def test_require_partition_filter_rejects_a_query_without_a_partition_filter(
    bq_client: bigquery.Client, bq_dataset: str
) -> None:
    run(
        bq_client,
        f"CREATE TABLE `{bq_dataset}.strict` (game_date DATE, x INT64)"
        " PARTITION BY game_date OPTIONS(require_partition_filter = TRUE)",
    )

    with pytest.raises(BadRequest):
        run(bq_client, f"SELECT COUNT(*) AS n FROM `{bq_dataset}.strict`")


@pytest.mark.xfail(
    strict=True, raises=BadRequest, reason="bqemulator 1.4.0 passes NOT ENFORCED to DuckDB: parse error"
)
def test_primary_key_not_enforced_is_accepted_in_ddl(bq_client: bigquery.Client, bq_dataset: str) -> None:
    run(
        bq_client,
        f"CREATE TABLE `{bq_dataset}.keyed` (game_date DATE, player_id INT64,"
        " PRIMARY KEY (game_date, player_id) NOT ENFORCED)",
    )


@pytest.mark.xfail(strict=True, reason="bqemulator 1.4.0 drops table_constraints given to create_table")
def test_client_create_table_keeps_a_primary_key_constraint(
    bq_client: bigquery.Client, bq_dataset: str
) -> None:
    table = bigquery.Table(f"{bq_client.project}.{bq_dataset}.keyed", schema=BOX_SCORES_SCHEMA)
    table.table_constraints = TableConstraints(
        primary_key=PrimaryKey(columns=["game_date", "player_id"]), foreign_keys=None
    )
    bq_client.create_table(table, retry=RETRY, timeout=WAIT_S)

    constraints = bq_client.get_table(table.reference, retry=RETRY).table_constraints
    assert constraints is not None and constraints.primary_key is not None
    assert constraints.primary_key.columns == ["game_date", "player_id"]


def test_create_or_replace_view_replaces_the_view_definition(
    bq_client: bigquery.Client, box_scores: str, bq_dataset: str
) -> None:
    view = f"{bq_dataset}.top_scorers"
    run(bq_client, f"CREATE VIEW `{view}` AS SELECT player_id FROM `{box_scores}` WHERE points >= 30")
    run(
        bq_client,
        f"CREATE OR REPLACE VIEW `{view}` AS SELECT player_id FROM `{box_scores}` WHERE points >= 50",
    )

    assert bq_client.get_table(view, retry=RETRY).table_type == "VIEW"
    assert rows(bq_client, f"SELECT player_id FROM `{view}` ORDER BY player_id") == [
        {"player_id": 5},
        {"player_id": 6},
    ]


# -- Streaming inserts and loads ---------------------------------------------------------------------


def test_streamed_rows_are_queried_by_game_date_and_player_ids(
    bq_client: bigquery.Client, box_scores: str
) -> None:
    stream(bq_client, box_scores, [box_score(3, 7.0, day=GAME_DAY + dt.timedelta(days=1))])

    got = rows(
        bq_client,
        f"SELECT * FROM `{box_scores}` WHERE game_date = @game_date"
        " AND player_id IN UNNEST(@player_ids) ORDER BY player_id",
        bigquery.ScalarQueryParameter("game_date", "DATE", GAME_DAY),
        bigquery.ArrayQueryParameter("player_ids", "INT64", [2, 3, 99]),
    )

    assert got == [
        {
            "game_date": GAME_DAY,
            "tipoff": TIPOFF,
            "player_id": pid,
            "points": 10.0 * pid,
            "player_name": f"player {pid}",
            "is_home": pid % 2 == 0,
        }
        for pid in (2, 3)
    ]


@pytest.mark.xfail(strict=True, reason="bqemulator 1.4.0 stores a repeated insertId twice")
def test_a_repeated_insert_id_is_stored_once(bq_client: bigquery.Client, box_scores: str) -> None:
    stream(bq_client, box_scores, [box_score(1, 10.0)])  # same insertId as the fixture's row

    assert rows(bq_client, f"SELECT COUNT(*) AS n FROM `{box_scores}` WHERE player_id = 1") == [{"n": 1}]


@pytest.mark.xfail(
    strict=True, raises=InternalServerError, reason="bqemulator 1.4.0 answers HTTP 500, not insertErrors"
)
def test_a_row_breaking_the_schema_comes_back_as_an_insert_error(
    bq_client: bigquery.Client, box_scores: str
) -> None:
    bad = {**box_score(7, 1.0), "player_id": "not a number"}

    # No retry: the client would otherwise retry the emulator's HTTP 500.
    errors = bq_client.insert_rows_json(box_scores, [bad], row_ids=["bad"], retry=NO_RETRY, timeout=WAIT_S)

    assert len(errors) == 1


def test_a_file_object_loads_through_a_resumable_upload(bq_client: bigquery.Client, box_scores: str) -> None:
    ndjson = "\n".join(json.dumps(box_score(pid, 1.0, day=GAME_DAY + dt.timedelta(days=1))) for pid in (8, 9))
    config = bigquery.LoadJobConfig(
        schema=BOX_SCORES_SCHEMA,
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
    )

    # No size: the client then uses a resumable upload, the only kind the emulator accepts.
    job = bq_client.load_table_from_file(io.BytesIO(ndjson.encode()), box_scores, job_config=config)
    job.result(timeout=WAIT_S, retry=RETRY)

    assert rows(
        bq_client,
        f"SELECT COUNT(*) AS n FROM `{box_scores}` WHERE game_date > @d",
        bigquery.ScalarQueryParameter("d", "DATE", GAME_DAY),
    ) == [{"n": 2}]


@pytest.mark.xfail(strict=True, raises=BadRequest, reason="bqemulator 1.4.0 rejects multipart uploads")
def test_load_table_from_json_appends_rows(bq_client: bigquery.Client, box_scores: str) -> None:
    config = bigquery.LoadJobConfig(schema=BOX_SCORES_SCHEMA, write_disposition="WRITE_APPEND")

    job = bq_client.load_table_from_json([box_score(8, 1.0)], box_scores, job_config=config)
    job.result(timeout=WAIT_S, retry=RETRY)

    assert rows(bq_client, f"SELECT COUNT(*) AS n FROM `{box_scores}`") == [{"n": 7}]


# -- Query features ----------------------------------------------------------------------------------


def test_string_array_and_timestamp_parameters_filter_rows(
    bq_client: bigquery.Client, box_scores: str
) -> None:
    got = rows(
        bq_client,
        f"SELECT player_id FROM `{box_scores}`"
        " WHERE player_name IN UNNEST(@names) AND tipoff >= @since AND is_home = @home ORDER BY player_id",
        bigquery.ArrayQueryParameter("names", "STRING", ["player 2", "player 3", "player 4"]),
        bigquery.ScalarQueryParameter("since", "TIMESTAMP", TIPOFF - dt.timedelta(hours=1)),
        bigquery.ScalarQueryParameter("home", "BOOL", True),
    )

    assert got == [{"player_id": 2}, {"player_id": 4}]


def test_qualify_keeps_the_top_scorer_of_each_game_date(bq_client: bigquery.Client, box_scores: str) -> None:
    stream(bq_client, box_scores, [box_score(9, 5.0, day=GAME_DAY + dt.timedelta(days=1))])

    got = rows(
        bq_client,
        f"SELECT game_date, player_id FROM `{box_scores}` WHERE TRUE"
        " QUALIFY ROW_NUMBER() OVER (PARTITION BY game_date ORDER BY points DESC) = 1 ORDER BY game_date",
    )

    assert got == [
        {"game_date": GAME_DAY, "player_id": 6},
        {"game_date": GAME_DAY + dt.timedelta(days=1), "player_id": 9},
    ]


def test_array_agg_of_aliased_structs_is_ordered_and_limited(
    bq_client: bigquery.Client, box_scores: str
) -> None:
    got = rows(
        bq_client,
        "SELECT game_date, ARRAY_AGG(STRUCT(player_id AS player_id, points AS points)"
        f" ORDER BY points DESC LIMIT 2) AS top FROM `{box_scores}` GROUP BY game_date",
    )

    assert got == [
        {"game_date": GAME_DAY, "top": [{"player_id": 6, "points": 60.0}, {"player_id": 5, "points": 50.0}]}
    ]


@pytest.mark.xfail(strict=True, reason="bqemulator 1.4.0 names it count_star(): always alias")
def test_an_unaliased_expression_is_named_f0_(bq_client: bigquery.Client, box_scores: str) -> None:
    assert rows(bq_client, f"SELECT COUNT(*) FROM `{box_scores}`") == [{"f0_": 6}]


# -- DML ---------------------------------------------------------------------------------------------


def test_merge_updates_matching_rows_and_inserts_new_ones(
    bq_client: bigquery.Client, box_scores: str
) -> None:
    job = run(
        bq_client,
        f"MERGE `{box_scores}` AS t"
        " USING (SELECT @game_date AS game_date, 1 AS player_id, 11.5 AS points"
        "        UNION ALL SELECT @game_date, 42, 3.0) AS s"
        " ON t.game_date = s.game_date AND t.player_id = s.player_id"
        " WHEN MATCHED THEN UPDATE SET points = s.points"
        " WHEN NOT MATCHED THEN INSERT (game_date, player_id, points)"
        "   VALUES (s.game_date, s.player_id, s.points)",
        [bigquery.ScalarQueryParameter("game_date", "DATE", GAME_DAY)],
    )

    assert job.num_dml_affected_rows == 2
    assert rows(
        bq_client, f"SELECT player_id, points FROM `{box_scores}` WHERE player_id IN (1, 42) ORDER BY 1"
    ) == [{"player_id": 1, "points": 11.5}, {"player_id": 42, "points": 3.0}]


def test_update_and_delete_report_the_rows_they_changed(bq_client: bigquery.Client, box_scores: str) -> None:
    updated = run(bq_client, f"UPDATE `{box_scores}` SET points = points + 1 WHERE player_id <= 2")
    deleted = run(bq_client, f"DELETE FROM `{box_scores}` WHERE player_id = 6")

    assert (updated.num_dml_affected_rows, deleted.num_dml_affected_rows) == (2, 1)
    assert rows(bq_client, f"SELECT SUM(points) AS total FROM `{box_scores}`") == [{"total": 152.0}]


# -- Results as Arrow / pandas ------------------------------------------------------------------------


def test_query_results_convert_to_arrow_without_the_storage_api(
    bq_client: bigquery.Client, box_scores: str
) -> None:
    result = run(bq_client, f"SELECT * FROM `{box_scores}` ORDER BY player_id").result(
        timeout=WAIT_S, retry=RETRY, job_retry=None
    )

    table = result.to_arrow(create_bqstorage_client=False)

    assert table.num_rows == 6
    assert [str(t) for t in table.schema.types] == [
        "date32[day]",
        "timestamp[us, tz=UTC]",
        "int64",
        "double",
        "string",
        "bool",
    ]


def test_query_results_convert_to_a_dataframe_without_the_storage_api(
    bq_client: bigquery.Client, box_scores: str
) -> None:
    pytest.importorskip("db_dtypes", reason="to_dataframe needs the db-dtypes package in the project venv")
    result = run(bq_client, f"SELECT * FROM `{box_scores}` ORDER BY player_id").result(
        timeout=WAIT_S, retry=RETRY, job_retry=None
    )

    frame = result.to_dataframe(create_bqstorage_client=False)

    assert list(frame["player_id"]) == [1, 2, 3, 4, 5, 6]
    assert frame["game_date"].iloc[0] == GAME_DAY
    assert frame["tipoff"].iloc[0] == TIPOFF


# -- Job control -------------------------------------------------------------------------------------


@pytest.mark.xfail(strict=True, reason="bqemulator 1.4.0 ignores job_timeout_ms")
def test_job_timeout_ms_fails_a_query_that_runs_longer(bq_client: bigquery.Client) -> None:
    with pytest.raises(GoogleAPICallError):
        run(bq_client, SLOW_QUERY, job_timeout_ms=100)


@pytest.mark.xfail(strict=True, reason="bqemulator 1.4.0 runs jobs synchronously: nothing left to cancel")
def test_cancel_stops_a_running_query(bq_client: bigquery.Client) -> None:
    config = bigquery.QueryJobConfig(job_timeout_ms=JOB_TIMEOUT_MS)
    job = bq_client.query(SLOW_QUERY, job_config=config, retry=RETRY, job_retry=None, timeout=WAIT_S)

    job.cancel(retry=RETRY, timeout=WAIT_S)

    with pytest.raises(GoogleAPICallError):
        job.result(timeout=WAIT_S, retry=RETRY, job_retry=None)
