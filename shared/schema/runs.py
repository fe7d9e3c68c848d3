"""What the services write: predictions, batches and their lock, outcomes, grading, alerts."""

from __future__ import annotations

from shared.schema.columns import DATE, FLOAT64, INT64, STRING, TIMESTAMP, Column, Table, cols

PREDICTIONS_RAW = Table(
    "predictions_raw",
    "Append-only prediction rows as workers write them; read through the predictions view.",
    cols(
        ("prediction_id", STRING, True),
        ("batch_id", STRING, True),
        ("game_date", DATE, True),
        ("game_id", STRING, True),
        ("player_id", INT64, True),
        ("player_name", STRING, True),
        ("team_abbr", STRING, True),
        ("opponent_abbr", STRING, True),
        Column("line", FLOAT64, description="NULL means NO_LINE: never a placeholder"),
        ("bookmaker", STRING),
        ("predicted_points", FLOAT64, True),
        ("edge", FLOAT64),
        ("recommendation", STRING, True),
        ("confidence", FLOAT64),
        ("prob_over", FLOAT64),
        ("model_version", STRING, True),
        ("feature_set_hash", STRING, True),
        Column("features_json", STRING, description="The feature vector, for audit and parity checks"),
        Column("context_json", STRING, description="Context features carried in the payload"),
        ("message_id", STRING),
        ("delivery_attempt", INT64),
        ("written_at", TIMESTAMP, True),
        # Appended last: BigQuery (and Terraform) add trailing nullable columns in place.
        Column("over_price", INT64, description="American odds of the line's over; NULL if not offered"),
        Column("under_price", INT64, description="American odds of the line's under; NULL if not offered"),
    ),
    primary_key=("prediction_id",),
    partition_by="game_date",
    cluster_by=("batch_id", "player_id"),
    require_partition_filter=True,
)

BATCHES = Table(
    "batches",
    "One row per nightly run; durable so /status survives restarts.",
    cols(
        ("batch_id", STRING, True),
        ("game_date", DATE, True),
        ("status", STRING, True),
        ("expected", INT64, True),
        ("published", INT64, True),
        ("skipped", INT64, True),
        ("load_metrics_json", STRING),
        ("error", STRING),
        ("superseded_by", STRING),
        ("created_at", TIMESTAMP, True),
        ("updated_at", TIMESTAMP, True),
        ("finished_at", TIMESTAMP),
        Column(
            "players_json",
            STRING,
            description="JSON list of the slate's player ids, the players the batch expects; NULL "
            "until it publishes",
        ),
    ),
    primary_key=("batch_id",),
    cluster_by=("game_date",),
)

BATCH_LOCKS = Table(
    "batch_locks",
    "One claim per game date: the durable guard that lets exactly one /start win, across instances.",
    cols(
        ("game_date", DATE, True),
        ("generation", INT64, True),
        ("batch_id", STRING),
        ("claimed_at", TIMESTAMP, True),
    ),
    primary_key=("game_date",),
)

PLAYER_OUTCOMES = Table(
    "player_outcomes",
    "Every slate player that did not end with a prediction, and why (skipped, failed, dead-lettered).",
    cols(
        ("outcome_id", STRING, True),
        Column("batch_id", STRING, description="NULL when a poison message named no batch"),
        ("game_date", DATE),
        ("player_id", INT64),
        ("outcome", STRING, True),
        ("reason", STRING, True),
        ("detail", STRING),
        ("message_id", STRING),
        ("recorded_at", TIMESTAMP, True),
    ),
    primary_key=("outcome_id",),
    cluster_by=("batch_id",),
)

GRADED_PREDICTIONS_RAW = Table(
    "graded_predictions_raw",
    "One row per prediction per grading run (grade.sql); read through the graded_predictions view, "
    "which keeps each date's latest run, so re-grading replaces a night instead of duplicating it.",
    cols(
        ("grading_run_id", STRING, True),
        ("prediction_id", STRING, True),
        ("batch_id", STRING, True),
        ("game_date", DATE, True),
        ("game_id", STRING, True),
        ("player_id", INT64, True),
        ("player_name", STRING, True),
        ("team_abbr", STRING),
        ("opponent_abbr", STRING),
        ("recommendation", STRING, True),
        Column("line", FLOAT64, description="NULL for NO_LINE"),
        ("bookmaker", STRING),
        ("over_price", INT64),
        ("under_price", INT64),
        ("predicted_points", FLOAT64, True),
        ("edge", FLOAT64),
        ("confidence", FLOAT64),
        ("prob_over", FLOAT64),
        ("model_version", STRING),
        Column("actual_points", INT64, description="NULL when the prediction is void"),
        ("actual_minutes", FLOAT64),
        Column(
            "result",
            STRING,
            True,
            "correct | incorrect | push (OVER/UNDER picks) | no_pick (PASS) | no_line | void",
        ),
        Column("void_reason", STRING, description="dnp_no_box_score | dnp_zero_minutes | results_missing"),
        Column("error", FLOAT64, description="predicted_points - actual_points"),
        ("abs_error", FLOAT64),
        Column("line_error", FLOAT64, description="line - actual_points: the market's own error"),
        Column("profit_units", FLOAT64, description="Per unit staked at the recorded price; 0 on a push"),
        ("graded_at", TIMESTAMP, True),
    ),
    primary_key=("grading_run_id", "prediction_id"),
    partition_by="game_date",
    cluster_by=("player_id",),
)

GRADING_SUMMARIES = Table(
    "grading_summaries",
    "The daily summary of each grading run; the latest run of a date is the current one.",
    cols(
        ("grading_run_id", STRING, True),
        ("game_date", DATE, True),
        ("graded_at", TIMESTAMP, True),
        ("predictions", INT64, True),
        ("graded", INT64, True),
        ("voided", INT64, True),
        ("dnp", INT64, True),
        ("results_missing", INT64, True),
        Column("coverage", FLOAT64, description="graded / (predictions - dnp)"),
        ("mae", FLOAT64),
        Column("bias", FLOAT64, description="mean(predicted_points - actual_points)"),
        Column("line_mae", FLOAT64, description="The line's own MAE on the same predictions"),
        ("picks", INT64, True),
        ("correct", INT64, True),
        ("incorrect", INT64, True),
        ("pushes", INT64, True),
        ("hit_rate", FLOAT64),
        ("roi", FLOAT64),
        Column("summary_json", STRING, True, "The whole summary: buckets, deciles, ROI detail"),
    ),
    primary_key=("grading_run_id",),
    cluster_by=("game_date",),
)

ALERT_LOG = Table(
    "alert_log",
    "Every alert raised, append-only: the durable deduplication and rate-limit state of AlertManager.",
    cols(
        ("alert_id", STRING, True),
        Column("signature", STRING, True, "sha256 of kind|key: one signature is sent once per window"),
        ("kind", STRING, True),
        ("severity", STRING, True),
        ("alert_key", STRING, True),
        ("summary", STRING, True),
        ("details_json", STRING),
        Column("decision", STRING, True, "claimed (eligible to send) | duplicate | rate_limited"),
        Column("instance", STRING, description="Which process raised it (revision, host, pid)"),
        ("raised_at", TIMESTAMP, True),
    ),
    primary_key=("alert_id",),
    cluster_by=("signature",),
)
