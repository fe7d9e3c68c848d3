"""Players and rosters: who played where in which season, their roles, talent and rates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from nba_props.league.knobs import (
    EXTRA_SLOT_MINUTES,
    EXTRA_SLOT_PLAY,
    FIRST_NAMES,
    FOUL_DRAWING,
    LAST_NAMES,
    N_TEAMS,
    PLAY_PROBABILITY,
    PLAYER_ID_BASE,
    POSITION_RATES,
    POSITION_SHARE,
    POSITION_SHOOTING,
    POSITIONS,
    REGULATION_MINUTES,
    ROLE_MINUTES,
    ROLE_NOISE,
    ROOKIE_DISCOUNT,
    TALENT_FLOOR,
    TALENT_SMOOTHING,
    TALENT_TAIL,
    TEAM_STAT_TARGETS,
    DayArray,
    FloatArray,
    IntArray,
)
from nba_props.league.schedule import Calendar, to_date
from nba_props.nba_teams import NBA_TEAMS


@dataclass(frozen=True)
class Rosters:
    """Everyone who ever played in the league, and who was where in which season."""

    names: list[str]
    birth: DayArray
    position: IntArray  # index into POSITIONS
    shooting: FloatArray  # (players, 6): three rate, 2P%, 3P%, FT rate, FT%, paint share
    rates: FloatArray  # (players, 7): per-minute OREB, DREB, AST, STL, BLK, TOV, PF before scaling
    members: list[IntArray]  # per season, (teams, slots): player index, slot 0 the biggest role
    talent: list[FloatArray]  # per season, (teams, slots): points per minute
    minutes_bias: list[FloatArray]  # per season, (teams, slots): player's multiplier on his slot's minutes
    # Per season, (7,): scales rates so team totals match the real means. Only steals, blocks and
    # fouls use the level; rebounds, assists and turnovers are shares of team totals.
    stat_scale: list[FloatArray]


def slot_minutes(slots: int) -> tuple[FloatArray, FloatArray]:
    minutes = list(ROLE_MINUTES[:slots]) + [EXTRA_SLOT_MINUTES] * max(0, slots - len(ROLE_MINUTES))
    play = list(PLAY_PROBABILITY[:slots]) + [EXTRA_SLOT_PLAY] * max(0, slots - len(PLAY_PROBABILITY))
    return np.array(minutes, dtype=np.float64), np.array(play, dtype=np.float64)


def _new_players(
    rng: np.random.Generator, count: int, season_start: date, *, rookies: bool
) -> dict[str, npt.NDArray[np.generic]]:
    age = rng.uniform(19.3, 22.8, count) if rookies else np.clip(rng.normal(26.3, 4.0, count), 19.3, 37.5)
    birth = np.datetime64(season_start, "D") - np.round(age * 365.25).astype("timedelta64[D]")
    position = rng.choice(len(POSITIONS), size=count, p=POSITION_SHARE)
    base = np.array(POSITION_SHOOTING)[position]
    spread = np.array([0.08, 0.035, 0.03, 0.0, 0.06, 0.06])
    shooting = base + rng.normal(0.0, 1.0, (count, 6)) * spread
    talent = (TALENT_FLOOR + rng.exponential(TALENT_TAIL, count)) * rng.lognormal(
        0.0, TALENT_SMOOTHING, count
    )
    if rookies:
        talent *= ROOKIE_DISCOUNT
    # Free-throw rate varies by style, and scorers draw more fouls (real stars: FTA/FGA ~0.3-0.4).
    shooting[:, 3] = base[:, 3] * rng.lognormal(0.0, 0.3, count) * (talent / 0.4) ** FOUL_DRAWING
    shooting = np.clip(shooting, [0.0, 0.40, 0.22, 0.03, 0.45, 0.30], [0.85, 0.72, 0.45, 0.80, 0.93, 0.99])
    rates = np.array(POSITION_RATES)[position] / 36.0 * rng.lognormal(0.0, 0.25, (count, 7))
    return {"birth": birth, "position": position, "shooting": shooting, "rates": rates, "talent": talent}


def _age_trend(age: FloatArray) -> FloatArray:
    """Year-on-year change of log talent: the young improve, the old decline."""
    return np.select([age < 23, age < 26, age < 30, age < 33], [0.08, 0.04, 0.0, -0.04], default=-0.09)


def draw_rosters(rng: np.random.Generator, calendars: Sequence[Calendar], slots: int) -> Rosters:
    starts = [to_date(c.days[0]) for c in calendars]
    batches = [_new_players(rng, N_TEAMS * slots, starts[0], rookies=False)]
    members = np.arange(N_TEAMS * slots, dtype=np.int64).reshape(N_TEAMS, slots)
    talent_now = batches[0]["talent"].astype(np.float64)
    role_minutes, play = slot_minutes(slots)

    all_members: list[IntArray] = []
    all_talent: list[FloatArray] = []
    all_bias: list[FloatArray] = []
    next_id = N_TEAMS * slots
    for season, start in enumerate(starts):
        if season > 0:
            births = np.concatenate([b["birth"] for b in batches]).astype("datetime64[D]")
            ages = (np.datetime64(start, "D") - births).astype(np.float64) / 365.25
            talent_now = talent_now * np.exp(_age_trend(ages) + rng.normal(0.0, 0.10, ages.size))
            # One or two players per team leave each summer, older ones more likely; rookies replace them.
            leaving = rng.integers(1, 3, N_TEAMS)
            key = rng.random((N_TEAMS, slots)) - 0.03 * np.maximum(ages[members] - 28.0, 0.0)
            rank = np.argsort(np.argsort(key, axis=1), axis=1)
            replace = rank < leaving[:, None]
            n_new = int(replace.sum())
            batch = _new_players(rng, n_new, start, rookies=True)
            batches.append(batch)
            talent_now = np.concatenate([talent_now, batch["talent"].astype(np.float64)])
            members = members.copy()
            members[replace] = np.arange(next_id, next_id + n_new)
            next_id += n_new
        # Roles follow talent, imperfectly: coaches also play defenders and veterans.
        quality = np.log(talent_now[members]) + rng.normal(0.0, ROLE_NOISE, members.shape)
        members = np.take_along_axis(members, np.argsort(-quality, axis=1), axis=1)
        all_members.append(members)
        all_talent.append(talent_now[members])
        all_bias.append(rng.lognormal(0.0, 0.07, members.shape))

    rates = np.concatenate([b["rates"] for b in batches]).astype(np.float64)
    expected_minutes = role_minutes * play * (REGULATION_MINUTES / float((role_minutes * play).sum()))
    stat_scale = [
        np.array(TEAM_STAT_TARGETS) / np.einsum("tsk,s->k", rates[m], expected_minutes) * N_TEAMS
        for m in all_members
    ]
    # Distinct names: draw first/last combinations without replacement (4,800 of them).
    combos = rng.choice(len(FIRST_NAMES) * len(LAST_NAMES), size=next_id, replace=False)
    names = [
        f"{FIRST_NAMES[c // len(LAST_NAMES)]} {LAST_NAMES[c % len(LAST_NAMES)]}" for c in combos.tolist()
    ]
    return Rosters(
        names=names,
        birth=np.concatenate([b["birth"] for b in batches]).astype("datetime64[D]"),
        position=np.concatenate([b["position"] for b in batches]).astype(np.int64),
        shooting=np.concatenate([b["shooting"] for b in batches]).astype(np.float64),
        rates=rates,
        members=all_members,
        talent=all_talent,
        minutes_bias=all_bias,
        stat_scale=stat_scale,
    )


def players_frame(rosters: Rosters) -> pd.DataFrame:
    """Everyone who played in any season; team_id is the current (last season's) team, NULL for
    players who have left the league."""
    count = len(rosters.names)
    team_ids = np.array([t.team_id for t in NBA_TEAMS], dtype=np.int64)
    current = rosters.members[-1]
    team_id = pd.array([pd.NA] * count, dtype="Int64")
    team_id[current.ravel()] = np.repeat(team_ids, current.shape[1])
    return pd.DataFrame(
        {
            "player_id": PLAYER_ID_BASE + 1 + np.arange(count),
            "name": rosters.names,
            "team_id": team_id,
            "position": np.array(POSITIONS)[rosters.position],
            "birth_date": rosters.birth,
        }
    )
