"""`import-rosters`: roster spells (CSV: player, team, from_date[, to_date]) into ``rosters``
(docs/formats/rosters.md). A player is on one roster at a time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from itertools import pairwise
from pathlib import Path

from nba_props.importers import source
from nba_props.importers.names import PlayerNames, resolve_team
from nba_props.importers.source import Problems
from nba_props.importers.store import Plan, Progress, Record, Unmatched, as_date, finish
from shared.warehouse import Warehouse

COLUMNS = ("player", "team", "from_date")
KEY = ("player_id", "team_id", "from_date")
_OPEN = date.max


def _overlaps(problems: Problems, rows: Sequence[Record], stored: list[Record]) -> None:
    """Two spells of one player on different teams that share a day are refused."""
    spells: dict[int, list[tuple[date, date, int, str | None]]] = {}
    for row in [*stored, *rows]:
        spells.setdefault(row["player_id"], []).append(
            (
                as_date(row["from_date"]),
                as_date(row["to_date"]) if row["to_date"] is not None else _OPEN,
                row["team_id"],
                row.get("_where"),
            )
        )
    for player_id, items in spells.items():
        items.sort(key=lambda spell: spell[:3])
        for (_, end, team, _), (start, _, other, where) in pairwise(items):
            if where is not None and team != other and start <= end:
                problems.add(
                    where,
                    "from_date",
                    f"player {player_id} is on team {team}'s roster then (a spell overlaps)",
                )


def plan_rosters(
    warehouse: Warehouse, path: Path, names: PlayerNames, progress: Progress | None = None
) -> Plan:
    """Read and check the file; raises `ImportRefused`, writing nothing."""
    text = source.decode(path, source.read_bytes(path))
    if source.is_json(path, text):
        raise source.ImportRefused(
            f"{path}: import-rosters reads CSV (player, team, from_date[, to_date]), not JSON"
        )
    problems = Problems(str(path))
    plan = Plan(file=str(path), rows_read=0)
    rows: list[Record] = []
    for row in source.read_csv(path, text, COLUMNS, problems):
        plan.rows_read += 1
        cells = row.cells
        before = len(problems.found)
        team = resolve_team(cells["team"])
        if team is None:
            problems.add(row.where, "team", f"not an NBA team (got {cells['team']!r})")
        start = source.day(problems, row.where, "from_date", cells["from_date"])
        end = source.day(problems, row.where, "to_date", cells.get("to_date"), required=False)
        if start is not None and end is not None and end < start:
            problems.add(row.where, "to_date", f"before from_date ({start})")
        player = source.text(problems, row.where, "player", cells["player"])
        if len(problems.found) > before or player is None or team is None:
            continue
        if player.isdigit():
            player_id: int | None = int(player)
            if not names.known(int(player)):
                problems.add(row.where, "player", f"no player {player} in the warehouse")
                continue
        else:
            resolved = names.resolve(player)
            player_id = resolved.player_id
            if player_id is None:
                plan.unmatched.append(Unmatched(row.where, player, resolved))
                continue
        rows.append(
            {
                "player_id": player_id,
                "team_id": team.team_id,
                "from_date": start,
                "to_date": end,
                "source_file": str(path),
                "imported_at": None,
                "_where": row.where,
            }
        )

    def stored(rows: Sequence[Record]) -> list[Record]:
        spells = warehouse.records(
            "import_stored_rosters", {"player_ids": sorted({r["player_id"] for r in rows})}
        )
        for spell in spells:
            spell["from_date"] = as_date(spell["from_date"])
        _overlaps(problems, rows, spells)
        return spells

    return finish(plan, problems, rows, stored, KEY, "rosters", progress)
