"""The betting rule: the side of the edge, its probability as confidence, PASS and NO_LINE."""

from __future__ import annotations

import numpy as np
import pytest

from shared.model.recommend import recommend


def test_recommend_picks_the_side_of_the_edge_with_that_sides_probability() -> None:
    over, under, small, none = recommend(
        [25.0, 15.0, 21.0, 18.0],
        [20.5, 20.5, 20.5, None],
        [0.8, 0.1, 0.55, np.nan],
        edge_threshold=1.5,
        floor=0.0,
        ceiling=60.0,
    )
    assert (over.recommendation, over.edge, over.confidence) == ("OVER", 4.5, 0.8)
    assert (under.recommendation, under.edge, under.confidence) == ("UNDER", -5.5, pytest.approx(0.9))
    assert (small.recommendation, small.edge, small.confidence) == ("PASS", 0.5, 0.55)
    assert none.recommendation == "NO_LINE"
    assert (none.line, none.edge, none.confidence, none.prob_over) == (None, None, None, None)


def test_recommend_pass_reports_the_likelier_side() -> None:
    (rec,) = recommend([20.0], [20.5], [0.3], edge_threshold=1.5, floor=0.0, ceiling=60.0)
    assert rec.recommendation == "PASS" and rec.confidence == pytest.approx(0.7)


def test_recommend_uses_prob_under_for_whole_number_lines() -> None:
    (rec,) = recommend([15.0], [20.0], [0.1], prob_under=[0.82], edge_threshold=1.5, floor=0.0, ceiling=60.0)
    assert rec.recommendation == "UNDER" and rec.confidence == 0.82


def test_recommend_clamps_the_prediction_and_measures_the_edge_from_it() -> None:
    high, low = recommend([75.0, -3.0], [40.5, 2.5], [0.9, 0.2], edge_threshold=1.5, floor=0.0, ceiling=60.0)
    assert high.predicted_points == 60.0 and high.edge == 19.5
    assert low.predicted_points == 0.0 and low.edge == -2.5 and low.recommendation == "UNDER"


def test_an_edge_exactly_at_the_threshold_is_a_bet() -> None:
    (rec,) = recommend([22.0], [20.5], [0.6], edge_threshold=1.5, floor=0.0, ceiling=60.0)
    assert rec.recommendation == "OVER"
