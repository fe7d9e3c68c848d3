"""Benchmark leagues: the seeded synthetic league, with a slate of exactly N players.

Nothing here changes the generator; the shaping (`shape_slate`) is plain DataFrame work on its
output.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from nba_props.league import League, generate_league

# Clone k of player p gets id p + k * CLONE_ID_STRIDE: far above the generator's ids (9,100,001 on).
CLONE_ID_STRIDE = 10_000_000
MIN_DAYS_INTO_SEASON = 30  # the benchmark night must have real season-to-date history behind it


@dataclass(frozen=True)
class BenchLeague:
    """A league ready to load, the night to predict and what the slate holds."""

    league: League
    game_date: date
    players: int  # rows the slate query returns
    games: int
    cloned: int  # players that are clones


def busiest_date(league: League) -> date:
    """The date of the last season with the most games, at least a month into the season."""
    schedule = league.schedule
    season = schedule["season"].max()
    games = schedule.loc[schedule["season"] == season]
    first = games["game_date"].min() + pd.Timedelta(days=MIN_DAYS_INTO_SEASON)
    counts = games.loc[games["game_date"] >= first].groupby("game_date").size()
    # Most games; the earliest such date on a tie (deterministic).
    best = counts[counts == counts.max()].index.min()
    return pd.Timestamp(best).date()


def generate_bench_league(seed: int, players_per_team: int = 17) -> tuple[League, date]:
    """The league played through the day before its busiest date, and that date."""
    probe = generate_league(seed, players_per_team=players_per_team)
    night = busiest_date(probe)
    league = generate_league(
        seed, played_through=night - timedelta(days=1), players_per_team=players_per_team
    )
    if league.next_game_date != night:
        raise RuntimeError(f"expected the next game date {night}, got {league.next_game_date}")
    return league, night


def shape_slate(league: League, game_date: date, players: int) -> BenchLeague:
    """A copy of ``league`` whose slate on ``game_date`` holds exactly ``players`` players.

    The generator's rosters top a slate out near 600 players on the busiest night, so this

    * keeps just enough of that night's games (the others are taken off the schedule: the date is
      unplayed, so nothing else refers to them except their own lines and injury entries, which the
      slate and lines queries only see through the schedule), and spreads N evenly over their teams,
      taking the rest of a roster off it (``team_id`` NULL: still in the league, not on the slate);
    * when N needs more players than the rosters hold (the 1,500-player slate), *clones* rostered
      players: a new player id with a copy of the original's whole record (every box score, line
      snapshot and injury entry), so every query does the work a league of that size would need.
    """
    if players < 2:
        raise ValueError("a slate needs at least two players")
    schedule = league.schedule
    day = pd.Timestamp(game_date)
    tonight = schedule.loc[schedule["game_date"] == day].sort_values("game_id")
    if tonight.empty:
        raise ValueError(f"no games on {game_date}")
    roster = league.players.loc[league.players["team_id"].notna()]
    roster_sizes = roster.groupby("team_id").size()
    per_game = float(np.mean([roster_sizes.get(t, 0) + roster_sizes.get(o, 0) for t, o in _sides(tonight)]))
    games = int(min(len(tonight), max(1, int(np.ceil(players / per_game)))))
    kept_games = tonight.head(games)
    dropped_ids = set(tonight["game_id"]) - set(kept_games["game_id"])
    teams = [team for pair in _sides(kept_games) for team in pair]
    quota = _spread(players, len(teams))

    on_slate: list[int] = []
    clones: list[tuple[int, int]] = []  # (original, clone id)
    for team, wanted in zip(teams, quota, strict=True):
        members = sorted(int(p) for p in roster.loc[roster["team_id"] == team, "player_id"])
        if not members:
            raise ValueError(f"team {team} has no rostered players")
        on_slate.extend(members[:wanted])
        for extra in range(max(0, wanted - len(members))):
            original = members[extra % len(members)]
            clones.append((original, original + (1 + extra // len(members)) * CLONE_ID_STRIDE))

    players_frame = league.players.copy()
    playing = players_frame["team_id"].isin(teams)
    off_slate = playing & ~players_frame["player_id"].isin(on_slate)
    players_frame["team_id"] = players_frame["team_id"].mask(off_slate, pd.NA)

    shaped = dataclasses.replace(
        league,
        players=_with_clones(players_frame, clones, rename=True),
        schedule=schedule.loc[~schedule["game_id"].isin(dropped_ids)].reset_index(drop=True),
        player_game_logs=_with_clones(league.player_game_logs, clones),
        prop_line_snapshots=_with_clones(league.prop_line_snapshots, clones),
        injury_reports=_with_clones(league.injury_reports, clones),
    )
    return BenchLeague(shaped, game_date, players=players, games=games, cloned=len(clones))


def _sides(games: pd.DataFrame) -> list[tuple[int, int]]:
    return [(int(h), int(a)) for h, a in zip(games["home_team_id"], games["away_team_id"], strict=True)]


def _spread(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _with_clones(frame: pd.DataFrame, clones: list[tuple[int, int]], *, rename: bool = False) -> pd.DataFrame:
    """``frame`` plus, for every (original, clone id), a copy of the original's rows under the clone id."""
    if not clones:
        return frame.reset_index(drop=True)
    mapping = pd.DataFrame(clones, columns=["player_id", "clone_id"])
    copies = frame.merge(mapping, on="player_id", how="inner")
    copies["player_id"] = copies.pop("clone_id").astype(frame["player_id"].dtype)
    if rename:
        copies["name"] = copies["name"] + " (" + (copies["player_id"] // CLONE_ID_STRIDE).astype(str) + ")"
    return pd.concat([frame, copies[frame.columns]], ignore_index=True)
