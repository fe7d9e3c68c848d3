"""The warehouse schema, defined once: tables, columns, keys and partitioning, in no dialect.

Each warehouse adapter renders its own DDL from it; deploy/generate_schemas.py the Terraform files.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ColumnType(StrEnum):
    STRING = "STRING"
    INT64 = "INT64"
    FLOAT64 = "FLOAT64"
    BOOL = "BOOL"
    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    partition_by: str | None = None
    # Month partitions keep a decade of history far below BigQuery's 10,000-partition limit.
    partition_granularity: str = "DAY"
    cluster_by: tuple[str, ...] = ()
    require_partition_filter: bool = False

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name} has no column {name}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


def _cols(*spec: tuple[str, ColumnType] | tuple[str, ColumnType, bool] | Column) -> tuple[Column, ...]:
    out: list[Column] = []
    for item in spec:
        if isinstance(item, Column):
            out.append(item)
        elif len(item) == 2:
            out.append(Column(item[0], item[1]))
        else:
            out.append(Column(item[0], item[1], item[2]))
    return tuple(out)


STRING, INT64, FLOAT64, BOOL, DATE, TIMESTAMP = (
    ColumnType.STRING,
    ColumnType.INT64,
    ColumnType.FLOAT64,
    ColumnType.BOOL,
    ColumnType.DATE,
    ColumnType.TIMESTAMP,
)

TEAMS = Table(
    "teams",
    "NBA teams with arena location, for travel and time-zone features.",
    _cols(
        ("team_id", INT64, True),
        ("abbreviation", STRING, True),
        ("name", STRING, True),
        ("conference", STRING),
        ("arena_name", STRING),
        ("arena_lat", FLOAT64),
        ("arena_lon", FLOAT64),
        ("time_zone", STRING),
    ),
    primary_key=("team_id",),
)

PLAYERS = Table(
    "players",
    "Players and their current team.",
    _cols(
        ("player_id", INT64, True),
        ("name", STRING, True),
        ("team_id", INT64),
        ("position", STRING),
        ("birth_date", DATE),
    ),
    primary_key=("player_id",),
    cluster_by=("player_id",),
)

SCHEDULE = Table(
    "schedule",
    "One row per game, played or not.",
    _cols(
        ("game_id", STRING, True),
        ("game_date", DATE, True),
        ("tipoff_utc", TIMESTAMP),
        ("home_team_id", INT64, True),
        ("away_team_id", INT64, True),
        ("season", STRING, True),
        ("phase", STRING, True),
    ),
    primary_key=("game_id",),
    partition_by="game_date",
    partition_granularity="MONTH",
)

PLAYER_GAME_LOGS = Table(
    "player_game_logs",
    "Box-score rows, one per player per game played.",
    _cols(
        ("game_id", STRING, True),
        ("game_date", DATE, True),
        ("season", STRING, True),
        ("player_id", INT64, True),
        ("team_id", INT64, True),
        ("opponent_team_id", INT64, True),
        ("is_home", BOOL, True),
        Column("starter", BOOL, description="NULL where the source does not say"),
        ("minutes", FLOAT64, True),
        ("points", INT64, True),
        ("fgm", INT64),
        ("fga", INT64),
        ("fg3m", INT64),
        ("fg3a", INT64),
        ("ftm", INT64),
        ("fta", INT64),
        ("oreb", INT64),
        ("dreb", INT64),
        ("reb", INT64),
        ("ast", INT64),
        ("stl", INT64),
        ("blk", INT64),
        ("tov", INT64),
        ("pf", INT64),
        ("plus_minus", INT64),
        Column("points_paint", INT64, description="NULL where the source has no shot zones"),
        Column("points_mid_range", INT64, description="NULL where the source has no shot zones"),
    ),
    primary_key=("game_id", "player_id"),
    partition_by="game_date",
    partition_granularity="MONTH",
    cluster_by=("player_id",),
)

TEAM_GAME_STATS = Table(
    "team_game_stats",
    "Team aggregates per game, derived from player_game_logs by nba_props/team_stats.py.",
    _cols(
        ("game_id", STRING, True),
        ("game_date", DATE, True),
        ("season", STRING, True),
        ("team_id", INT64, True),
        ("opponent_team_id", INT64, True),
        ("is_home", BOOL, True),
        ("won", BOOL, True),
        ("points", INT64, True),
        ("opp_points", INT64, True),
        ("possessions", FLOAT64, True),
        ("opp_possessions", FLOAT64, True),
        ("minutes", FLOAT64, True),
        ("pace", FLOAT64, True),
        ("off_rating", FLOAT64, True),
        ("def_rating", FLOAT64, True),
        ("fta", INT64),
        ("fga", INT64),
        ("opp_fta", INT64),
        ("opp_fga", INT64),
        ("points_three", INT64),
        ("opp_points_three", INT64),
        ("points_paint", INT64),
        ("opp_points_paint", INT64),
        ("points_mid_range", INT64),
        ("opp_points_mid_range", INT64),
    ),
    primary_key=("game_id", "team_id"),
    partition_by="game_date",
    partition_granularity="MONTH",
    cluster_by=("team_id",),
)

PROP_LINE_SNAPSHOTS = Table(
    "prop_line_snapshots",
    "Player points lines as offered by each bookmaker over time. Never invented.",
    _cols(
        ("game_id", STRING, True),
        ("game_date", DATE, True),
        ("player_id", INT64, True),
        ("bookmaker", STRING, True),
        ("line", FLOAT64, True),
        ("over_price", INT64),
        ("under_price", INT64),
        ("snapshot_at", TIMESTAMP, True),
    ),
    primary_key=("game_id", "player_id", "bookmaker", "snapshot_at"),
    partition_by="game_date",
    cluster_by=("player_id",),
)

INJURY_REPORTS = Table(
    "injury_reports",
    "Injury report entries; the latest before tip-off counts.",
    _cols(
        ("game_id", STRING, True),
        ("game_date", DATE, True),
        ("player_id", INT64, True),
        ("status", STRING, True),
        ("reason", STRING),
        ("reported_at", TIMESTAMP, True),
    ),
    primary_key=("game_id", "player_id", "reported_at"),
    partition_by="game_date",
    cluster_by=("player_id",),
)

PREDICTIONS_RAW = Table(
    "predictions_raw",
    "Append-only prediction rows as workers write them; read through the predictions view.",
    _cols(
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
    _cols(
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
    ),
    primary_key=("batch_id",),
    cluster_by=("game_date",),
)

BATCH_LOCKS = Table(
    "batch_locks",
    "One claim per game date: the durable guard that lets exactly one /start win, across instances.",
    _cols(
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
    _cols(
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
    _cols(
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
    _cols(
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
    _cols(
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

ROSTERS = Table(
    "rosters",
    "Point-in-time roster spells from a roster feed: the player is on the team from from_date through "
    "to_date (NULL: still on it).",
    _cols(
        ("player_id", INT64, True),
        ("team_id", INT64, True),
        ("from_date", DATE, True),
        Column("to_date", DATE, description="Last day on the roster; NULL while the spell is open"),
        ("source_file", STRING),
        ("imported_at", TIMESTAMP, True),
    ),
    primary_key=("player_id", "team_id", "from_date"),
    cluster_by=("player_id",),
)

UNMATCHED_NAMES = Table(
    "unmatched_names",
    "Player names an import could not resolve to a player id; their rows were not imported.",
    _cols(
        ("source_file", STRING, True),
        Column("location", STRING, True, "Physical line (CSV) or JSON path of the row"),
        ("raw_name", STRING, True),
        ("normalised_name", STRING, True),
        Column("reason", STRING, True, "no_match | ambiguous"),
        ("imported_at", TIMESTAMP, True),
    ),
    primary_key=("source_file", "location", "raw_name"),
)

TABLES: tuple[Table, ...] = (
    TEAMS,
    PLAYERS,
    SCHEDULE,
    PLAYER_GAME_LOGS,
    TEAM_GAME_STATS,
    PROP_LINE_SNAPSHOTS,
    INJURY_REPORTS,
    PREDICTIONS_RAW,
    BATCHES,
    BATCH_LOCKS,
    PLAYER_OUTCOMES,
    GRADED_PREDICTIONS_RAW,
    GRADING_SUMMARIES,
    ALERT_LOG,
    ROSTERS,
    UNMATCHED_NAMES,
)

# Views are SQL files in shared/sql (BigQuery dialect), created after the tables.
VIEWS: tuple[str, ...] = ("predictions", "graded_predictions", "pretip_cutoffs")


def table(name: str) -> Table:
    for t in TABLES:
        if t.name == name:
            return t
    raise KeyError(f"no table {name}")
