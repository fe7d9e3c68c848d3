"""What the coordinator makes of the night's three query results (pure, no queries, no clock).

`plan_slate` chooses one line per player, decides once who is eligible (everyone else gets a
reasoned skip), builds the requests and counts what was loaded; a row the message contract refuses
is reported as rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from coordinator.requests import build_requests, injury_status
from shared.contracts import PredictionRequest
from shared.lines import choose_lines
from shared.warehouse import frame_records

# (player_id, reason, detail)
Skip = tuple[int, str, str]


@dataclass
class LoadMetrics:
    batch_load_time: float = 0.0
    player_count: int = 0
    games_loaded: int = 0
    lines_loaded: int = 0
    queries: int = 0
    query_seconds: dict[str, float] = field(default_factory=dict)
    history_rows: int = 0
    players_with_line: int = 0


@dataclass
class SlateLoad:
    """The three query results and what the coordinator makes of them."""

    requests: list[PredictionRequest]
    skips: list[Skip]
    metrics: LoadMetrics
    # Slate rows the message contract refused: (player_id, why), recorded as failed.
    rejected: list[tuple[int, str]] = field(default_factory=list)

    @property
    def expected(self) -> int:
        """Every slate player ends as exactly one of these: a request, a skip or a rejection."""
        return len(self.requests) + len(self.skips) + len(self.rejected)

    @property
    def player_ids(self) -> list[int]:
        """The players the batch expects, sorted: those of the requests, skips and rejections."""
        ids = [r.player_id for r in self.requests] + [pid for pid, _, _ in self.skips]
        return sorted(ids + [pid for pid, _ in self.rejected])


def eligibility(
    slate: pd.DataFrame, history: pd.DataFrame, *, min_history_games: int
) -> tuple[pd.DataFrame, list[Skip]]:
    """Who gets a prediction: not ruled OUT, with enough prior games. The others are skipped."""
    games_played = history.groupby("player_id").size() if not history.empty else pd.Series(dtype=int)
    counts = slate["player_id"].map(games_played).fillna(0).astype(int)
    statuses = [injury_status(row["injury_status"]) for row in frame_records(slate[["injury_status"]])]
    out = pd.Series([status == "OUT" for status in statuses], index=slate.index, dtype=bool)
    thin = ~out & (counts < min_history_games)
    skips: list[Skip] = [
        (int(row["player_id"]), "injured_out", str(row.get("injury_reason") or ""))
        for row in slate.loc[out].to_dict("records")
    ]
    skips += [
        (int(pid), "insufficient_history", f"{n} prior games < {min_history_games}")
        for pid, n in zip(slate.loc[thin, "player_id"], counts[thin], strict=True)
    ]
    return slate.loc[~out & ~thin].reset_index(drop=True), skips


def plan_slate(
    slate: pd.DataFrame,
    history: pd.DataFrame,
    lines: pd.DataFrame,
    *,
    batch_id: str,
    bookmaker_priority: Sequence[str],
    min_history_games: int,
    metrics: LoadMetrics | None = None,
) -> SlateLoad:
    """Requests, skips and rejected rows of the slate; `metrics` (timings so far) gets the counts."""
    metrics = metrics or LoadMetrics()
    metrics.player_count = len(slate)
    if slate.empty:
        return SlateLoad([], [], metrics)
    chosen = choose_lines(lines, bookmaker_priority)
    metrics.history_rows = len(history)
    metrics.games_loaded = int(slate["game_id"].nunique())
    metrics.lines_loaded = len(lines)
    metrics.players_with_line = len(chosen)
    eligible, skips = eligibility(slate, history, min_history_games=min_history_games)
    rejected: list[tuple[int, str]] = []
    requests = build_requests(eligible, history, chosen, batch_id=batch_id, rejected=rejected)
    return SlateLoad(requests, skips, metrics, rejected)
