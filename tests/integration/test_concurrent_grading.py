"""Two graders racing on one night (a scheduler retry while the first call still runs): each run is
summarised from its own rows, whichever run readers see by the time it reads them back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coordinator.grading import Grader, GradingResult
from shared.settings import Settings
from shared.warehouse import QueryParams, Warehouse
from tests.support.fakes import SpyWarehouse
from tests.support.grading import recording_manager
from tests.support.known_night import CASES, EXPECTED, GAME_DATE, GRADED_AT, load_known_night

pytestmark = pytest.mark.timeout(180)


class RacedWarehouse(SpyWarehouse):
    """Lets another grader grade the same night right after the first `grade` INSERT lands, before
    the grader that wrote it reads anything back."""

    def __init__(self, inner: Warehouse, settings: Settings) -> None:
        super().__init__(inner)
        self.settings = settings
        self.rival: GradingResult | None = None

    def execute(self, name: str, params: QueryParams, *, timeout_s: float | None = None) -> int:
        written = self.inner.execute(name, params, timeout_s=timeout_s)
        if name == "grade" and self.rival is None:
            later = GRADED_AT + timedelta(minutes=1)  # its run is the latest: the view switches to it
            alerts, _ = recording_manager(self.inner, later)
            self.rival = Grader(self.inner, alerts, self.settings, clock=lambda: later).grade(GAME_DATE)
        return written


def test_a_grader_overtaken_by_a_concurrent_run_still_summarises_its_own_rows(
    backend_warehouse: Warehouse, grading_settings: Settings
) -> None:
    load_known_night(backend_warehouse)
    raced = RacedWarehouse(backend_warehouse, grading_settings)
    alerts, _ = recording_manager(raced, GRADED_AT)

    first = Grader(raced, alerts, grading_settings, clock=lambda: GRADED_AT).grade(GAME_DATE)

    assert raced.rival is not None and raced.rival.grading_run_id != first.grading_run_id
    for result in (first, raced.rival):
        assert result.written == len(CASES)
        assert result.summary["predictions"] == EXPECTED["predictions"]
        assert result.summary["graded"] == EXPECTED["graded"]
        assert result.summary["picks"]["correct"] == EXPECTED["correct"]
    assert "no_predictions" not in [a.kind.value for a in first.alerts_found]


def test_grading_a_night_twice_counts_it_once_in_the_hit_rate_window(
    backend_warehouse: Warehouse, grading_settings: Settings
) -> None:
    load_known_night(backend_warehouse)
    alerts, _ = recording_manager(backend_warehouse, GRADED_AT)
    grader = Grader(backend_warehouse, alerts, grading_settings, clock=lambda: GRADED_AT)

    grader.grade(GAME_DATE)
    again = grader.grade(GAME_DATE)

    window = again.window
    assert (window["correct"], window["incorrect"], window["pushes"]) == (
        EXPECTED["correct"],
        EXPECTED["incorrect"],
        EXPECTED["pushes"],
    )
