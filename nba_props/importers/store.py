"""What every importer does with the warehouse: the reads it checks against, the comparison with
stored rows (same key, same values: already there; other values: refused) and the one write."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd

from nba_props.importer import conform
from nba_props.importers.names import PlayerNames, Resolution, resolve_team
from nba_props.importers.source import Problems
from shared.schema import ColumnType
from shared.schema import table as table_spec
from shared.warehouse import Warehouse

Progress = Callable[[str, int, int], None]
Record = dict[str, Any]


@dataclass(frozen=True)
class Unmatched:
    location: str
    raw_name: str
    resolution: Resolution


@dataclass
class Plan:
    """A validated file: the rows to add per table, and what the summary reports."""

    file: str
    rows_read: int
    new: dict[str, list[Record]] = field(default_factory=dict)
    already_stored: int = 0
    unmatched: list[Unmatched] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    tipoffs: dict[str, datetime] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1

    @property
    def added(self) -> int:
        return sum(len(rows) for rows in self.new.values())

    def summary(self, kind: str) -> str:
        parts = [
            f"{kind}: {self.rows_read} read",
            f"{self.added} added",
            f"{self.already_stored} already stored",
        ]
        if self.tipoffs:
            parts.append(f"{len(self.tipoffs)} tip-off times filled in")
        if self.unmatched:
            parts.append(f"{len(self.unmatched)} unmatched names (recorded in unmatched_names)")
        parts.extend(f"{count} skipped: {reason}" for reason, count in sorted(self.skipped.items()))
        return ", ".join(parts)


def player_names(warehouse: Warehouse, aliases: Mapping[str, str]) -> PlayerNames:
    return PlayerNames(warehouse.records("import_players", {}), aliases)


def stored_games(warehouse: Warehouse, game_ids: Iterable[str], game_dates: Iterable[date]) -> list[Record]:
    return warehouse.records(
        "import_stored_games", {"game_ids": sorted(set(game_ids)), "game_dates": sorted(set(game_dates))}
    )


def as_date(value: date) -> date:
    """A DATE column's value as read back (a midnight datetime in some adapters) as a date."""
    return value.date() if isinstance(value, datetime) else value


def games_of_players(
    problems: Problems,
    warehouse: Warehouse,
    wanted: Sequence[tuple[str, int, int, date, str | None, str | None]],
) -> dict[int, Record]:
    """The stored game of each (where, row key, player, date, team?, game id?), keyed by the row key:
    the given game, else the game of the named team, else of the team the player's box score that
    day names, else of the player's current team."""
    days = {d for _, _, _, d, _, _ in wanted}
    stored = stored_games(warehouse, {g for *_, g in wanted if g}, days)
    played = warehouse.records(
        "import_player_games",
        {"player_ids": sorted({p for _, _, p, _, _, _ in wanted}), "game_dates": sorted(days)},
    )
    team_on = {(r["player_id"], as_date(r["game_date"])): int(r["team_id"]) for r in played}
    current = {int(p["player_id"]): p["team_id"] for p in warehouse.records("import_players", {})}
    by_id = {g["game_id"]: g for g in stored}
    by_team_day = {
        (team, as_date(g["game_date"])): g for g in stored for team in (g["home_team_id"], g["away_team_id"])
    }
    out: dict[int, Record] = {}
    for where, row_key, player_id, day, team_value, game_id in wanted:
        if game_id:
            game = by_id.get(game_id)
            if game is None:
                problems.add(where, "game_id", f"no game {game_id!r} in the schedule")
            elif as_date(game["game_date"]) != day:
                problems.add(where, "game_date", f"game {game_id} is on {as_date(game['game_date'])}")
            else:
                out[row_key] = game
            continue
        if team_value:
            team = resolve_team(team_value)
            if team is None:
                problems.add(where, "team", f"not an NBA team (got {team_value!r})")
                continue
            team_id: int | None = team.team_id
        else:
            team_id = team_on.get((player_id, day), current.get(player_id))
        game = by_team_day.get((team_id, day))
        if game is None:
            problems.add(where, "game_date", f"no game of team {team_id} on {day} in the schedule")
        else:
            out[row_key] = game
    return out


def _same(new: Any, old: Any) -> bool:
    if new is None or old is None:
        return new is None and old is None
    if isinstance(new, float) or isinstance(old, float):
        return math.isclose(float(new), float(old), abs_tol=1e-9)
    if isinstance(old, pd.Timestamp):
        old = old.to_pydatetime()
    if isinstance(new, datetime) and isinstance(old, datetime):
        return new.astimezone(UTC) == old.astimezone(UTC)
    if isinstance(old, datetime) and isinstance(new, date):
        return old.date() == new
    return bool(new == old)


