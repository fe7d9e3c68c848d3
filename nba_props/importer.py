"""Import real NBA game logs (the nba_api league game-log layout, gzipped or plain CSV) into the
warehouse: teams, players, schedule, box scores and team stats.

Every file is read and validated, and checked against the stored box scores, before anything is
written, so a malformed file imports nothing; the error names the file, the physical line and the
column. Loads are keyed (insert-or-ignore on each table's primary key), so importing the same files
twice changes nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nba_props import frames
from nba_props.nba_teams import ABBREVIATION_ALIASES, NBA_TEAMS, team_by_id, teams_frame
from nba_props.team_stats import team_game_stats
from shared.schema import ColumnType, table
from shared.warehouse import Warehouse

Progress = Callable[[str, int, int], None]

REQUIRED_COLUMNS: tuple[str, ...] = (
    "SEASON_ID",
    "PLAYER_ID",
    "PLAYER_NAME",
    "TEAM_ID",
    "TEAM_ABBREVIATION",
    "GAME_ID",
    "GAME_DATE",
    "MATCHUP",
    "MIN",
    "PTS",
)
# Box-score counts: whole numbers, blank allowed (NULL in the warehouse).
COUNT_COLUMNS: dict[str, str] = {
    "FGM": "fgm",
    "FGA": "fga",
    "FG3M": "fg3m",
    "FG3A": "fg3a",
    "FTM": "ftm",
    "FTA": "fta",
    "OREB": "oreb",
    "DREB": "dreb",
    "REB": "reb",
    "AST": "ast",
    "STL": "stl",
    "BLK": "blk",
    "TOV": "tov",
    "PF": "pf",
}
# The counts team_game_stats needs for possessions and pace: required, as the schema's aggregates are.
TEAM_STAT_COLUMNS = ("FGA", "FTA", "OREB", "TOV", "FG3M")

_MATCHUP = re.compile(r"^\s*([A-Za-z]{2,4})\s+(vs\.?|@)\s+([A-Za-z]{2,4})\s*$")
_CLOCK = re.compile(r"^\s*(\d+):([0-5]\d)(?:\.\d+)?\s*$")
_PHASES = {"1": "preseason", "2": "regular", "4": "playoffs"}
_TEAM_BY_ABBREVIATION = {t.abbreviation: t for t in NBA_TEAMS}
# Schema column → the source column named in errors.
_SOURCE_COLUMN = {
    **{name: source for source, name in COUNT_COLUMNS.items()},
    "game_date": "GAME_DATE",
    "season": "SEASON_ID",
    "team_id": "TEAM_ID",
    "opponent_team_id": "MATCHUP",
    "is_home": "MATCHUP",
    "minutes": "MIN",
    "points": "PTS",
    "plus_minus": "PLUS_MINUS",
}
LOAD_ORDER = ("teams", "players", "schedule", "player_game_logs", "team_game_stats")


class MalformedGameLog(ValueError):
    """A source file that cannot be imported; names the file, the line (1 = header) and the column."""

    def __init__(self, file: Path | str, line: int | None, column: str | None, problem: str) -> None:
        self.file = str(file)
        self.line = line
        self.column = column
        where = self.file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class ImportedLogs:
    """What the files hold, as warehouse frames (schema columns and dtypes)."""

    files: tuple[str, ...]
    source_rows: int
    frames: dict[str, pd.DataFrame]
    # Box-score rows the import added (the others were stored already, identically); None until loaded.
    new_rows: int | None = None
    # The validated rows with their source file and line, for the checks against the warehouse.
    rows: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame, repr=False)

    @property
    def games(self) -> int:
        return len(self.frames["schedule"])

    @property
    def players(self) -> int:
        return len(self.frames["players"])

    @property
    def seasons(self) -> list[str]:
        return sorted(self.frames["schedule"]["season"].unique().tolist())


# -- reading and validating -------------------------------------------------------------------------


def expand_paths(paths: Iterable[Path | str]) -> list[Path]:
    """Files as given; a directory stands for its ``*.csv`` and ``*.csv.gz`` files, sorted."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted([*path.glob("*.csv"), *path.glob("*.csv.gz")])
            if not found:
                raise MalformedGameLog(path, None, None, "directory holds no .csv or .csv.gz files")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise MalformedGameLog(path, None, None, "no such file")
    return out


