"""The warehouse schema, defined once: tables, columns, keys and partitioning, in no dialect.

Each warehouse adapter renders its own DDL from it; deploy/generate_schemas.py the Terraform files.
"""

from __future__ import annotations

from shared.schema.columns import Column, ColumnType, Table
from shared.schema.league import (
    INJURY_REPORTS,
    PLAYER_GAME_LOGS,
    PLAYERS,
    PROP_LINE_SNAPSHOTS,
    ROSTERS,
    SCHEDULE,
    TEAM_GAME_STATS,
    TEAMS,
    UNMATCHED_NAMES,
)
from shared.schema.runs import (
    ALERT_LOG,
    BATCH_LOCKS,
    BATCHES,
    GRADED_PREDICTIONS_RAW,
    GRADING_SUMMARIES,
    PLAYER_OUTCOMES,
    PREDICTIONS_RAW,
)

__all__ = [
    "ALERT_LOG",
    "BATCHES",
    "BATCH_LOCKS",
    "GRADED_PREDICTIONS_RAW",
    "GRADING_SUMMARIES",
    "INJURY_REPORTS",
    "PLAYERS",
    "PLAYER_GAME_LOGS",
    "PLAYER_OUTCOMES",
    "PREDICTIONS_RAW",
    "PROP_LINE_SNAPSHOTS",
    "ROSTERS",
    "SCHEDULE",
    "TABLES",
    "TEAMS",
    "TEAM_GAME_STATS",
    "UNMATCHED_NAMES",
    "VIEWS",
    "Column",
    "ColumnType",
    "Table",
    "table",
]

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
