"""`import-schedule`: the NBA's season-schedule JSON (``leagueSchedule.gameDates[].games[]``) or a
plain CSV into ``schedule`` (docs/formats/schedule.md)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from nba_props.importers import source
from nba_props.importers.names import resolve_team
from nba_props.importers.source import Problems
from nba_props.importers.store import Plan, Progress, Record, finish, stored_games
from shared.warehouse import Warehouse

CSV_COLUMNS = ("game_id", "game_date", "tipoff_utc", "home", "away")
EASTERN = ZoneInfo("America/New_York")
# The third digit of an NBA game id: 1 preseason, 2 regular season, 3 All-Star, 4 playoffs,
# 5 play-in, 6 the NBA Cup final (which does not count in the standings; scored as regular here).
_PHASE_BY_DIGIT = {"1": "preseason", "2": "regular", "4": "playoffs", "5": "playoffs", "6": "regular"}
_NBA_GAME_ID = re.compile(r"^00(\d)\d{7}$")
_PHASES = ("preseason", "regular", "playoffs")
_JSON_COLUMNS = {"game_date": "gameDateTimeUTC", "tipoff_utc": "gameDateTimeUTC"}


def season_of(day: date) -> str:
    """The season a date belongs to: a season starts in August ("2024-25" from 2024-08-01)."""
    start = day.year if day.month >= 8 else day.year - 1
    return f"{start}-{(start + 1) % 100:02d}"


def _phase(game_id: str) -> str | None:
    match = _NBA_GAME_ID.match(game_id)
    if match is None:
        return "regular"
    return _PHASE_BY_DIGIT.get(match.group(1))


def _game(
    problems: Problems, where: str, cols: dict[str, str], raw: dict[str, Any], plan: Plan
) -> Record | None:
    """One game from ``raw`` (keys: game_id, game_date, tipoff_utc, home, away, season?, phase?)."""
    problems_before = len(problems.found)
    game_id = source.text(problems, where, cols["game_id"], raw["game_id"])
    if game_id is not None and game_id.isdigit() and len(game_id) < 10:
        game_id = game_id.zfill(10)
    phase = raw.get("phase")
    if game_id is not None and phase is None:
        phase = _phase(game_id)
        if phase is None:
            plan.skip("All-Star games")
            return None
    if raw["home"] in (None, "", 0, "0") or raw["away"] in (None, "", 0, "0"):
        plan.skip("teams not decided yet")
        return None
    home, away = resolve_team(raw["home"]), resolve_team(raw["away"])
    if home is None or away is None:
        other = raw["home"] if home is None else raw["away"]
        if raw.get("exhibition_ok") and isinstance(other, int) and not isinstance(other, bool):
            plan.skip("games against non-NBA teams")
            return None
        problems.add(
            where, cols["home"] if home is None else cols["away"], f"not an NBA team (got {other!r})"
        )
        return None
    if home.team_id == away.team_id:
        problems.add(where, cols["away"], "a team cannot play itself")
    tipoff = raw["tipoff_utc"]
    day = raw["game_date"]
    if phase not in _PHASES:
        problems.add(where, "phase", f"not one of {', '.join(_PHASES)} (got {phase!r})")
    if game_id is None or day is None or len(problems.found) > problems_before:
        return None
    return {
        "game_id": game_id,
        "game_date": day,
        "tipoff_utc": tipoff,
        "home_team_id": home.team_id,
        "away_team_id": away.team_id,
        "season": raw.get("season") or season_of(day),
        "phase": phase,
        "_where": where,
        "_columns": cols,
    }


def _from_json(problems: Problems, document: Any, plan: Plan) -> list[Record]:
    top = source.fields(problems, "$", document)
    league = source.fields(problems, "$.leagueSchedule", top.get("leagueSchedule"))
    season = league.get("seasonYear")
    if season is not None and not (isinstance(season, str) and re.fullmatch(r"\d{4}-\d{2}", season)):
        problems.add("$.leagueSchedule.seasonYear", None, f"not a season like 2024-25 (got {season!r})")
        season = None
    games: list[Record] = []
    for d, game_date in enumerate(
        source.items(problems, "$.leagueSchedule.gameDates", league.get("gameDates"))
    ):
        where_date = f"$.leagueSchedule.gameDates[{d}]"
        for g, raw in enumerate(
            source.items(
                problems, f"{where_date}.games", source.fields(problems, where_date, game_date).get("games")
            )
        ):
            where = f"{where_date}.games[{g}]"
            game = source.fields(problems, where, raw)
            if not game:
                continue
            plan.rows_read += 1
            home = source.fields(problems, f"{where}.homeTeam", game.get("homeTeam"))
            away = source.fields(problems, f"{where}.awayTeam", game.get("awayTeam"))
            tipoff, day = _json_times(problems, where, game)
            record = _game(
                problems,
                where,
                {"game_id": "gameId", "home": "homeTeam.teamId", "away": "awayTeam.teamId", **_JSON_COLUMNS},
                {
                    "game_id": game.get("gameId"),
                    "game_date": day,
                    "tipoff_utc": tipoff,
                    "home": home.get("teamId", home.get("teamTricode")),
                    "away": away.get("teamId", away.get("teamTricode")),
                    "season": season,
                    "exhibition_ok": True,
                },
                plan,
            )
            if record is not None:
                games.append(record)
    return games


def _json_times(problems: Problems, where: str, game: dict[str, Any]) -> tuple[datetime | None, date | None]:
    """Tip-off from gameDateTimeUTC, else gameDateTimeEst (US Eastern wall-clock time, although the
    NBA writes it with a "Z"); the game date is the tip-off's Eastern date, else gameDateUTC's date."""
    if game.get("gameDateTimeUTC") not in (None, ""):
        tipoff = source.instant(problems, where, "gameDateTimeUTC", game["gameDateTimeUTC"])
    elif game.get("gameDateTimeEst") not in (None, ""):
        raw = source.text(problems, where, "gameDateTimeEst", game["gameDateTimeEst"])
        tipoff = source.instant(
            problems,
            where,
            "gameDateTimeEst",
            raw.rstrip("Z") if raw else None,
            naive_zone="America/New_York",
        )
    else:
        tipoff = None
    if tipoff is not None:
        return tipoff, tipoff.astimezone(EASTERN).date()
    if game.get("gameDateTimeUTC") is None and game.get("gameDateTimeEst") is None:
        return None, source.day(problems, where, "gameDateUTC", game.get("gameDateUTC"))
    return None, None


def _from_csv(problems: Problems, rows: list[source.Row], plan: Plan) -> list[Record]:
    games: list[Record] = []
    cols = {c: c for c in (*CSV_COLUMNS, "season", "phase")}
    for row in rows:
        plan.rows_read += 1
        cells = row.cells
        day = source.day(problems, row.where, "game_date", cells["game_date"])
        tipoff = source.instant(problems, row.where, "tipoff_utc", cells["tipoff_utc"], required=False)
        season = cells.get("season") or None
        if season is not None and not re.fullmatch(r"\d{4}-\d{2}", season):
            problems.add(row.where, "season", f"not a season like 2024-25 (got {season!r})")
        raw: dict[str, Any] = {
            "game_id": cells["game_id"],
            "game_date": day,
            "tipoff_utc": tipoff,
            "home": cells["home"] or None,
            "away": cells["away"] or None,
            "season": season,
        }
        if cells.get("phase"):
            raw["phase"] = cells["phase"].lower()
        if raw["home"] is None or raw["away"] is None:
            problems.add(row.where, "home" if raw["home"] is None else "away", "missing value")
            continue
        record = _game(problems, row.where, cols, raw, plan)
        if record is not None:
            games.append(record)
    return games


def plan_schedule(warehouse: Warehouse, path: Path, progress: Progress | None = None) -> Plan:
    """Read and check the file against the stored schedule; raises `ImportRefused`, writing nothing."""
    text = source.decode(path, source.read_bytes(path))
    problems = Problems(str(path))
    plan = Plan(file=str(path), rows_read=0)
    if source.is_json(path, text):
        games = _from_json(problems, source.read_json(path, text), plan)
    else:
        games = _from_csv(problems, source.read_csv(path, text, CSV_COLUMNS, problems), plan)

    def stored(games: Sequence[Record]) -> list[Record]:
        known = stored_games(warehouse, (g["game_id"] for g in games), ())
        # A tip-off only one side knows is no conflict: the stored one stays, a new one fills a gap.
        stored_tipoff = {g["game_id"]: g["tipoff_utc"] for g in known}
        for game in games:
            if game["game_id"] not in stored_tipoff:
                continue
            if game["tipoff_utc"] is None:
                game["tipoff_utc"] = stored_tipoff[game["game_id"]]
            elif stored_tipoff[game["game_id"]] is None:
                plan.tipoffs[game["game_id"]] = game["tipoff_utc"]
        for game in known:
            game["tipoff_utc"] = plan.tipoffs.get(game["game_id"], game["tipoff_utc"])
        return known

    return finish(plan, problems, games, stored, ("game_id",), "schedule", progress)
