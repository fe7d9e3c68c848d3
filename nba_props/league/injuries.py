"""Injury reports: who is listed, with what status, and who plays on the night."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nba_props.league.knobs import (
    CHANCE_TO_PLAY,
    DOUBTFUL,
    GAMES_PER_TEAM,
    INJURY_REASONS,
    N_TEAMS,
    NOT_LISTED,
    OUT,
    PROBABLE,
    QUESTIONABLE,
    REASONS,
    SINGLE_STATUS_RATE,
    SPELL_LONG_MEAN,
    SPELL_LONG_SHARE,
    SPELL_SHORT_MEAN,
    SPELL_START,
    STAR_REST,
    STATUS_TEXT,
    BoolArray,
    FloatArray,
    IntArray,
)


@dataclass(frozen=True)
class Availability:
    status: IntArray  # (team-games, slots): status code on the report before tip-off
    reason: IntArray  # index into REASONS, -1 without a status
    plays: BoolArray  # whether the player is available on the night
    late_out: BoolArray  # listed as doubtful/questionable/probable, then ruled out shortly before tip
    minutes_factor: FloatArray  # a questionable player or one back from injury plays less


def draw_availability(rng: np.random.Generator, rest_days: IntArray, slots: int) -> Availability:
    """Who is on the injury report, and who plays, for every (team, game, slot) of a season.

    Injuries come in spells of consecutive OUT games (mostly short, some long); the game back is
    listed questionable or probable. Stars sometimes rest the second night of a back-to-back. On top
    come one-game statuses. A doubtful or questionable player may still be ruled out before tip."""
    shape = (N_TEAMS, GAMES_PER_TEAM, slots)
    game_no = np.arange(GAMES_PER_TEAM)[None, :, None]
    starts = rng.random(shape) < SPELL_START
    length = np.where(
        rng.random(shape) < SPELL_LONG_SHARE,
        rng.geometric(1.0 / SPELL_LONG_MEAN, shape),
        rng.geometric(1.0 / SPELL_SHORT_MEAN, shape),
    )
    # A running maximum of "last game of the latest spell" marks every game inside some spell.
    out = np.maximum.accumulate(np.where(starts, game_no + length - 1, -1), axis=1) >= game_no
    last_start = np.maximum.accumulate(np.where(starts, game_no, 0), axis=1)
    spell_reason = np.take_along_axis(rng.integers(0, len(INJURY_REASONS), shape), last_start, axis=1)
    was_out = np.concatenate([np.zeros((N_TEAMS, 1, slots), dtype=bool), out[:, :-1]], axis=1)
    returning = ~out & was_out

    status = np.zeros(shape, dtype=np.int64)
    reason = np.full(shape, -1, dtype=np.int64)
    status[out] = OUT
    status[returning] = np.where(rng.random(int(returning.sum())) < 0.5, QUESTIONABLE, PROBABLE)
    reason[out | returning] = spell_reason[out | returning]

    second_night = (rest_days == 1)[:, :, None]
    star = (np.arange(slots) < 3)[None, None, :]
    resting = (status == NOT_LISTED) & second_night & star & (rng.random(shape) < STAR_REST)
    status[resting] = OUT
    reason[resting] = len(REASONS) - 1

    draw = rng.random(shape)
    free = status == NOT_LISTED
    bounds = np.cumsum(SINGLE_STATUS_RATE)
    one_off = free & (draw < bounds[-1])
    status[one_off] = np.array([DOUBTFUL, QUESTIONABLE, PROBABLE])[
        np.searchsorted(bounds, draw[one_off], "right")
    ]
    reason[one_off] = rng.integers(0, len(INJURY_REASONS), int(one_off.sum()))

    plays = rng.random(shape) < np.array(CHANCE_TO_PLAY)[status]
    listed = (status == DOUBTFUL) | (status == QUESTIONABLE) | (status == PROBABLE)
    reduced = plays & listed & (rng.random(shape) < 0.5)
    minutes_factor = np.where(reduced, rng.uniform(0.7, 0.95, shape), 1.0)
    flat = (N_TEAMS * GAMES_PER_TEAM, slots)
    return Availability(
        status=status.reshape(flat),
        reason=reason.reshape(flat),
        plays=plays.reshape(flat),
        late_out=(listed & ~plays).reshape(flat),
        minutes_factor=minutes_factor.reshape(flat),
    )


def injury_reports(slate: pd.DataFrame, horizon: pd.Timestamp) -> pd.DataFrame:
    """One entry per listed player-game the afternoon before, plus a late OUT when he is ruled out."""
    listed = slate.loc[(slate["status"] != NOT_LISTED) & (slate["game_date"] <= horizon)]
    status_text = np.array(STATUS_TEXT, dtype=object)
    first = pd.DataFrame(
        {
            "game_id": listed["game_id"],
            "game_date": listed["game_date"],
            "player_id": listed["player_id"],
            "status": status_text[listed["status"].to_numpy()],
            "reason": listed["reason"],
            "reported_at": listed["reported_at"],
        }
    )
    late = listed.loc[listed["late_out"]]
    ruled_out = pd.DataFrame(
        {
            "game_id": late["game_id"],
            "game_date": late["game_date"],
            "player_id": late["player_id"],
            "status": "OUT",
            "reason": late["reason"],
            "reported_at": late["ruled_out_at"],
        }
    )
    return pd.concat([first, ruled_out], ignore_index=True).sort_values(
        ["game_date", "game_id", "player_id", "reported_at"], kind="stable", ignore_index=True
    )
