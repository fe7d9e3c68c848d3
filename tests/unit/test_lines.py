"""The bookmaker policy (shared/lines.py): line bounds, American odds, the choice by priority."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from shared.contracts import LineQuote
from shared.lines import LINE_COLUMNS, LINE_MAX, LINE_MIN, choose_lines, is_american_odds, valid_line
from shared.settings import Settings

MORNING = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def snapshot(
    player: int, book: str, line: float, *, hours: float = 0.0, opening: float | None = None
) -> dict[str, object]:
    return {
        "player_id": player,
        "game_id": "G1",
        "bookmaker": book,
        "line": line,
        "over_price": -110,
        "under_price": -110,
        "snapshot_at": MORNING + timedelta(hours=hours),
        "opening_line": line if opening is None else opening,
    }


def chosen(rows: list[dict[str, object]], priority: list[str]) -> dict[int, tuple[str, float]]:
    frame = choose_lines(pd.DataFrame(rows), priority)
    return {int(r.player_id): (r.bookmaker, float(r.line)) for r in frame.itertuples()}


# -- bounds --------------------------------------------------------------------------------------------


def test_a_line_is_valid_strictly_between_the_bounds_and_finite() -> None:
    values = [LINE_MIN, 0.5, 24.5, 99.5, LINE_MAX, 120.0, -3.0, np.nan, np.inf, None]
    assert valid_line(values).tolist() == [False, True, True, True, False, False, False, False, False, False]


@pytest.mark.parametrize("line", [LINE_MIN, LINE_MAX, -1.0, 100.5, float("nan"), float("inf")])
def test_the_contract_refuses_a_line_or_opening_line_outside_the_bounds(line: float) -> None:
    with pytest.raises(ValidationError):
        LineQuote(bookmaker="fanduel", line=line, snapshot_at=MORNING)
    with pytest.raises(ValidationError):
        LineQuote(bookmaker="fanduel", line=20.5, snapshot_at=MORNING, opening_line=line)


def test_the_contract_takes_a_line_just_inside_the_bounds() -> None:
    assert LineQuote(bookmaker="fanduel", line=0.5, snapshot_at=MORNING, opening_line=99.5).line == 0.5


# -- odds ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("price", "valid"), [(-100, True), (100, True), (-150, True), (-99, False), (99, False), (0, False)]
)
def test_american_odds_are_minus_one_hundred_or_shorter_or_plus_one_hundred_or_longer(
    price: int, valid: bool
) -> None:
    assert is_american_odds(price) is valid


# -- the choice ----------------------------------------------------------------------------------------


def test_the_bookmaker_earliest_in_the_priority_wins_whatever_the_case() -> None:
    rows = [snapshot(1, "BetMGM", 21.5), snapshot(1, "FanDuel", 22.5), snapshot(1, "draftkings", 23.5)]
    assert chosen(rows, ["fanduel", "DraftKings"]) == {1: ("FanDuel", 22.5)}


def test_books_outside_the_priority_come_last_the_most_recent_snapshot_first() -> None:
    rows = [snapshot(1, "pinnacle", 21.5, hours=1), snapshot(1, "bovada", 22.5, hours=2)]
    assert chosen(rows, ["fanduel"]) == {1: ("bovada", 22.5)}
    assert chosen([*rows, snapshot(1, "fanduel", 20.5)], ["fanduel"]) == {1: ("fanduel", 20.5)}


def test_a_line_outside_the_bounds_is_skipped_for_the_next_bookmaker() -> None:
    rows = [snapshot(1, "draftkings", 0.0), snapshot(1, "fanduel", 24.5), snapshot(2, "draftkings", 150.0)]
    assert chosen(rows, ["draftkings", "fanduel"]) == {1: ("fanduel", 24.5)}


def test_an_opening_line_outside_the_bounds_is_dropped_and_the_line_kept() -> None:
    frame = choose_lines(pd.DataFrame([snapshot(1, "fanduel", 24.5, opening=100.0)]), ["fanduel"])
    assert frame["line"].tolist() == [24.5] and frame["opening_line"].isna().all()


def test_a_price_that_is_no_american_odds_is_dropped_and_the_line_kept() -> None:
    rows = [{**snapshot(1, "fanduel", 24.5), "over_price": -50, "under_price": None}]
    frame = choose_lines(pd.DataFrame(rows), ["fanduel"])
    assert frame["line"].tolist() == [24.5]
    assert frame["over_price"].isna().all() and frame["under_price"].isna().all()
    kept = choose_lines(pd.DataFrame([{**rows[0], "over_price": 120, "under_price": -100}]), ["fanduel"])
    assert (kept["over_price"].tolist(), kept["under_price"].tolist()) == ([120], [-100])


def test_every_chosen_row_is_a_line_the_contract_accepts() -> None:
    rng = np.random.default_rng(5)
    rows = [
        {
            **snapshot(int(p), str(rng.choice(["draftkings", "fanduel", "pinnacle"])), float(line)),
            "opening_line": float(opening),
            "over_price": int(rng.integers(-300, 300)),
            "under_price": int(rng.integers(-300, 300)),
        }
        for p, line, opening in zip(
            rng.integers(1, 40, 400), rng.uniform(-20, 130, 400), rng.uniform(-20, 130, 400), strict=True
        )
    ]
    frame = choose_lines(pd.DataFrame(rows), ["fanduel", "draftkings"])
    assert 0 < len(frame) < 40
    for row in frame.to_dict("records"):
        quote = {k: None if pd.isna(v) else v for k, v in row.items() if k not in ("player_id", "game_id")}
        LineQuote.model_validate(quote)


def test_one_row_per_player_and_game_in_the_line_columns() -> None:
    rows = [snapshot(p, b, 20.5 + p) for p in (2, 1) for b in ("fanduel", "draftkings")]
    frame = choose_lines(pd.DataFrame(rows), ["draftkings"])
    assert list(frame.columns) == LINE_COLUMNS
    assert frame["player_id"].tolist() == [1, 2] and set(frame["bookmaker"]) == {"draftkings"}
    assert choose_lines(pd.DataFrame(columns=LINE_COLUMNS), ["draftkings"]).columns.tolist() == LINE_COLUMNS


def test_the_configured_priority_defaults_to_the_policy_and_keeps_its_order() -> None:
    assert Settings().bookmaker_priority == ["draftkings", "fanduel", "betmgm", "caesars"]
    assert Settings(bookmaker_priority="Caesars, fanduel").bookmaker_priority == ["caesars", "fanduel"]
