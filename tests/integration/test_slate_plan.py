"""The night's three query results → requests, skips and rejections, decided once (`plan_slate`)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from coordinator.requests import build_requests
from coordinator.slate import plan_slate
from shared.features.window import history_params
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse


def test_every_slate_player_ends_as_exactly_one_request_skip_or_rejection_and_out_is_a_skip(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings
) -> None:
    slate = league_warehouse.query(
        "slate", {"start_date": game_date, "end_date": game_date, "rostered": True}
    )
    first = int(slate.at[0, "player_id"])
    slate.loc[0, "injury_status"] = " out "  # statuses compare trimmed, in upper case
    ids = [int(p) for p in slate["player_id"]]
    history = league_warehouse.query("history", history_params(game_date, ids))
    lines = league_warehouse.query(
        "lines", {"start_date": game_date, "end_date": game_date, "player_ids": ids}
    )

    load = plan_slate(
        slate,
        history,
        lines,
        batch_id="b-plan",
        bookmaker_priority=settings.bookmaker_priority,
        min_history_games=settings.min_history_games,
    )

    requested = [r.player_id for r in load.requests]
    skipped = [pid for pid, _, _ in load.skips]
    assert (first, "injured_out") in [(pid, reason) for pid, reason, _ in load.skips]
    assert first not in requested
    assert sorted(requested + skipped + [pid for pid, _ in load.rejected]) == sorted(ids)
    assert load.expected == load.metrics.player_count == len(slate)
    # Lines are chosen for the whole slate, skipped players included.
    assert load.metrics.players_with_line >= sum(r.line is not None for r in load.requests) > 0


def test_an_out_row_that_skips_the_eligibility_rule_is_refused_by_the_contract(
    league_warehouse: DuckDbWarehouse, game_date: date
) -> None:
    slate = (
        league_warehouse.query("slate", {"start_date": game_date, "end_date": game_date, "rostered": True})
        .head(1)
        .copy()
    )
    slate.loc[:, "injury_status"] = "OUT"
    ids = [int(p) for p in slate["player_id"]]
    history = league_warehouse.query("history", history_params(game_date, ids))
    lines = league_warehouse.query(
        "lines", {"start_date": game_date, "end_date": game_date, "player_ids": ids}
    ).head(0)

    with pytest.raises(ValidationError, match="injury_status"):
        build_requests(slate, history, lines, batch_id="b-out")
    rejected: list[tuple[int, str]] = []
    assert build_requests(slate, history, lines, batch_id="b-out", rejected=rejected) == []
    assert [pid for pid, _ in rejected] == ids


def test_an_empty_slate_plans_nothing(league_warehouse: DuckDbWarehouse) -> None:
    slate = league_warehouse.query(
        "slate", {"start_date": date(1999, 1, 1), "end_date": date(1999, 1, 1), "rostered": True}
    )
    load = plan_slate(
        slate,
        slate,
        slate,
        batch_id="b-none",
        bookmaker_priority=(),
        min_history_games=Settings().min_history_games,
    )
    assert (load.requests, load.skips, load.rejected, load.metrics.player_count) == ([], [], [], 0)
