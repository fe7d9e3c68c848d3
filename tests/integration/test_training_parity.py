"""The parity guard: for a past date, the serving path and the training path give the same features.

Serving: slate.sql, history.sql and lines.sql through `warehouse.query`, `choose_lines`,
`plan_slate`, the message through JSON, `frames_from_request`, `compute_features`.
Compared: V8 and the long-memory history features (feature set "v8hist"), the whole history window.
Training: slate.sql (who played) and lines.sql over the whole window, history.sql over the whole
window, `choose_lines`, `compute_features` over every played game at once.

The warehouse is a small hand-made league (DuckDB in memory) with the awkward cases on purpose:
two seasons and a playoff round, games without shot zones, rows without FGA, players ruled OUT
before tip-off (who then do not play), injury reports and line snapshots after tip-off (ignored),
unknown injury statuses, games without a tip-off time, several bookmakers and whole-number lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from coordinator.slate import plan_slate
from nba_props.team_stats import team_game_stats
from shared.contracts import PredictionRequest
from shared.features.sets import V8HIST_FEATURES
from shared.features.v8 import compute_features
from shared.features.window import CONTEXT_COLUMNS, frames_from_request, history_params
from shared.model.bundle import ModelBundle
from shared.training import build_training_frame, train_model
from shared.warehouse.duckdb import DuckDbWarehouse

PRIORITY = ["draftkings", "fanduel"]
BOOKS = ["draftkings", "fanduel", "betmgm"]
TEAMS = [(1610612737, "ATL"), (1610612738, "BOS"), (1610612739, "CLE"), (1610612740, "NOP")]
PLAYERS_PER_TEAM = 7
# (season, first day, last day, phase, teams that play)
PERIODS = [
    ("2023-24", date(2023, 10, 24), date(2024, 2, 20), "regular", [0, 1, 2, 3]),
    ("2023-24", date(2024, 4, 20), date(2024, 5, 6), "playoffs", [0, 1]),
    ("2024-25", date(2024, 10, 22), date(2024, 12, 31), "regular", [0, 1, 2, 3]),
]
STATUSES = ["AVAILABLE", "PROBABLE", "QUESTIONABLE", "DOUBTFUL", "OUT", "GTD"]


def _schedule(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for season, first, last, phase, playing in PERIODS:
        day = first
        while day <= last:
            if rng.random() < (0.55 if phase == "regular" else 0.5):
                order = rng.permutation(playing)
                for home, away in zip(order[0::2], order[1::2], strict=True):
                    if phase == "playoffs" or rng.random() < 0.85:
                        tip = datetime.combine(day + timedelta(days=1), time(0, 30), tzinfo=UTC)
                        rows.append(
                            {
                                "game_id": f"00{season[:4]}{len(rows):05d}",
                                "game_date": day,
                                "tipoff_utc": None if rng.random() < 0.1 else tip,
                                "home_team_id": TEAMS[home][0],
                                "away_team_id": TEAMS[away][0],
                                "season": season,
                                "phase": phase,
                            }
                        )
            day += timedelta(days=1)
    frame = pd.DataFrame(rows)
    frame["tipoff_utc"] = pd.to_datetime(frame["tipoff_utc"], utc=True)
    return frame


def _tip(game: dict[str, object]) -> datetime:
    """The tip-off, or 7:30 pm league time for a game whose tip-off is unknown."""
    tip = game["tipoff_utc"]
    if isinstance(tip, datetime) and not pd.isna(tip):
        return tip
    day = game["game_date"]
    assert isinstance(day, date)
    return datetime.combine(day + timedelta(days=1), time(0, 30), tzinfo=UTC)


def handmade_league(seed: int = 3) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    teams = pd.DataFrame(
        [
            {"team_id": tid, "abbreviation": abbr, "name": f"Team {abbr}", "conference": "East"}
            for tid, abbr in TEAMS
        ]
    )
    roster = {tid: [tid % 1000 * 100 + k for k in range(PLAYERS_PER_TEAM)] for tid, _ in TEAMS}
    players = pd.DataFrame(
        [
            {"player_id": pid, "name": f"Player {pid}", "team_id": tid, "birth_date": date(1995, 1, 1)}
            for tid, pids in roster.items()
            for pid in pids
        ]
    )
    talent = {pid: rng.uniform(0.3, 0.7) for pids in roster.values() for pid in pids}
    role = {pid: 36.0 - 4.0 * k for pids in roster.values() for k, pid in enumerate(pids)}
    schedule = _schedule(rng)

    logs, injuries, snapshots = [], [], []
    for game in schedule.to_dict("records"):
        tip = _tip(game)
        tip_known = not pd.isna(game["tipoff_utc"])
        zones_known = rng.random() > 0.12
        for team_id, opp_id, home in (
            (game["home_team_id"], game["away_team_id"], True),
            (game["away_team_id"], game["home_team_id"], False),
        ):
            for pid in roster[team_id]:
                status = None
                if rng.random() < 0.2:
                    for hours in sorted(rng.uniform(1, 30, int(rng.integers(1, 3))), reverse=True):
                        status = str(rng.choice(STATUSES, p=[0.3, 0.2, 0.2, 0.1, 0.15, 0.05]))
                        injuries.append((game, pid, status, tip - timedelta(hours=float(hours))))
                    if tip_known and rng.random() < 0.3:  # after tip-off: must be ignored
                        injuries.append((game, pid, "OUT", tip + timedelta(minutes=20)))
                played = status != "OUT" and rng.random() > 0.05
                if played:
                    minutes = float(np.clip(role[pid] + rng.normal(0, 5), 2, 46).round(2))
                    attempts = max(1, int(minutes * talent[pid] * rng.uniform(0.5, 0.9)))
                    fg3m = int(rng.binomial(attempts // 3, 0.35))
                    two_made = int(rng.binomial(attempts - attempts // 3, 0.5))
                    paint = int(rng.binomial(two_made, 0.6))
                    fta = int(rng.poisson(minutes / 12))
                    ftm = int(rng.binomial(fta, 0.78))
                    points = 2 * two_made + 3 * fg3m + ftm
                    logs.append(
                        {
                            "game_id": game["game_id"],
                            "game_date": game["game_date"],
                            "season": game["season"],
                            "player_id": pid,
                            "team_id": team_id,
                            "opponent_team_id": opp_id,
                            "is_home": home,
                            "minutes": minutes,
                            "points": points,
                            "fgm": two_made + fg3m,
                            "fga": None if rng.random() < 0.02 else attempts,
                            "fg3m": fg3m,
                            "fg3a": attempts // 3,
                            "ftm": ftm,
                            "fta": fta,
                            "oreb": int(rng.poisson(1)),
                            "tov": int(rng.poisson(minutes / 15)),
                            "points_paint": 2 * paint if zones_known else None,
                            "points_mid_range": 2 * (two_made - paint) if zones_known else None,
                        }
                    )
                if rng.random() < 0.75:
                    base = float(np.round(role[pid] * talent[pid] * 1.1)) + rng.choice([0.0, 0.5])
                    for book in rng.choice(BOOKS, int(rng.integers(1, 4)), replace=False):
                        for hours in sorted(rng.uniform(0.5, 20, int(rng.integers(1, 4))), reverse=True):
                            snapshots.append(
                                (
                                    game,
                                    pid,
                                    str(book),
                                    base + rng.choice([-1.0, 0.0, 1.0]),
                                    tip - timedelta(hours=float(hours)),
                                )
                            )
                        if rng.random() < 0.2:
                            snapshots.append((game, pid, str(book), base + 9.0, tip + timedelta(minutes=5)))

    log_frame = pd.DataFrame(logs)
    injury_frame = pd.DataFrame(
        [
            {
                "game_id": g["game_id"],
                "game_date": g["game_date"],
                "player_id": pid,
                "status": s,
                "reported_at": at,
            }
            for g, pid, s, at in injuries
        ]
    )
    line_frame = pd.DataFrame(
        [
            {
                "game_id": g["game_id"],
                "game_date": g["game_date"],
                "player_id": pid,
                "bookmaker": book,
                "line": line,
                "over_price": -110,
                "under_price": -110,
                "snapshot_at": at,
            }
            for g, pid, book, line, at in snapshots
        ]
    )
    injury_frame["reported_at"] = pd.to_datetime(injury_frame["reported_at"], utc=True)
    line_frame["snapshot_at"] = pd.to_datetime(line_frame["snapshot_at"], utc=True)
    return {
        "teams": teams,
        "players": players,
        "schedule": schedule,
        "player_game_logs": log_frame,
        "team_game_stats": team_game_stats(
            log_frame.assign(game_date=pd.to_datetime(log_frame["game_date"]))
        ),
        "injury_reports": injury_frame,
        "prop_line_snapshots": line_frame,
    }


@pytest.fixture(scope="module")
def league() -> dict[str, pd.DataFrame]:
    return handmade_league()


@pytest.fixture(scope="module")
def warehouse(league: dict[str, pd.DataFrame]) -> Iterator[DuckDbWarehouse]:
    wh = DuckDbWarehouse(":memory:")
    wh.create_schema()
    for name, frame in league.items():
        wh.load_frame(name, frame)
    yield wh
    wh.close()


def parity_dates(schedule: pd.DataFrame) -> list[date]:
    days = sorted(pd.to_datetime(schedule["game_date"]).dt.date.unique())
    openers = [min(d for d in days if d >= first) for _, first, _, _, _ in PERIODS]
    middle = [days[i] for i in np.linspace(3, len(days) - 1, 9).astype(int)]
    return sorted(set(openers + middle + [days[1], days[-1]]))


def serve(
    warehouse: DuckDbWarehouse, day: date
) -> tuple[pd.DataFrame, pd.DataFrame, list[PredictionRequest]]:
    """The coordinator's three queries and the worker's feature step, for one date."""
    slate = warehouse.query("slate", {"start_date": day, "end_date": day, "rostered": True})
    ids = [int(p) for p in slate["player_id"]]
    history = warehouse.query("history", history_params(day, ids))
    lines = warehouse.query("lines", {"start_date": day, "end_date": day, "player_ids": ids})
    requests = plan_slate(
        slate, history, lines, batch_id=f"parity-{day}", bookmaker_priority=PRIORITY, min_history_games=0
    ).requests
    rows = []
    for request in requests:
        delivered = PredictionRequest.model_validate_json(request.to_bytes())
        rows.append(compute_features(*frames_from_request(delivered), V8HIST_FEATURES))
    features = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=list(V8HIST_FEATURES))
    features.index = pd.Index([r.player_id for r in requests], name="player_id")
    return slate, features, requests


@pytest.fixture(scope="module")
def training(
    warehouse: DuckDbWarehouse, league: dict[str, pd.DataFrame]
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    days = pd.to_datetime(league["schedule"]["game_date"]).dt.date
    return build_training_frame(warehouse, days.min(), days.max(), PRIORITY, feature_set="v8hist")


CONTEXT = list(CONTEXT_COLUMNS)


FROM_SQL_AGGREGATES = {
    "shot_zone_mismatch_score",
    "pace_score",
    "opponent_def_rating",
    "opponent_pace",
    "team_pace",
    "team_off_rating",
    "team_win_pct",
}


def test_serving_and_training_give_every_player_who_played_the_same_features(
    warehouse: DuckDbWarehouse,
    league: dict[str, pd.DataFrame],
    training: tuple[pd.DataFrame, pd.Series, pd.DataFrame],
) -> None:
    features, _, meta = training
    game_days = pd.to_datetime(meta["game_date"]).dt.date
    compared = []
    for day in parity_dates(league["schedule"]):
        _, served, _ = serve(warehouse, day)
        on_day = game_days == day
        trained = features.loc[on_day].set_axis(pd.Index(meta.loc[on_day, "player_id"], name="player_id"))
        assert len(trained) > 0, day
        missing = set(trained.index) - set(served.index)
        assert not missing, f"{day}: played but not served: {sorted(missing)}"
        served_rows = served.loc[trained.index]
        # Features from history and lines are bit-for-bit equal. Those from the SQL team aggregates
        # may differ in the last bit: the same window frame summed within one night's rows and within
        # the whole window's adds in another order, and floating-point addition depends on it.
        exact = [c for c in V8HIST_FEATURES if c not in FROM_SQL_AGGREGATES]
        pd.testing.assert_frame_equal(served_rows[exact], trained[exact], check_exact=True, obj=str(day))
        pd.testing.assert_frame_equal(
            served_rows, trained, check_exact=False, rtol=1e-12, atol=1e-12, obj=str(day)
        )
        compared.append(trained)

    # The comparison exercised the awkward cases, not only the easy ones.
    everything = pd.concat(compared)
    assert len(everything) > 150
    assert set(everything["has_vegas_line"]) == {0.0, 1.0}
    assert everything["pct_paint"].isna().any() and everything["pct_paint"].notna().any()
    assert everything["usage_spike_score"].isna().any() and everything["usage_spike_score"].notna().any()
    assert everything["points_avg_season"].isna().any()  # season openers
    assert everything["team_pace"].isna().any() and everything["rest_advantage"].isna().any()
    assert set(everything["injury_risk"].dropna()) >= {0.0, 0.25}
    assert everything["injury_risk"].isna().any()
    assert everything["playoff_game"].max() == 1.0 and everything["back_to_back"].max() == 1.0
    assert (everything["vegas_line_move"].abs() > 0).any()
    assert everything["fga_avg_last_10"].isna().any() and everything["fga_avg_last_10"].notna().any()
    assert everything["days_since_last_game"].max() > 30  # across the off-season


def test_the_window_query_gives_every_night_the_rows_the_nightly_query_gives(
    warehouse: DuckDbWarehouse, league: dict[str, pd.DataFrame]
) -> None:
    days = pd.to_datetime(league["schedule"]["game_date"]).dt.date
    window = {"start_date": days.min(), "end_date": days.max()}
    played = warehouse.query("slate", {**window, "rostered": False})
    everyone = sorted(set(league["players"]["player_id"]) | set(played["player_id"]))
    every_line = warehouse.query("lines", {**window, "player_ids": everyone})
    for day in parity_dates(league["schedule"]):
        night = {"start_date": day, "end_date": day}
        slate = warehouse.query("slate", {**night, "rostered": True})
        context = played.loc[played["game_date"] == pd.Timestamp(day)]
        joined = context.merge(
            slate, on=["player_id", "game_id"], suffixes=("_training", "_slate"), validate="1:1"
        )
        assert len(joined) == len(context) > 0, day
        # Lines: the night's query for the slate's players holds the window query's rows of that night.
        lines = warehouse.query("lines", {**night, "player_ids": sorted(set(slate["player_id"]))})
        of_night = every_line.loc[every_line["game_id"].isin(set(slate["game_id"]))]
        of_night = of_night.loc[of_night["player_id"].isin(set(slate["player_id"]))]
        pd.testing.assert_frame_equal(lines, of_night.reset_index(drop=True), check_exact=True, obj=str(day))
        for column in [*CONTEXT, "season", "phase", "team_id", "opponent_team_id", "is_home"]:
            left = joined[f"{column}_training"]
            right = joined[f"{column}_slate"]
            if left.dtype.kind == "f" or right.dtype.kind == "f":
                np.testing.assert_allclose(
                    left.astype(float), right.astype(float), rtol=1e-12, err_msg=f"{day} {column}"
                )
            else:
                assert left.tolist() == right.tolist(), (day, column)
        # Injury status: the slate's latest pre-tip entry, or none.
        assert (
            joined["injury_status_training"].fillna("-").tolist()
            == joined["injury_status_slate"].fillna("-").tolist()
        )


def test_a_player_ruled_out_before_tip_off_gets_no_request(
    warehouse: DuckDbWarehouse, league: dict[str, pd.DataFrame]
) -> None:
    skipped = 0
    for day in parity_dates(league["schedule"]):
        slate, _, requests = serve(warehouse, day)
        out = set(slate.loc[slate["injury_status"] == "OUT", "player_id"])
        requested = {r.player_id for r in requests}
        assert not out & requested
        assert requested | out == set(slate["player_id"])
        skipped += len(out)
    assert skipped > 0


def test_training_targets_are_the_played_games_with_their_points(
    league: dict[str, pd.DataFrame], training: tuple[pd.DataFrame, pd.Series, pd.DataFrame]
) -> None:
    features, points, meta = training
    logs = league["player_game_logs"]
    assert len(features) == len(logs) == len(points) == len(meta)
    expected = logs.set_index(["game_id", "player_id"])["points"]
    got = pd.Series(points.to_numpy(), index=pd.MultiIndex.from_frame(meta[["game_id", "player_id"]]))
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index().astype(float), check_names=False)
    assert tuple(features.columns) == V8HIST_FEATURES


def test_a_model_trained_from_the_warehouse_serves_the_nightly_features(
    warehouse: DuckDbWarehouse, league: dict[str, pd.DataFrame], tmp_path: Path
) -> None:
    seen: list[int] = []
    manifest = train_model(
        warehouse,
        tmp_path / "catboost_v8",
        start=date(2023, 11, 1),
        end=date(2024, 12, 31),
        iterations=12,
        bookmaker_priority=PRIORITY,
        progress=lambda done, total: seen.append(done),
    )
    assert seen[-1] == 24 and manifest.training_window.start >= date(2023, 11, 1)
    bundle = ModelBundle.load(tmp_path / "catboost_v8")
    _, served, _ = serve(warehouse, parity_dates(league["schedule"])[-1])
    predicted = bundle.predict(served[list(bundle.feature_names)])
    assert np.isfinite(predicted).all() and len(predicted) == len(served)


# -- the same guard on the generated league (the demo's data: 30 teams, realistic box scores) ---------


@pytest.fixture(scope="module")
def generated() -> Iterator[tuple[DuckDbWarehouse, list[date]]]:
    from nba_props.league import generate_league

    league = generate_league(5, players_per_team=10)
    wh = DuckDbWarehouse(":memory:")
    league.write(wh)
    days = sorted(pd.to_datetime(league.player_game_logs["game_date"]).dt.date.unique())
    picks = sorted({days[0], days[5], days[len(days) // 3], days[len(days) // 2], days[-20], days[-1]})
    yield wh, picks
    wh.close()


def test_serving_and_training_agree_on_the_generated_league(
    generated: tuple[DuckDbWarehouse, list[date]],
) -> None:
    wh, picks = generated
    features, _, meta = build_training_frame(wh, picks[0], picks[-1], PRIORITY, feature_set="v8hist")
    current_team = wh.sql("SELECT player_id, team_id FROM players").set_index("player_id")["team_id"]
    game_days = pd.to_datetime(meta["game_date"]).dt.date
    compared = 0
    for day in picks:
        _, served, _ = serve(wh, day)
        on_day = game_days == day
        trained = features.loc[on_day].set_axis(pd.Index(meta.loc[on_day, "player_id"], name="player_id"))
        # slate.sql takes rosters from `players`, which holds today's teams: a player who has moved
        # since a past date is not on that date's slate. Everyone else must be.
        team_then = meta.loc[on_day].set_index("player_id")["team_id"]
        moved = set(team_then.index[team_then.to_numpy() != current_team.reindex(team_then.index).to_numpy()])
        missing = set(trained.index) - set(served.index)
        assert missing <= moved, f"{day}: played but not served: {sorted(missing - moved)}"
        trained = trained.loc[~trained.index.isin(list(missing))]
        exact = [c for c in V8HIST_FEATURES if c not in FROM_SQL_AGGREGATES]
        pd.testing.assert_frame_equal(
            served.loc[trained.index, exact], trained[exact], check_exact=True, obj=str(day)
        )
        pd.testing.assert_frame_equal(
            served.loc[trained.index], trained, check_exact=False, rtol=1e-12, atol=1e-12, obj=str(day)
        )
        compared += len(trained)
    assert compared > 500
