"""American odds are <= -100 or >= +100: the contract refuses anything else, and grading treats an
out-of-range stored price as no price at all (no profit, left out of ROI)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from coordinator.grading import Grader
from shared.contracts import LineQuote
from shared.lines import is_american_odds
from shared.settings import Settings
from shared.warehouse import Warehouse
from tests.support.grading import recording_manager
from tests.support.known_night import (
    EXPECTED,
    GAME_DATE,
    GRADED_AT,
    Case,
    box_row,
    graded,
    load_known_night,
    prediction_row,
)

SNAPSHOT = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)


def _quote(**prices: int | None) -> LineQuote:
    return LineQuote(bookmaker="draftkings", line=20.5, snapshot_at=SNAPSHOT, **prices)  # type: ignore[arg-type]


@pytest.mark.parametrize("price", [-100, 100, -110, 150, -10000, 2500])
def test_a_line_quote_takes_real_american_odds(price: int) -> None:
    assert is_american_odds(price)
    assert _quote(over_price=price, under_price=price).over_price == price


@pytest.mark.parametrize("price", [0, -50, 50, -99, 99])
@pytest.mark.parametrize("side", ["over_price", "under_price"])
def test_a_line_quote_refuses_a_price_between_minus_and_plus_one_hundred(price: int, side: str) -> None:
    assert not is_american_odds(price)
    with pytest.raises(ValidationError, match="American odds"):
        _quote(**{side: price})


def test_a_line_quote_without_prices_is_still_a_line() -> None:
    quote = _quote()
    assert (quote.over_price, quote.under_price) == (None, None)


# Correct or incorrect picks whose stored price is no American price, and the two boundary prices.
BAD_AND_BOUNDARY = (
    Case(21, "g1", "OVER", 20.5, 24.0, 25, over_price=-50, result="correct", profit=None),
    Case(22, "g1", "UNDER", 10.5, 7.0, 8, under_price=0, result="correct", profit=None),
    Case(23, "g1", "OVER", 20.5, 23.0, 18, over_price=99, result="incorrect", profit=None),
    Case(24, "g1", "UNDER", 10.5, 7.0, 8, under_price=-100, result="correct", profit=1.0),
    Case(25, "g1", "OVER", 20.5, 24.0, 25, over_price=100, result="correct", profit=1.0),
)


def test_grading_gives_no_profit_for_a_price_that_is_not_american_odds(
    backend_warehouse: Warehouse, grading_settings: Settings
) -> None:
    load_known_night(backend_warehouse)
    backend_warehouse.append("predictions_raw", [prediction_row(c) for c in BAD_AND_BOUNDARY])
    backend_warehouse.append(
        "player_game_logs",
        [box_row(c.player_id, c.game_id, c.actual or 0, c.minutes) for c in BAD_AND_BOUNDARY],
    )
    alerts, _ = recording_manager(backend_warehouse, GRADED_AT)

    summary = (
        Grader(backend_warehouse, alerts, grading_settings, clock=lambda: GRADED_AT).grade(GAME_DATE).summary
    )

    rows = graded(backend_warehouse)
    for case in BAD_AND_BOUNDARY:
        assert rows.loc[case.player_id, "result"] == case.result, case
        if case.profit is None:
            assert rows["profit_units"].isna()[case.player_id], case
        else:
            assert rows.loc[case.player_id, "profit_units"] == pytest.approx(case.profit), case
    assert summary["roi"]["bets"] == EXPECTED["roi_bets"] + 2, "only the two boundary prices are bets"


def test_a_line_whose_prices_are_not_american_odds_keeps_its_line_without_prices() -> None:
    from datetime import UTC, datetime

    from coordinator.requests import _line_quote

    quote = _line_quote(
        {
            "bookmaker": "draftkings",
            "line": 20.5,
            "over_price": 0,
            "under_price": -50.0,
            "snapshot_at": datetime(2026, 12, 5, 18, tzinfo=UTC),
        }
    )
    assert quote is not None and quote.line == 20.5
    assert quote.over_price is None and quote.under_price is None
