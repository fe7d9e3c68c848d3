"""Points lines from each bookmaker, over the day before tip-off."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nba_props.league.knobs import (
    BOOK_LISTING,
    BOOKMAKERS,
    DOUBTFUL,
    LINE_MIN_MINUTES,
    LOWEST_LINE,
    MARKET_NOISE,
    MARKET_RECENT_WEIGHT,
    MEDIAN_BELOW_MEAN,
    OUT,
    QUESTIONABLE,
    FloatArray,
    IntArray,
)
from nba_props.league.schedule import hours


def _last_ten(logs: pd.DataFrame) -> pd.DataFrame:
    """Each player's average over his last ten games after every game (five at least), vectorised
    with a cumulative sum instead of a rolling window per player."""
    frame = logs[["player_id", "game_date", "points"]].sort_values(["player_id", "game_date"], kind="stable")
    by_player = frame.groupby("player_id", sort=False)
    running = by_player["points"].cumsum()
    ten_back = running.groupby(frame["player_id"]).shift(10).fillna(0)
    played = by_player.cumcount() + 1
    frame["last_ten"] = ((running - ten_back) / played.clip(upper=10)).where(played >= 5)
    return frame.dropna(subset=["last_ten"])[["player_id", "game_date", "last_ten"]]


def prop_lines(
    rng: np.random.Generator,
    slate: pd.DataFrame,
    logs: pd.DataFrame,
    played_through: pd.Timestamp,
    horizon: pd.Timestamp,
) -> pd.DataFrame:
    """Points lines from each bookmaker for every player with a real role, over the day before tip,
    for games up to `horizon`.

    The market's estimate blends what it knows before the game (role, injuries, matchup) with the
    player's last-ten average, plus noise: a little sharper than the last-ten average alone. Books
    differ by a few tenths, open about a day before tip with one to three later snapshots, move a
    point now and then toward the news, and pull a player ruled out late. Some played games also
    have a live line after tip-off, which consumers must ignore.

    Every draw is made for every (player-game, book) of the simulation, in a fixed layout of five
    snapshot slots (opening, up to three later, live), and only then cut to the horizon: the lines
    of a game do not depend on where `played_through` falls, and only the kept games are expanded."""
    slate = slate.sort_values("game_date", kind="stable").reset_index(drop=True)
    listed = (slate["expected_minutes"] >= LINE_MIN_MINUTES) & ~slate["status"].isin([OUT, DOUBTFUL])
    listed &= (slate["status"] != QUESTIONABLE) | (rng.random(len(slate)) < 0.5)
    candidates = slate.loc[listed].reset_index(drop=True)
    recent = pd.merge_asof(
        candidates[["game_date", "player_id"]],
        _last_ten(logs).sort_values("game_date", kind="stable"),
        on="game_date",
        by="player_id",
        allow_exact_matches=False,
    )["last_ten"].to_numpy()
    expected = candidates["expected_points"].to_numpy()
    blended = (1 - MARKET_RECENT_WEIGHT) * expected + MARKET_RECENT_WEIGHT * recent
    market = np.where(np.isnan(recent), expected, blended)
    # Books hang the line near the median, which for right-skewed points sits below the mean.
    market = np.maximum(market - MEDIAN_BELOW_MEAN + rng.normal(0.0, MARKET_NOISE, market.size), LOWEST_LINE)
    news = market + rng.normal(0.0, 0.6, market.size)  # where the market drifts by tip-off

    # (candidate, book) pairs; stars are listed everywhere, role players not by every book.
    n_books = len(BOOKMAKERS)
    pair = np.repeat(np.arange(len(candidates)), n_books)
    book = np.tile(np.arange(n_books), len(candidates))
    regular = np.where(candidates["expected_minutes"].to_numpy()[pair] >= 24, 1.0, 0.8)
    listed_by_book = rng.random(pair.size) < np.array(BOOK_LISTING)[book] * regular
    pair, book = pair[listed_by_book], book[listed_by_book]
    n = pair.size
    opening = np.floor(market[pair] + rng.normal(0.0, 0.3, n)) + 0.5  # lines sit on the half point
    later = rng.integers(1, 4, n)
    live = rng.random(n) < 0.15
    lead_hours = rng.uniform(20.0, 26.0, n)
    slice_position = rng.uniform(0.15, 0.85, (n, 3))
    with_the_news = rng.random((n, 3))
    move_size = np.select([rng.random((n, 3)) < 0.04, rng.random((n, 3)) < 0.25], [2.0, 1.0], 0.0)
    live_move = np.round(rng.normal(0.0, 2.0, n))
    live_after_hours = rng.uniform(0.05, 1.3, n)

    kept = candidates["game_date"].to_numpy()[pair] <= horizon.to_datetime64()
    pair, book, later, live = pair[kept], book[kept], later[kept], live[kept]
    opening, lead_hours = opening[kept], lead_hours[kept]
    live_move, live_after_hours = live_move[kept], live_after_hours[kept]
    slice_position, with_the_news, move_size = slice_position[kept], with_the_news[kept], move_size[kept]

    # Times: the opening, then later snapshots in separate slices of the window up to five minutes
    # before tip (strictly increasing), then the live one after tip.
    tipoff = candidates["tipoff_utc"].to_numpy()[pair]
    opened_at = tipoff - hours(lead_hours)
    window = ((tipoff - np.timedelta64(5, "m")) - opened_at).astype(np.float64)
    k = np.arange(1, 4)[None, :]
    fraction = (k - 1 + slice_position) / later[:, None]
    taken = np.concatenate(
        [
            opened_at[:, None],
            opened_at[:, None] + (window[:, None] * fraction).astype("timedelta64[ns]"),
            (tipoff + hours(live_after_hours))[:, None],
        ],
        axis=1,
    )
    # Lines: moves toward the news more often than not; the live line swings from the last one.
    toward = np.sign(news[pair] - opening)
    toward = np.where(toward == 0, 1.0, toward)[:, None]
    direction = np.where(with_the_news < 0.5 + 0.3 * (news[pair] != opening)[:, None], toward, -toward)
    before_tip = opening[:, None] + np.concatenate(
        [np.zeros((pair.size, 1)), np.cumsum(direction * move_size, axis=1)], axis=1
    )
    closing = np.take_along_axis(before_tip, later[:, None], axis=1)[:, 0]
    line = np.maximum(np.concatenate([before_tip, (closing + live_move)[:, None]], axis=1), LOWEST_LINE + 0.5)

    game_played = (candidates["game_date"].to_numpy()[pair] <= played_through.to_datetime64()) & candidates[
        "played"
    ].to_numpy()[pair].astype(bool)
    exists = np.concatenate(
        [np.ones((pair.size, 1), bool), k <= later[:, None], (live & game_played)[:, None]], axis=1
    )
    # A player ruled out late is taken off the board from that moment.
    late_out = candidates["late_out"].to_numpy()[pair].astype(bool)
    pulled = late_out[:, None] & (taken >= candidates["ruled_out_at"].to_numpy()[pair][:, None])
    row, slot = np.nonzero(exists & ~pulled)

    # Prices: -110 both ways, shaded toward the side the book expects the money on.
    chosen_line = line[row, slot]
    skew = np.clip(5.0 * np.round(2.0 * (news[pair][row] - chosen_line)), -15.0, 15.0)
    return pd.DataFrame(
        {
            "game_id": candidates["game_id"].to_numpy()[pair][row],
            "game_date": candidates["game_date"].to_numpy()[pair][row],
            "player_id": candidates["player_id"].to_numpy()[pair][row],
            "bookmaker": np.array(BOOKMAKERS)[book][row],
            "line": chosen_line,
            "over_price": _american(-110.0 - skew),
            "under_price": _american(-110.0 + skew),
            "snapshot_at": taken[row, slot],
        }
    )


def _american(price: FloatArray) -> IntArray:
    """American odds skip (-100, +100): -95 is written +105."""
    whole = np.rint(price)
    return np.where(whole > -100, whole + 200, whole).astype(np.int64)
