"""`import-lines`: The Odds API v4 event odds (market ``player_points``, current or historical) or a
CSV into ``prop_line_snapshots`` (docs/formats/lines.md). Prices are stored as American odds."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from nba_props.importers import source
from nba_props.importers.names import PlayerNames, resolve_team
from nba_props.importers.schedule import EASTERN
from nba_props.importers.source import Problems
from nba_props.importers.store import (
    Plan,
    Progress,
    Record,
    Unmatched,
    as_date,
    finish,
    games_of_players,
    stored_games,
    stored_of_games,
)
from shared.warehouse import Warehouse

CSV_COLUMNS = ("game_date", "bookmaker", "line", "over_price", "under_price", "snapshot_time")
MARKET = "player_points"
KEY = ("game_id", "player_id", "bookmaker", "snapshot_at")


class OddsFormat(StrEnum):
    AUTO = "auto"
    AMERICAN = "american"
    DECIMAL = "decimal"


def american(price: float, odds_format: OddsFormat) -> int | None:
    """The price as American odds, or None when it is not a valid price in that format."""
    if odds_format is OddsFormat.DECIMAL:
        if price <= 1.0:
            return None
        return round((price - 1) * 100) if price >= 2 else round(-100 / (price - 1))
    if not float(price).is_integer() or abs(price) < 100:
        return None
    return int(price)


def _detect(prices: Iterable[float]) -> OddsFormat | None:
    values = list(prices)
    if all(float(p).is_integer() and abs(p) >= 100 for p in values):
        return OddsFormat.AMERICAN
    if all(1 < p < 100 for p in values):
        return OddsFormat.DECIMAL
    return None


def _line(problems: Problems, where: str, column: str, value: Any) -> float | None:
    parse = source.json_number if where.startswith("$") else source.number
    line = parse(problems, where, column, value)
    if line is not None and not 0 < line < 100:
        problems.add(where, column, f"a points line must lie between 0 and 100 (got {value!r})")
        return None
    return line


def _events(problems: Problems, document: Any) -> list[tuple[str, dict[str, Any], datetime | None]]:
    """(JSON path, event, wrapper timestamp) for a bare event, a list of events or the historical
    wrapper ``{"timestamp": ..., "data": event or [events]}``."""
    stamp = None
    root = "$"
    if isinstance(document, dict) and "data" in document and "timestamp" in document:
        stamp = source.instant(problems, "$", "timestamp", document["timestamp"])
        document, root = document["data"], "$.data"
    if isinstance(document, list):
        return [
            (f"{root}[{i}]", source.fields(problems, f"{root}[{i}]", e), stamp)
            for i, e in enumerate(document)
        ]
    return [(root, source.fields(problems, root, document), stamp)]


def _from_json(
    problems: Problems,
    warehouse: Warehouse,
    document: Any,
    names: PlayerNames,
    plan: Plan,
    odds_format: OddsFormat,
) -> list[Record]:
    events = _events(problems, document)
    quotes: list[tuple[str, dict[str, Any], str, float]] = []  # where, context, name, raw price
    starts: dict[str, tuple[int, int, datetime]] = {}
    for where, event, stamp in events:
        if not event:
            continue
        commence = source.instant(problems, where, "commence_time", event.get("commence_time"))
        home, away = resolve_team(event.get("home_team")), resolve_team(event.get("away_team"))
        for column, team in (("home_team", home), ("away_team", away)):
            if team is None:
                problems.add(where, column, f"not an NBA team (got {event.get(column)!r})")
        if commence is not None and home is not None and away is not None:
            starts[where] = (home.team_id, away.team_id, commence)
        for b, book in enumerate(source.items(problems, f"{where}.bookmakers", event.get("bookmakers", []))):
            bwhere = f"{where}.bookmakers[{b}]"
            book = source.fields(problems, bwhere, book)
            key = source.text(problems, bwhere, "key", book.get("key"))
            for m, market in enumerate(source.items(problems, f"{bwhere}.markets", book.get("markets", []))):
                mwhere = f"{bwhere}.markets[{m}]"
                market = source.fields(problems, mwhere, market)
                if market.get("key") != MARKET:
                    continue
                updated = market.get("last_update") or book.get("last_update")
                at = source.instant(problems, mwhere, "last_update", updated) if updated else stamp
                if at is None and not updated:
                    problems.add(mwhere, "last_update", "no last_update and no snapshot timestamp")
                for o, outcome in enumerate(
                    source.items(problems, f"{mwhere}.outcomes", market.get("outcomes"))
                ):
                    owhere = f"{mwhere}.outcomes[{o}]"
                    outcome = source.fields(problems, owhere, outcome)
                    side = source.text(problems, owhere, "name", outcome.get("name"))
                    if side is not None and side.lower() not in ("over", "under"):
                        problems.add(owhere, "name", f"not Over or Under (got {side!r})")
                    player = source.text(problems, owhere, "description", outcome.get("description"))
                    point = _line(problems, owhere, "point", outcome.get("point"))
                    price = source.json_number(problems, owhere, "price", outcome.get("price"))
                    if None in (key, at, side, player, point) or price is None or where not in starts:
                        continue
                    plan.rows_read += 1
                    context = {
                        "event": where,
                        "bookmaker": str(key).lower(),
                        "snapshot_at": at,
                        "line": point,
                    }
                    quotes.append((owhere, {**context, "side": str(side).lower()}, str(player), float(price)))
    problems.raise_if_any()
    chosen = odds_format if odds_format is not OddsFormat.AUTO else _detect(q[3] for q in quotes)
    if chosen is None:
        raise source.ImportRefused(
            f"{plan.file}: prices mix decimal and American odds; say which with --odds-format"
        )
    games = _games_of_events(problems, warehouse, starts)
    rows: dict[tuple[Any, ...], Record] = {}
    for owhere, quote, player, price in quotes:
        odds = american(price, chosen)
        if odds is None:
            problems.add(owhere, "price", f"not a valid {chosen.value} price (got {price!r})")
            continue
        resolved = names.resolve(player)
        if resolved.player_id is None:
            plan.unmatched.append(Unmatched(owhere, player, resolved))
            continue
        game = games.get(quote["event"])
        if game is None:
            continue
        row_key = (
            game["game_id"],
            resolved.player_id,
            quote["bookmaker"],
            quote["snapshot_at"],
            quote["line"],
        )
        row = rows.setdefault(
            row_key,
            {
                "game_id": game["game_id"],
                "game_date": as_date(game["game_date"]),
                "player_id": resolved.player_id,
                "bookmaker": quote["bookmaker"],
                "line": quote["line"],
                "over_price": None,
                "under_price": None,
                "snapshot_at": quote["snapshot_at"],
                "_where": owhere,
                "_columns": {"line": "point", "over_price": "price", "under_price": "price"},
            },
        )
        side = f"{quote['side']}_price"
        if row[side] is not None and row[side] != odds:
            problems.add(owhere, "price", f"a second {quote['side']} price for this player and line")
        row[side] = odds
    return list(rows.values())


def _games_of_events(
    problems: Problems, warehouse: Warehouse, starts: dict[str, tuple[int, int, datetime]]
) -> dict[str, Record]:
    """Each event's stored game: the same home and away teams, on the Eastern date of commence_time
    (or a day either side, for a time zone slip in the source)."""
    days = {
        start.astimezone(EASTERN).date() + timedelta(days=d)
        for *_, start in starts.values()
        for d in (-1, 0, 1)
    }
    stored = stored_games(warehouse, (), days)
    out: dict[str, Record] = {}
    for where, (home, away, start) in starts.items():
        day = start.astimezone(EASTERN).date()
        found = [g for g in stored if g["home_team_id"] == home and g["away_team_id"] == away]
        found.sort(key=lambda g: abs((as_date(g["game_date"]) - day).days))
        if not found or abs((as_date(found[0]["game_date"]) - day).days) > 1:
            problems.add(
                where,
                "commence_time",
                f"no game of these teams around {day} in the schedule (import the schedule first)",
            )
            continue
        out[where] = found[0]
    return out


def _from_csv(
    problems: Problems, warehouse: Warehouse, rows: list[source.Row], names: PlayerNames, plan: Plan
) -> list[Record]:
    parsed: list[tuple[source.Row, int, date, Record]] = []
    for row in rows:
        cells = row.cells
        plan.rows_read += 1
        before = len(problems.found)
        day = source.day(problems, row.where, "game_date", cells["game_date"])
        book = source.text(problems, row.where, "bookmaker", cells["bookmaker"])
        line = _line(problems, row.where, "line", cells["line"])
        prices = {}
        for column in ("over_price", "under_price"):
            price = source.number(problems, row.where, column, cells[column], required=False)
            prices[column] = None if price is None else american(price, OddsFormat.AMERICAN)
            if price is not None and prices[column] is None:
                problems.add(row.where, column, f"not American odds (got {cells[column]!r})")
        at = source.instant(problems, row.where, "snapshot_time", cells["snapshot_time"])
        player_id = _csv_player(problems, row, names, plan)
        if player_id is None or len(problems.found) > before or day is None:
            continue
        parsed.append(
            (row, player_id, day, {"bookmaker": str(book).lower(), "line": line, **prices, "snapshot_at": at})
        )
    wanted = [(r.where, r.line, p, d, r.cells.get("team"), r.cells.get("game_id")) for r, p, d, _ in parsed]
    games = games_of_players(problems, warehouse, wanted)
    out = []
    for row, player_id, day, values in parsed:
        game = games.get(row.line)
        if game is not None:
            out.append(
                {
                    "game_id": game["game_id"],
                    "game_date": day,
                    "player_id": player_id,
                    **values,
                    "_where": row.where,
                    "_columns": {"snapshot_at": "snapshot_time"},
                }
            )
    return out


def _csv_player(problems: Problems, row: source.Row, names: PlayerNames, plan: Plan) -> int | None:
    """The row's player: ``player_id`` when given (it must be known), else ``player_name`` resolved."""
    cells = row.cells
    if cells.get("player_id"):
        player_id = source.integer(problems, row.where, "player_id", cells["player_id"])
        if player_id is not None and not names.known(player_id):
            problems.add(row.where, "player_id", f"no player {player_id} in the warehouse")
            return None
        return player_id
    raw = cells.get("player_name", "")
    if not raw:
        problems.add(row.where, "player_name", "missing value (give player_name or player_id)")
        return None
    resolved = names.resolve(raw)
    if resolved.player_id is None:
        plan.unmatched.append(Unmatched(row.where, raw, resolved))
    return resolved.player_id


def plan_lines(
    warehouse: Warehouse,
    path: Path,
    names: PlayerNames,
    odds_format: OddsFormat = OddsFormat.AUTO,
    progress: Progress | None = None,
) -> Plan:
    """Read and check the file; raises `ImportRefused`, writing nothing."""
    text = source.decode(path, source.read_bytes(path))
    problems = Problems(str(path))
    plan = Plan(file=str(path), rows_read=0)
    if source.is_json(path, text):
        rows = _from_json(problems, warehouse, source.read_json(path, text), names, plan, odds_format)
    else:
        rows = _from_csv(problems, warehouse, source.read_csv(path, text, CSV_COLUMNS, problems), names, plan)
    stored = stored_of_games(warehouse, "import_stored_snapshots")
    return finish(plan, problems, rows, stored, KEY, "prop_line_snapshots", progress)
