"""Eligible slate rows + history + chosen lines → one `PredictionRequest` per player (pure).

Who is eligible is decided once, by `coordinator.slate`; an OUT row reaching here is refused by the
contract. An unknown injury status becomes None (as `compute_features` maps it to NaN); a line or
opening line outside the contract's bounds is no line; the context features are computed from the
slate's own columns by the function training uses.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from shared.contracts import (
    INJURY_STATUSES,
    GameContext,
    HistoryTable,
    LineQuote,
    PredictionRequest,
)
from shared.features.context import CONTEXT_INPUT_COLUMNS, context_features, context_payload
from shared.features.window import HISTORY_COLUMNS
from shared.lines import is_american_odds, valid_line
from shared.warehouse import frame_records

_CONTEXT_FLOATS = (
    "team_pace",
    "team_off_rating",
    "team_win_pct",
    "opponent_def_rating",
    "opponent_pace",
    "opponent_paint_share_allowed",
    "opponent_mid_share_allowed",
    "opponent_three_share_allowed",
)
_CONTEXT_INTS = ("team_rest_days", "opponent_rest_days")


# Rows reach these as `frame_records` gives them: NULLs are None, timestamps timezone-aware.


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_price(value: Any) -> int | None:
    """American odds, or None: a price the contract refuses (0, -50) is no price, not a bad line."""
    price = _opt_int(value)
    return price if price is not None and is_american_odds(price) else None


def _as_date(value: Any) -> date:
    stamp = pd.Timestamp(value)
    return date(stamp.year, stamp.month, stamp.day)


def _opt_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    result: datetime = stamp.to_pydatetime()
    return result


def injury_status(value: Any) -> str | None:
    """A slate's injury status as the rules compare it: trimmed, upper case; None when missing."""
    if value is None:
        return None
    return str(value).strip().upper()


def _history_lists(history: pd.DataFrame) -> tuple[np.ndarray, dict[str, list[Any]]]:
    """History sorted by (player, date) as plain Python lists (None for missing), plus player ids."""
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise ValueError(f"history frame lacks columns {missing}")
    frame = history.sort_values(["player_id", "game_date"], kind="stable")
    lists: dict[str, list[Any]] = {}
    for name in HISTORY_COLUMNS[1:]:
        column = frame[name]
        if name == "game_date":
            days = pd.to_datetime(column).to_numpy().astype("datetime64[D]")
            lists[name] = days.tolist()  # datetime64[D] → datetime.date
        elif name == "season":
            lists[name] = column.astype(str).tolist()
        elif name == "is_home":
            lists[name] = column.astype(bool).tolist()
        elif name == "opponent_team_id":
            lists[name] = column.astype(np.int64).tolist()
        else:
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            lists[name] = [None if v != v else v for v in values.tolist()]
    return frame["player_id"].to_numpy(dtype=np.int64), lists


def _line_quote(row: dict[Any, Any]) -> LineQuote | None:
    line = _opt_float(row.get("line"))
    if line is None or not bool(valid_line(line)):
        return None
    opening = _opt_float(row.get("opening_line"))
    if opening is not None and not bool(valid_line(opening)):
        opening = None
    snapshot_at = _opt_datetime(row.get("snapshot_at"))
    if snapshot_at is None:
        return None
    return LineQuote(
        bookmaker=str(row["bookmaker"]),
        line=line,
        over_price=_opt_price(row.get("over_price")),
        under_price=_opt_price(row.get("under_price")),
        snapshot_at=snapshot_at,
        opening_line=opening,
    )


def build_requests(
    slate: pd.DataFrame,
    history: pd.DataFrame,
    lines: pd.DataFrame,
    *,
    batch_id: str,
    rejected: list[tuple[int, str]] | None = None,
) -> list[PredictionRequest]:
    """One request per slate row, in slate order, each with its own history.

    A row the contract refuses raises, unless ``rejected`` is given: then (player_id, why) is
    appended to it and the row is left out (one player's problem, not the night's).
    """
    player_ids, lists = _history_lists(history)
    line_rows: dict[tuple[int, str], dict[Any, Any]] = {
        (int(row["player_id"]), str(row["game_id"])): row for row in frame_records(lines)
    }
    has_context = all(c in slate.columns for c in CONTEXT_INPUT_COLUMNS)
    context = context_features(slate.reset_index(drop=True)) if has_context else None
    # Plain dicts: a row of a DataFrame (`.iloc`) costs about half a millisecond, per player.
    context_rows = (
        [{str(k): v for k, v in row.items()} for row in context.to_dict("records")]
        if context is not None
        else None
    )
    requests: list[PredictionRequest] = []
    for position, row in enumerate(frame_records(slate)):
        status = injury_status(row.get("injury_status"))
        player_id = int(row["player_id"])
        try:
            request = _request(row, position, status, player_ids, lists, line_rows, context_rows, batch_id)
        except ValidationError as exc:
            if rejected is None:
                raise
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            rejected.append((player_id, problems[:500]))
            continue
        requests.append(request)
    return requests


def _request(
    row: dict[Any, Any],
    position: int,
    status: str | None,
    player_ids: np.ndarray,
    lists: dict[str, list[Any]],
    line_rows: dict[tuple[int, str], dict[Any, Any]],
    context_rows: list[dict[str, Any]] | None,
    batch_id: str,
) -> PredictionRequest:
    player_id = int(row["player_id"])
    game_id = str(row["game_id"])
    lo = int(np.searchsorted(player_ids, player_id, side="left"))
    hi = int(np.searchsorted(player_ids, player_id, side="right"))
    game = GameContext(
        game_id=game_id,
        game_date=_as_date(row["game_date"]),
        tipoff_utc=_opt_datetime(row.get("tipoff_utc")),
        season=str(row["season"]),
        phase=row["phase"],
        team_id=int(row["team_id"]),
        team_abbr=str(row["team_abbr"]),
        opponent_team_id=int(row["opponent_team_id"]),
        opponent_abbr=str(row["opponent_abbr"]),
        is_home=bool(row["is_home"]),
        **{name: _opt_float(row.get(name)) for name in _CONTEXT_FLOATS},
        **{name: _opt_int(row.get(name)) for name in _CONTEXT_INTS},
    )
    line_row = line_rows.get((player_id, game_id))
    return PredictionRequest(
        batch_id=batch_id,
        player_id=player_id,
        player_name=str(row["player_name"]),
        game=game,
        injury_status=status if status in INJURY_STATUSES else None,
        history=HistoryTable(**{name: values[lo:hi] for name, values in lists.items()}),
        line=_line_quote(line_row) if line_row is not None else None,
        context=context_payload(context_rows[position]) if context_rows is not None else {},
    )
