"""The pre-tip cut-off (the pretip_cutoffs view): the tip-off, or 16:00 UTC of the game date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from shared.lines import PRETIP_CUTOFFS
from shared.schema import VIEWS
from shared.warehouse.duckdb import DuckDbWarehouse

GAME_DATE = date(2026, 12, 1)
TIP = datetime(2026, 12, 2, 0, 30, tzinfo=UTC)


@pytest.fixture
def warehouse() -> Iterator[DuckDbWarehouse]:
    wh = DuckDbWarehouse(":memory:")
    wh.create_schema()
    schedule = pd.DataFrame(
        [
            {"game_id": "G_KNOWN", "game_date": GAME_DATE, "tipoff_utc": TIP, "home_team_id": 1,
             "away_team_id": 2, "season": "2026-27", "phase": "regular"},
            {"game_id": "G_UNKNOWN", "game_date": GAME_DATE, "tipoff_utc": None, "home_team_id": 3,
             "away_team_id": 4, "season": "2026-27", "phase": "regular"},
        ]
    )  # fmt: skip
    schedule["tipoff_utc"] = pd.to_datetime(schedule["tipoff_utc"], utc=True)
    wh.load_frame("schedule", schedule)
    yield wh
    wh.close()


def cutoffs(wh: DuckDbWarehouse) -> dict[str, pd.Timestamp]:
    frame = wh.sql(f"SELECT game_id, cutoff_utc FROM {PRETIP_CUTOFFS}")
    return {str(r.game_id): pd.Timestamp(r.cutoff_utc).tz_convert("UTC") for r in frame.itertuples()}


def test_the_cutoff_is_the_tipoff_or_else_16_utc_of_the_game_date(warehouse: DuckDbWarehouse) -> None:
    assert PRETIP_CUTOFFS in VIEWS
    assert cutoffs(warehouse) == {
        "G_KNOWN": pd.Timestamp(TIP),
        "G_UNKNOWN": pd.Timestamp(datetime(2026, 12, 1, 16, 0, tzinfo=UTC)),
    }


def test_the_cutoff_does_not_depend_on_the_session_time_zone(warehouse: DuckDbWarehouse) -> None:
    warehouse.sql("SET TimeZone = 'Asia/Tokyo'")
    assert cutoffs(warehouse)["G_UNKNOWN"] == pd.Timestamp(datetime(2026, 12, 1, 16, 0, tzinfo=UTC))