def _read_raw(path: Path) -> pd.DataFrame:
    """Every cell as text, exactly as written (blank → ""), plus ``_line``: the physical line each row
    starts on (blank lines and quoted newlines counted). gzip is recognised by its magic bytes.

    The csv module rather than pandas: pandas numbers rows, not lines, and fills a short row with
    blanks, where a truncated row must be refused.
    """
    with path.open("rb") as fh:
        gzipped = fh.read(2) == b"\x1f\x8b"
    records: list[list[str]] = []
    lines: list[int] = []
    try:
        with (
            gzip.open(path, "rt", encoding="utf-8-sig", newline="")
            if gzipped
            else path.open("r", encoding="utf-8-sig", newline="")
        ) as fh:
            reader = csv.reader(fh, skipinitialspace=True)
            header: list[str] | None = None
            header_line = 1
            end = 0  # the physical line the previous record ended on
            for record in reader:
                start, end = end + 1, reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # a blank line
                if header is None:
                    header, header_line = [c.strip().upper() for c in record], start
                    continue
                if len(record) != len(header):
                    few = len(record) < len(header)
                    raise MalformedGameLog(
                        path,
                        start,
                        header[len(record)] if few else None,
                        f"{len(record)} fields where the header has {len(header)}"
                        + (" (a truncated row)" if few else ""),
                    )
                records.append(record)
                lines.append(start)
    except (gzip.BadGzipFile, EOFError, OSError, UnicodeDecodeError) as exc:
        raise MalformedGameLog(path, None, None, f"cannot be read: {exc}") from exc
    except csv.Error as exc:
        raise MalformedGameLog(path, None, None, f"not valid CSV: {exc}") from exc
    if header is None:
        raise MalformedGameLog(path, None, None, "file is empty")
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise MalformedGameLog(path, header_line, repeated[0], "the header names a column twice")
    frame = pd.DataFrame(records, columns=header, dtype=object).fillna("")
    frame["_line"] = np.asarray(lines, dtype="int64")
    frame.attrs["header_line"] = header_line
    return frame


