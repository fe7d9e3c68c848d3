"""What is known about the league: teams, players, games, box scores, lines, injuries, rosters."""

from __future__ import annotations

from shared.schema.columns import BOOL, DATE, FLOAT64, INT64, STRING, TIMESTAMP, Column, Table, cols

TEAMS = Table(
    "teams",
    "NBA teams with arena location, for travel and time-zone features.",
    cols(
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
    cols(
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
    cols(
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
    cols(
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
    cols(
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
    cols(
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
    cols(
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

ROSTERS = Table(
    "rosters",
    "Point-in-time roster spells from a roster feed: the player is on the team from from_date through "
    "to_date (NULL: still on it).",
    cols(
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
    cols(
        ("source_file", STRING, True),
        Column("location", STRING, True, "Physical line (CSV) or JSON path of the row"),
        ("raw_name", STRING, True),
        ("normalised_name", STRING, True),
        Column("reason", STRING, True, "no_match | ambiguous"),
        ("imported_at", TIMESTAMP, True),
    ),
    primary_key=("source_file", "location", "raw_name"),
)
