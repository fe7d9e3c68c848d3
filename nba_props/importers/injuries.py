"""`import-injuries`: injury-report rows (CSV or a JSON array) into ``injury_reports``
(docs/formats/injuries.md); each row joins its team's game of that date in the schedule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nba_props.importers import source
from nba_props.importers.names import PlayerNames, resolve_team
from nba_props.importers.source import Problems
from nba_props.importers.store import (
    Plan,
    Progress,
    Record,
    Unmatched,
    finish,
    games_of_players,
    stored_of_games,
)
from shared.contracts import INJURY_STATUSES
from shared.warehouse import Warehouse

COLUMNS = ("game_date", "team", "player", "status", "reason", "report_time")
REQUIRED = ("game_date", "team", "player", "status", "report_time")
KEY = ("game_id", "player_id", "reported_at")


def _entries(problems: Problems, path: Path, text: str) -> list[tuple[str, int, dict[str, Any]]]:
    """(where, a key unique per row, cells) from a CSV or from a JSON array of objects."""
    if not source.is_json(path, text):
        return [
            (row.where, row.line, dict(row.cells)) for row in source.read_csv(path, text, REQUIRED, problems)
        ]
    document = source.read_json(path, text)
    if isinstance(document, dict) and "reports" in document:
        document = document["reports"]
    out = []
    for i, entry in enumerate(source.items(problems, "$", document)):
        cells = source.fields(problems, f"$[{i}]", entry)
        if cells:
            out.append((f"$[{i}]", i, cells))
    if not out:
        problems.add("$", None, "no injury-report rows")
    return out


def plan_injuries(
    warehouse: Warehouse, path: Path, names: PlayerNames, progress: Progress | None = None
) -> Plan:
    """Read and check the file; raises `ImportRefused`, writing nothing."""
    text = source.decode(path, source.read_bytes(path))
    problems = Problems(str(path))
    plan = Plan(file=str(path), rows_read=0)
    parsed = []
    for where, key, cells in _entries(problems, path, text):
        plan.rows_read += 1
        before = len(problems.found)
        day = source.day(problems, where, "game_date", cells.get("game_date"))
        team_value = cells.get("team")
        team = resolve_team(team_value)
        if team is None:
            problems.add(where, "team", f"not an NBA team (got {team_value!r})")
        raw_status = source.text(problems, where, "status", cells.get("status"))
        status = raw_status.upper() if raw_status else None
        if status is not None and status not in INJURY_STATUSES:
            problems.add(
                where,
                "status",
                f"not one of Out/Doubtful/Questionable/Probable/Available (got {raw_status!r})",
            )
        reason = source.text(problems, where, "reason", cells.get("reason"), required=False)
        reported = source.instant(problems, where, "report_time", cells.get("report_time"))
        player = source.text(problems, where, "player", cells.get("player"))
        if len(problems.found) > before or day is None or team is None or player is None:
            continue
        resolved = names.resolve(player)
        if resolved.player_id is None:
            plan.unmatched.append(Unmatched(where, player, resolved))
            continue
        parsed.append((where, key, resolved.player_id, day, team.abbreviation, status, reason, reported))
    wanted = [(where, key, player_id, day, team, None) for where, key, player_id, day, team, *_ in parsed]
    games = games_of_players(problems, warehouse, wanted)
    rows: list[Record] = []
    for where, key, player_id, day, _team, status, reason, reported in parsed:
        game = games.get(key)
        if game is not None:
            rows.append(
                {
                    "game_id": game["game_id"],
                    "game_date": day,
                    "player_id": player_id,
                    "status": status,
                    "reason": reason,
                    "reported_at": reported,
                    "_where": where,
                    "_columns": {"reported_at": "report_time"},
                }
            )
    stored = stored_of_games(warehouse, "import_stored_injuries")
    return finish(plan, problems, rows, stored, KEY, "injury_reports", progress)