class _Checker:
    """Column checks that report the first bad row of a file as a `MalformedGameLog`."""

    def __init__(self, path: Path, frame: pd.DataFrame) -> None:
        self.path = path
        self.frame = frame

    def fail(self, bad: np.ndarray | pd.Series, column: str, problem: str) -> None:
        mask = np.asarray(bad, dtype=bool)
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            value = self.frame[column].iloc[row] if column in self.frame.columns else None
            line = int(self.frame["_line"].iloc[row])
            raise MalformedGameLog(self.path, line, column, f"{problem} (got {value!r})")

    def text(self, column: str) -> pd.Series:
        values = self.frame[column].astype(str).str.strip()
        self.fail(values.eq(""), column, "missing value")
        return values

    def integers(self, column: str, *, required: bool, minimum: int | None = 0) -> pd.Series:
        raw = self.frame[column].astype(str).str.strip()
        blank = raw.eq("")
        if required:
            self.fail(blank, column, "missing value")
        numbers = pd.to_numeric(raw.mask(blank), errors="coerce")
        self.fail(~blank & numbers.isna(), column, "not a number")
        self.fail(numbers.mod(1).ne(0) & numbers.notna(), column, "not a whole number")
        if minimum is not None:
            self.fail(numbers.lt(minimum).fillna(False), column, f"below {minimum}")
        return numbers.astype("Int64")

    def minutes(self, column: str) -> pd.Series:
        """Minutes as a number, or "MM:SS" as older nba_api exports write them."""
        raw = self.frame[column].astype(str).str.strip()
        self.fail(raw.eq(""), column, "missing value")
        clock = raw.str.extract(_CLOCK)
        from_clock = clock[0].astype(float) + clock[1].astype(float) / 60.0
        numbers = pd.to_numeric(raw, errors="coerce").fillna(from_clock)
        self.fail(numbers.isna(), column, "not a number of minutes")
        self.fail(numbers.lt(0) | numbers.gt(96), column, "minutes outside 0-96")
        return numbers.astype("float64")

    def dates(self, column: str) -> pd.Series:
        raw = self.text(column)
        parsed = pd.to_datetime(raw.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        self.fail(parsed.isna(), column, "not a date (YYYY-MM-DD)")
        return parsed.astype("datetime64[us]")


def _season_label(season_id: pd.Series) -> tuple[pd.Series, pd.Series]:
    """SEASON_ID "22023" → ("2023-24", "regular")."""
    start = season_id.str.slice(1).astype(int)
    label = start.astype(str) + "-" + ((start + 1) % 100).astype(str).str.zfill(2)
    return label, season_id.str.slice(0, 1).map(_PHASES)


def read_game_log_file(path: Path | str) -> pd.DataFrame:
    """One validated file as player_game_logs columns plus ``player_name`` and ``phase``.

    The file holds one row per player per game, as `LeagueGameLog` returns them::

        SEASON_ID, PLAYER_ID, PLAYER_NAME, TEAM_ID, TEAM_ABBREVIATION, GAME_ID, GAME_DATE,
        MATCHUP ("DAL vs. UTA" home, "DAL @ UTA" away), MIN, PTS, FGM, FGA, FG3M, FG3A, FTM, FTA,
        OREB, DREB, REB, AST, STL, BLK, TOV, PF, PLUS_MINUS [, SEASON_LABEL, ...]
    """
    path = Path(path)
    raw = _read_raw(path)
    missing = [c for c in (*REQUIRED_COLUMNS, *COUNT_COLUMNS) if c not in raw.columns]
    if missing:
        raise MalformedGameLog(path, raw.attrs["header_line"], missing[0], f"missing columns {missing}")
    if raw.empty:
        raise MalformedGameLog(path, None, None, "no rows")
    check = _Checker(path, raw)

    season_id = check.text("SEASON_ID")
    check.fail(~season_id.str.fullmatch(r"[124]\d{4}"), "SEASON_ID", "not a season id like 22023")
    season, phase = _season_label(season_id)
    if "SEASON_LABEL" in raw.columns:
        given = raw["SEASON_LABEL"].astype(str).str.strip()
        check.fail(given.ne("") & given.ne(season), "SEASON_LABEL", f"disagrees with SEASON_ID ({season})")

    player_id = check.integers("PLAYER_ID", required=True, minimum=1)
    team_id = check.integers("TEAM_ID", required=True, minimum=1)
    known_ids = {t.team_id for t in NBA_TEAMS}
    check.fail(~team_id.isin(known_ids).to_numpy(), "TEAM_ID", "not an NBA team id")
    player_name = check.text("PLAYER_NAME")
    game_id = _normalise_game_id(check.text("GAME_ID"))
    check.fail(game_id.str.fullmatch(r"\d{11,}"), "GAME_ID", "a numeric game id longer than 10 digits")
    game_date = check.dates("GAME_DATE")

    matchup = check.text("MATCHUP").str.extract(_MATCHUP)
    check.fail(matchup[0].isna(), "MATCHUP", 'not "AAA vs. BBB" or "AAA @ BBB"')
    own = matchup[0].map(_resolve_abbreviation)
    opponent = matchup[2].map(_resolve_abbreviation)
    check.fail(own.isna(), "MATCHUP", "unknown team abbreviation")
    check.fail(opponent.isna(), "MATCHUP", "unknown opponent abbreviation")
    team_of_id = team_id.astype("int64").map(lambda t: team_by_id(int(t)).team_id)
    check.fail(own.astype("int64").ne(team_of_id).to_numpy(), "MATCHUP", "first team is not TEAM_ID's")
    check.fail(own.eq(opponent), "MATCHUP", "a team cannot play itself")
    abbreviation = check.text("TEAM_ABBREVIATION").map(_resolve_abbreviation)
    check.fail(abbreviation.ne(team_of_id).to_numpy(), "TEAM_ABBREVIATION", "is not TEAM_ID's team")

    minutes = check.minutes("MIN")
    points = check.integers("PTS", required=True)
    counts = {
        name: check.integers(source, required=source in TEAM_STAT_COLUMNS)
        for source, name in COUNT_COLUMNS.items()
    }
    plus_minus = (
        check.integers("PLUS_MINUS", required=False, minimum=None)
        if "PLUS_MINUS" in raw.columns
        else pd.Series(pd.NA, index=raw.index, dtype="Int64")
    )
    return pd.DataFrame(
        {
            "game_id": game_id,
            "game_date": game_date,
            "season": season,
            "phase": phase,
            "player_id": player_id.astype("int64"),
            "player_name": player_name,
            "team_id": team_id.astype("int64"),
            "opponent_team_id": opponent.astype("int64"),
            "is_home": matchup[1].str.startswith("vs").astype(bool),
            "starter": pd.array([pd.NA] * len(raw), dtype="boolean"),
            "minutes": minutes,
            "points": points.astype("int64"),
            **counts,
            "plus_minus": plus_minus,
            "points_paint": pd.array([pd.NA] * len(raw), dtype="Int64"),
            "points_mid_range": pd.array([pd.NA] * len(raw), dtype="Int64"),
            "source_file": str(path),
            "source_line": raw["_line"].to_numpy(),
        }
    )


def _normalise_game_id(game_id: pd.Series) -> pd.Series:
    """nba_api's 10-digit zero-padded form: "22300001" (a spreadsheet dropped the zeros) is
    "0022300001", so one game cannot be imported twice under two spellings."""
    return game_id.where(~game_id.str.fullmatch(r"\d{1,9}"), game_id.str.zfill(10))


def _resolve_abbreviation(value: Any) -> float:
    if not isinstance(value, str):
        return np.nan
    key = value.strip().upper()
    team = _TEAM_BY_ABBREVIATION.get(ABBREVIATION_ALIASES.get(key, key))
    return np.nan if team is None else float(team.team_id)


def _check_consistency(rows: pd.DataFrame) -> pd.DataFrame:
    """Across every file: one date, season and pair of sides per game; no conflicting duplicates."""

    def fail_at(mask: pd.Series, column: str, problem: str) -> None:
        if mask.any():
            row = rows.loc[mask].iloc[0]
            raise MalformedGameLog(row["source_file"], int(row["source_line"]), column, problem)

    identity = [c for c in rows.columns if c not in ("source_file", "source_line")]
    duplicated = rows.duplicated(["game_id", "player_id"], keep=False)
    if duplicated.any():
        distinct = rows.loc[duplicated].drop_duplicates(identity)
        fail_at(
            rows.index.isin(distinct.index[distinct.duplicated(["game_id", "player_id"], keep=False)])
            & duplicated,
            "PLAYER_ID",
            "the same player appears twice in this game with different values",
        )
        rows = rows.drop_duplicates(["game_id", "player_id"], keep="first")

    by_game = rows.groupby("game_id")
    for column, source in (("game_date", "GAME_DATE"), ("season", "SEASON_ID"), ("phase", "SEASON_ID")):
        fail_at(by_game[column].transform("nunique") > 1, source, f"the game's rows disagree on {column}")
    home = rows["team_id"].where(rows["is_home"], rows["opponent_team_id"])
    away = rows["opponent_team_id"].where(rows["is_home"], rows["team_id"])
    fail_at(home.groupby(rows["game_id"]).transform("nunique") > 1, "MATCHUP", "the game's rows disagree")
    fail_at(away.groupby(rows["game_id"]).transform("nunique") > 1, "MATCHUP", "the game's rows disagree")
    _check_one_game_a_day(rows)
    return rows


def _check_one_game_a_day(rows: pd.DataFrame, stored: pd.DataFrame | None = None) -> None:
    """A player, and a team, play at most one game on a date: two game ids on one date are the same
    game spelled twice or a wrong date, never something to import. ``stored``: the warehouse's rows
    on the import's dates, checked together with the incoming ones (the error names the incoming row)."""
    keys = ["game_id", "game_date", "player_id", "team_id"]
    both = rows[[*keys, "source_file", "source_line"]]
    if stored is not None and not stored.empty:
        both = pd.concat([both, stored[keys].assign(source_file=None, source_line=-1)], ignore_index=True)
    for who, column in (("player_id", "PLAYER_ID"), ("team_id", "TEAM_ID")):
        games = both.groupby([who, "game_date"])["game_id"]
        clash = (games.transform("nunique") > 1) & both["source_file"].notna()
        if clash.any():
            row = both.loc[clash].iloc[0]
            ids = sorted(games.get_group((row[who], row["game_date"])).unique())
            kind = "player" if who == "player_id" else "team"
            raise MalformedGameLog(
                row["source_file"],
                int(row["source_line"]),
                column,
                f"{kind} {row[who]} has more than one game on {row['game_date']:%Y-%m-%d}: "
                f"{', '.join(ids)}" + (" (counting the warehouse's)" if stored is not None else ""),
            )


def read_game_logs(paths: Iterable[Path | str], progress: Progress | None = None) -> ImportedLogs:
    """Read and validate every file, then build the warehouse frames; raises before any write."""
    files = expand_paths(paths)
    if not files:
        raise MalformedGameLog("<no files>", None, None, "nothing to import")
    parts = []
    for done, path in enumerate(files, start=1):
        parts.append(read_game_log_file(path))
        if progress:
            progress("Reading", done, len(files))
    rows = _check_consistency(pd.concat(parts, ignore_index=True))
    return ImportedLogs(
        files=tuple(str(f) for f in files),
        source_rows=sum(len(p) for p in parts),
        frames=_frames(rows),
        rows=rows,
    )


# -- warehouse frames -------------------------------------------------------------------------------


def _frames(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The rows per table (team_game_stats is recomputed after the load, from every stored row):

    - ``teams``: the 30 franchises of `nba_props.nba_teams` (ids, arenas, time zones);
    - ``players``: id and name; team = the team of the player's latest game (birth date and
      position unknown: NULL);
    - ``schedule``: one row per game, home and away from ``MATCHUP``, the season label ("2023-24",
      from ``SEASON_ID``), phase from the ``SEASON_ID`` prefix (2 regular, 4 playoffs, 1 preseason),
      tip-off unknown (NULL);
    - ``player_game_logs``: the box scores; starter and shot zones are not in the source (NULL).
    """
    rows = rows.sort_values(["game_date", "game_id", "team_id", "player_id"], kind="stable")
    logs = conform(rows, "player_game_logs")
    latest = rows.drop_duplicates("player_id", keep="last")
    players = pd.DataFrame(
        {
            "player_id": latest["player_id"],
            "name": latest["player_name"],
            "team_id": latest["team_id"],
            "position": None,
            "birth_date": pd.NaT,
        }
    )
    games = rows.drop_duplicates("game_id")
    schedule = pd.DataFrame(
        {
            "game_id": games["game_id"],
            "game_date": games["game_date"],
            "tipoff_utc": pd.NaT,
            "home_team_id": games["team_id"].where(games["is_home"], games["opponent_team_id"]),
            "away_team_id": games["opponent_team_id"].where(games["is_home"], games["team_id"]),
            "season": games["season"],
            "phase": games["phase"],
        }
    )
    return {
        "teams": conform(teams_frame(), "teams"),
        "players": conform(players.sort_values("player_id"), "players"),
        "schedule": conform(schedule, "schedule"),
        "player_game_logs": logs,
        "team_game_stats": conform(team_game_stats(logs), "team_game_stats"),
    }


def conform(frame: pd.DataFrame, table_name: str) -> pd.DataFrame:
    """`nba_props.frames.conform`, with missing strings as None so that they load as NULL."""
    out = frames.conform(frame, table_name)
    for column in table(table_name).columns:
        if column.type is ColumnType.STRING:
            out[column.name] = out[column.name].astype(object).where(out[column.name].notna(), None)
    return out


# -- loading ----------------------------------------------------------------------------------------


def load_game_logs(warehouse: Warehouse, logs: ImportedLogs, progress: Progress | None = None) -> int:
    """Check the logs against the warehouse, load every frame with keyed writes, then recompute the
    team stats of every game the import touched from all of its stored box scores.

    Refused with `MalformedGameLog` before any write: an incoming box score that differs from the
    stored row of its key (a correction is never applied silently; delete the game, then import),
    and a player or team with two games on one date counting the stored ones. Players already in
    the warehouse keep their row; their team becomes the team of their latest game log in the
    warehouse (`import_player_teams.sql`), whatever order seasons are imported in.
    Returns the number of box-score rows that were not in the warehouse yet.
    """
    warehouse.create_schema()
    incoming = logs.frames["player_game_logs"]
    game_ids = sorted(str(g) for g in incoming["game_id"].unique())
    game_dates = sorted({d.date() for d in pd.to_datetime(incoming["game_date"])})
    stored = conform(
        warehouse.query("import_stored_logs", {"game_ids": game_ids, "game_dates": game_dates}),
        "player_game_logs",
    )
    rows = logs.rows
    _check_one_game_a_day(rows, stored)
    new_rows = len(incoming) - _check_against_stored(rows, incoming, stored)

    steps = len(LOAD_ORDER) + 1
    for done, name in enumerate(LOAD_ORDER, start=1):
        if name == "team_game_stats":
            warehouse.execute("import_delete_team_stats", {"game_ids": game_ids})
            touched = warehouse.query("import_stored_logs", {"game_ids": game_ids, "game_dates": []})
            stats = conform(team_game_stats(conform(touched, "player_game_logs")), "team_game_stats")
            warehouse.load_frame(name, stats)
        else:
            warehouse.load_frame(name, logs.frames[name])
        if progress:
            progress("Loading", done, steps)
    player_ids = sorted(int(p) for p in logs.frames["players"]["player_id"])
    warehouse.execute("import_player_teams", {"player_ids": player_ids})
    if progress:
        progress("Loading", steps, steps)
    return new_rows


def _shown(value: Any) -> str:
    return "NULL" if pd.isna(value) else repr(value.item() if isinstance(value, np.generic) else value)


def _check_against_stored(rows: pd.DataFrame, incoming: pd.DataFrame, stored: pd.DataFrame) -> int:
    """Refuse an incoming box score that differs from the stored one of its key; return how many
    incoming rows are already stored (identically)."""
    key = ["game_id", "player_id"]
    where = rows.set_index(key)[["source_file", "source_line"]]
    both = incoming.merge(stored, on=key, how="inner", suffixes=("", "_stored"))
    if both.empty:
        return 0
    differs = pd.DataFrame(index=both.index)
    for column in (c for c in incoming.columns if c not in key):
        new, old = both[column], both[f"{column}_stored"]
        same = (new == old).fillna(False).astype(bool) | (new.isna() & old.isna())
        if pd.api.types.is_float_dtype(new):
            same |= np.isclose(new.astype(float), old.astype(float), rtol=0, atol=1e-9)
        differs[column] = ~same
    bad = differs.any(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        column = str(differs.columns[differs.iloc[i].to_numpy()][0])
        row = both.iloc[i]
        file, line = where.loc[(row["game_id"], row["player_id"])]
        raise MalformedGameLog(
            file,
            int(line),
            _SOURCE_COLUMN.get(column, column),
            f"player {row['player_id']} in game {row['game_id']} is already in the warehouse with "
            f"{column} = {_shown(row[f'{column}_stored'])}, this file has {_shown(row[column])}; "
            "a correction is not applied over a stored box score: delete the game's rows, then import",
        )
    return len(both)


def import_game_logs(
    warehouse: Warehouse, paths: Sequence[Path | str], progress: Progress | None = None
) -> ImportedLogs:
    """Validate every file, then load them: a malformed file raises `MalformedGameLog`, writing nothing."""
    logs = read_game_logs(paths, progress)
    new_rows = load_game_logs(warehouse, logs, progress)
    return dataclasses.replace(logs, new_rows=new_rows)
