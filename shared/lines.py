"""Choosing one real line per player and game. There is no fallback value: no line means NO_LINE."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

LINE_COLUMNS = [
    "player_id",
    "game_id",
    "bookmaker",
    "line",
    "over_price",
    "under_price",
    "snapshot_at",
    "opening_line",
]


def choose_lines(lines: pd.DataFrame, bookmaker_priority: Sequence[str]) -> pd.DataFrame:
    """One row per (player_id, game_id): the bookmaker earliest in the priority list wins; books not
    in the list come after it, most recent snapshot first. Rows without a positive line are dropped.
    """
    if lines.empty:
        return pd.DataFrame(columns=LINE_COLUMNS)
    frame = lines.loc[lines["line"].notna() & (lines["line"] > 0)].copy()
    rank = {book.lower(): i for i, book in enumerate(bookmaker_priority)}
    frame["_rank"] = frame["bookmaker"].str.lower().map(rank).fillna(len(rank)).astype(int)
    frame = frame.sort_values(
        ["player_id", "game_id", "_rank", "snapshot_at"], ascending=[True, True, True, False], kind="stable"
    )
    chosen = frame.drop_duplicates(["player_id", "game_id"], keep="first")
    return chosen.drop(columns="_rank").reset_index(drop=True)[LINE_COLUMNS]