def _key_value(value: Any, column_type: ColumnType) -> Any:
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.date() if column_type is ColumnType.DATE else value.astimezone(UTC)
    return value


def split_stored(
    incoming: Sequence[Record],
    stored: Iterable[Record],
    key: Sequence[str],
    problems: Problems,
    plan: Plan,
    table: str,
) -> None:
    """Into ``plan.new[table]`` the incoming rows whose key is not stored (and not repeated in the
    file); a row whose key is stored with other values, or repeated with other values, is refused."""
    types = [table_spec(table).column(k).type for k in key]

    def key_of(row: Record) -> tuple[Any, ...]:
        return tuple(_key_value(row[k], t) for k, t in zip(key, types, strict=True))

    by_key = {key_of(row): row for row in stored}
    seen: dict[tuple[Any, ...], Record] = {}
    fresh: list[Record] = []
    for row in incoming:
        row_key = key_of(row)
        for other, origin in ((by_key.get(row_key), "stored"), (seen.get(row_key), "earlier in the file")):
            if other is None:
                continue
            differs = [c for c in row if not c.startswith("_") and c in other and not _same(row[c], other[c])]
            if differs:
                column = differs[0]
                problems.add(
                    row["_where"],
                    row.get("_columns", {}).get(column, column),
                    f"{table} {dict(zip(key, row_key, strict=True))} is {origin} with {column} = "
                    f"{other[column]!r}, this row has {row[column]!r}; a stored row is never overwritten",
                )
            break
        else:
            seen[row_key] = row
            fresh.append(row)
            continue
        if row_key in by_key:
            plan.already_stored += 1
    plan.new[table] = fresh


def stored_of_games(warehouse: Warehouse, query: str) -> Callable[[Sequence[Record]], list[Record]]:
    """The stored rows of the incoming rows' games, read by ``query`` (its parameter: game_ids)."""

    def read(rows: Sequence[Record]) -> list[Record]:
        return warehouse.records(query, {"game_ids": sorted({r["game_id"] for r in rows})})

    return read


def finish(
    plan: Plan,
    problems: Problems,
    rows: Sequence[Record],
    stored: Callable[[Sequence[Record]], Iterable[Record]],
    key: Sequence[str],
    table: str,
    progress: Progress | None,
) -> Plan:
    """The end of every plan: split the good rows into new and already stored (``stored`` reads the
    stored rows they could collide with, and may check more), then refuse the file if any row is
    bad, reporting the problems of every stage together."""
    if progress:
        progress("Reading", 1, 1)
    split_stored(rows, stored(rows), key, problems, plan, table)
    problems.raise_if_any()
    if progress:
        progress("Checking", 1, 1)
    return plan


def write(warehouse: Warehouse, plan: Plan, progress: Progress | None = None) -> None:
    """The one write of an import: tip-off fill-ins, then each table's new rows, then the unmatched
    names. Every table write is keyed (insert-or-ignore), so a re-run adds nothing."""
    now = datetime.now(UTC)
    steps = len(plan.new) + 2
    if plan.tipoffs:
        ids = sorted(plan.tipoffs)
        warehouse.execute(
            "import_schedule_tipoffs", {"game_ids": ids, "tipoffs": [plan.tipoffs[i] for i in ids]}
        )
    if progress:
        progress("Writing", 1, steps)
    for done, (table, rows) in enumerate(plan.new.items(), start=2):
        if rows:
            clean = [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
            frame = pd.DataFrame.from_records(clean)
            if "imported_at" in frame.columns:
                frame["imported_at"] = now
            warehouse.load_frame(table, conform(frame, table))
        if progress:
            progress("Writing", done, steps)
    if plan.unmatched:
        frame = pd.DataFrame(
            {
                "source_file": plan.file,
                "location": [u.location for u in plan.unmatched],
                "raw_name": [u.raw_name for u in plan.unmatched],
                "normalised_name": [u.resolution.normalised for u in plan.unmatched],
                "reason": [u.resolution.reason or "no_match" for u in plan.unmatched],
                "imported_at": now,
            }
        )
        warehouse.load_frame("unmatched_names", conform(frame, "unmatched_names"))
    if progress:
        progress("Writing", steps, steps)
