"""The warehouse schema, defined once. BigQuery DDL, DuckDB DDL and the Terraform/BigQuery JSON
schemas are all generated from these definitions."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ColumnType(StrEnum):
    STRING = "STRING"
    INT64 = "INT64"
    FLOAT64 = "FLOAT64"
    BOOL = "BOOL"
    DATE = "DATE"
    TIMESTAMP = "TIMESTAMP"


_DUCKDB_TYPES = {
    ColumnType.STRING: "VARCHAR",
    ColumnType.INT64: "BIGINT",
    ColumnType.FLOAT64: "DOUBLE",
    ColumnType.BOOL: "BOOLEAN",
    ColumnType.DATE: "DATE",
    ColumnType.TIMESTAMP: "TIMESTAMPTZ",
}

_BIGQUERY_JSON_TYPES = {
    ColumnType.STRING: "STRING",
    ColumnType.INT64: "INTEGER",
    ColumnType.FLOAT64: "FLOAT",
    ColumnType.BOOL: "BOOLEAN",
    ColumnType.DATE: "DATE",
    ColumnType.TIMESTAMP: "TIMESTAMP",
}


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

    def duckdb_ddl(self) -> str:
        lines = [
            f"    {c.name} {_DUCKDB_TYPES[c.type]}{' NOT NULL' if c.required else ''}" for c in self.columns
        ]
        if self.primary_key:
            lines.append(f"    PRIMARY KEY ({', '.join(self.primary_key)})")
        body = ",\n".join(lines)
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n{body}\n)"

    def bigquery_ddl(self, dataset: str) -> str:
        lines = [f"  {c.name} {c.type.value}{' NOT NULL' if c.required else ''}" for c in self.columns]
        ddl = f"CREATE TABLE IF NOT EXISTS `{dataset}.{self.name}` (\n" + ",\n".join(lines) + "\n)"
        if self.partition_by:
            if self.partition_granularity == "DAY":
                ddl += f"\nPARTITION BY {self.partition_by}"
            else:
                ddl += f"\nPARTITION BY DATE_TRUNC({self.partition_by}, {self.partition_granularity})"
        if self.cluster_by:
            ddl += f"\nCLUSTER BY {', '.join(self.cluster_by)}"
        options = [f'description = "{self.description}"']
        if self.require_partition_filter:
            options.append("require_partition_filter = TRUE")
        ddl += f"\nOPTIONS ({', '.join(options)})"
        return ddl

    def bigquery_json_schema(self) -> list[dict[str, str]]:
        return [
            {
                "name": c.name,
                "type": _BIGQUERY_JSON_TYPES[c.type],
                "mode": "REQUIRED" if c.required else "NULLABLE",
                "description": c.description,
            }
            for c in self.columns
        ]


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


S, I, F, B, D, T = (
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
        ("team_id", I, True),
        ("abbreviation", S, True),
        ("name", S, True),
        ("conference", S),
        ("arena_name", S),
        ("arena_lat", F),
        ("arena_lon", F),
        ("time_zone", S),
    ),
    primary_key=("team_id",),
)

PLAYERS = Table(
    "players",
    "Players and their current team.",
    _cols(
        ("player_id", I, True),
        ("name", S, True),
        ("team_id", I),
        ("position", S),
        ("birth_date", D),
    ),
    primary_key=("player_id",),
    cluster_by=("player_id",),
)

SCHEDULE = Table(
    "schedule",
    "One row per game, played or not.",
    _cols(
        ("game_id", S, True),
        ("game_date", D, True),
        ("tipoff_utc", T),
        ("home_team_id", I, True),
        ("away_team_id", I, True),
        ("season", S, True),
        ("phase", S, True),
    ),
    primary_key=("game_id",),
    partition_by="game_date",
    partition_granularity="MONTH",
)

PLAYER_GAME_LOGS = Table(
    "player_game_logs",
    "Box-score rows, one per player per game played.",
    _cols(
        ("game_id", S, True),
        ("game_date", D, True),
        ("season", S, True),
        ("player_id", I, True),
        ("team_id", I, True),
        ("opponent_team_id", I, True),
        ("is_home", B, True),
        Column("starter", B, description="NULL where the source does not say"),
        ("minutes", F, True),
        ("points", I, True),
        ("fgm", I),
        ("fga", I),
        ("fg3m", I),
        ("fg3a", I),
        ("ftm", I),
        ("fta", I),
        ("oreb", I),
        ("dreb", I),
        ("reb", I),
        ("ast", I),
        ("stl", I),
        ("blk", I),
        ("tov", I),
        ("pf", I),
        ("plus_minus", I),
        Column("points_paint", I, description="NULL where the source has no shot zones"),
        Column("points_mid_range", I, description="NULL where the source has no shot zones"),
    ),
    primary_key=("game_id", "player_id"),
    partition_by="game_date",
    partition_granularity="MONTH",
    cluster_by=("player_id",),
)

TEAM_GAME_STATS = Table(
    "team_game_stats",
    "Team aggregates per game, derived from player_game_logs by team_game_stats.sql.",
    _cols(
        ("game_id", S, True),
        ("game_date", D, True),
        ("season", S, True),
        ("team_id", I, True),
        ("opponent_team_id", I, True),
        ("is_home", B, True),
        ("won", B, True),
        ("points", I, True),
        ("opp_points", I, True),
        ("possessions", F, True),
        ("opp_possessions", F, True),
        ("minutes", F, True),
        ("pace", F, True),
        ("off_rating", F, True),
        ("def_rating", F, True),
        ("fta", I),
        ("fga", I),
        ("opp_fta", I),
        ("opp_fga", I),
        ("points_three", I),
        ("opp_points_three", I),
        ("points_paint", I),
        ("opp_points_paint", I),
        ("points_mid_range", I),
        ("opp_points_mid_range", I),
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
        ("game_id", S, True),
        ("game_date", D, True),
        ("player_id", I, True),
        ("bookmaker", S, True),
        ("line", F, True),
        ("over_price", I),
        ("under_price", I),
        ("snapshot_at", T, True),
    ),
    primary_key=("game_id", "player_id", "bookmaker", "snapshot_at"),
    partition_by="game_date",
    cluster_by=("player_id",),
)

INJURY_REPORTS = Table(
    "injury_reports",
    "Injury report entries; the latest before tip-off counts.",
    _cols(
        ("game_id", S, True),
        ("game_date", D, True),
        ("player_id", I, True),
        ("status", S, True),
        ("reason", S),
        ("reported_at", T, True),
    ),
    primary_key=("game_id", "player_id", "reported_at"),
    partition_by="game_date",
    cluster_by=("player_id",),
)

PREDICTIONS_RAW = Table(
    "predictions_raw",
    "Append-only prediction rows as workers write them; read through the predictions view.",
    _cols(
        ("prediction_id", S, True),
        ("batch_id", S, True),
        ("game_date", D, True),
        ("game_id", S, True),
        ("player_id", I, True),
        ("player_name", S, True),
        ("team_abbr", S, True),
        ("opponent_abbr", S, True),
        Column("line", F, description="NULL means NO_LINE: never a placeholder"),
        ("bookmaker", S),
        ("predicted_points", F, True),
        ("edge", F),
        ("recommendation", S, True),
        ("confidence", F),
        ("prob_over", F),
        ("model_version", S, True),
        ("feature_set_hash", S, True),
        Column("features_json", S, description="The feature vector, for audit and parity checks"),
        Column("context_json", S, description="Context features carried in the payload"),
        ("message_id", S),
        ("delivery_attempt", I),
        ("written_at", T, True),
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
        ("batch_id", S, True),
        ("game_date", D, True),
        ("status", S, True),
        ("expected", I, True),
        ("published", I, True),
        ("skipped", I, True),
        ("load_metrics_json", S),
        ("error", S),
        ("superseded_by", S),
        ("created_at", T, True),
        ("updated_at", T, True),
        ("finished_at", T),
    ),
    primary_key=("batch_id",),
    cluster_by=("game_date",),
)

PLAYER_OUTCOMES = Table(
    "player_outcomes",
    "Every slate player that did not end with a prediction, and why (skipped, failed, dead-lettered).",
    _cols(
        ("outcome_id", S, True),
        Column("batch_id", S, description="NULL when a poison message named no batch"),
        ("game_date", D),
        ("player_id", I),
        ("outcome", S, True),
        ("reason", S, True),
        ("detail", S),
        ("message_id", S),
        ("recorded_at", T, True),
    ),
    primary_key=("outcome_id",),
    cluster_by=("batch_id",),
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
    PLAYER_OUTCOMES,
)

# Views are SQL files in shared/sql (BigQuery dialect), created after the tables.
VIEWS: tuple[str, ...] = ("predictions",)


def table(name: str) -> Table:
    for t in TABLES:
        if t.name == name:
            return t
    raise KeyError(f"no table {name}")
