"""The one bookmaker policy: which lines and prices count and whose line a player gets.

Serving (request building and the contract) and training go through these rules; grading applies
the odds rule in grade.sql, held to `is_american_odds` by the grading tests. The pre-tip cut-off
(a snapshot counts only if taken before tip-off or, without a tip-off time, before 16:00 UTC of the
game date) runs in the queries: the `PRETIP_CUTOFFS` view, read by lines.sql and slate.sql.
There is no fallback line: a player without a chosen line gets NO_LINE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Final

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import AfterValidator, Field

# A line is a points total strictly between these bounds; anything else is no line.
LINE_MIN: Final = 0.0
LINE_MAX: Final = 100.0
DEFAULT_BOOKMAKER_PRIORITY: Final = ("draftkings", "fanduel", "betmgm", "caesars")
# The view (shared/sql/pretip_cutoffs_view.sql) holding every game's cut-off.
PRETIP_CUTOFFS: Final = "pretip_cutoffs"

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


def valid_line(values: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """True where a value is a usable betting line: finite and strictly between the bounds."""
    arr = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(arr) & (arr > LINE_MIN) & (arr < LINE_MAX)


def is_american_odds(price: int) -> bool:
    """American odds are -100 or shorter, or +100 or longer; a price in between (0, -50, +99) is no
    price at all and would make the profit of a win meaningless. grade.sql applies the same rule."""
    return abs(price) >= 100


def _american_odds(price: int) -> int:
    if not is_american_odds(price):
        raise ValueError(f"{price} is not American odds (<= -100 or >= +100)")
    return price


# The contract's field types for a line and a price.
LinePoints = Annotated[float, Field(gt=LINE_MIN, lt=LINE_MAX)]
AmericanOdds = Annotated[int, AfterValidator(_american_odds)]


def choose_lines(lines: pd.DataFrame, bookmaker_priority: Sequence[str]) -> pd.DataFrame:
    """One row per (player_id, game_id) of lines.sql's rows: among the valid lines, the bookmaker
    earliest in the priority list wins; books not in the list come after it, most recent snapshot
    first. An opening line that is no valid line, and a price that is no American odds, are left
    out (NA), so every chosen row is a line the contract accepts."""
    if lines.empty:
        return pd.DataFrame(columns=LINE_COLUMNS)
    frame = lines.loc[valid_line(lines["line"])].copy()
    frame["opening_line"] = frame["opening_line"].where(valid_line(frame["opening_line"]))
    for side in ("over_price", "under_price"):
        prices = frame[side].astype("Int64")
        frame[side] = prices.where(prices.fillna(0).map(is_american_odds).astype(bool))
    rank = {book.lower(): i for i, book in enumerate(bookmaker_priority)}
    frame["_rank"] = frame["bookmaker"].str.lower().map(rank).fillna(len(rank)).astype(int)
    frame = frame.sort_values(
        ["player_id", "game_id", "_rank", "snapshot_at"], ascending=[True, True, True, False], kind="stable"
    )
    chosen = frame.drop_duplicates(["player_id", "game_id"], keep="first")
    return chosen.drop(columns="_rank").reset_index(drop=True)[LINE_COLUMNS]
