"""`frame_records`: the one place a warehouse frame's NULLs and timestamps are normalised."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from shared.warehouse import frame_records


def test_every_kind_of_null_becomes_none_and_timestamps_become_aware_datetimes() -> None:
    frame = pd.DataFrame(
        {
            "player_id": pd.array([1, None], dtype="Int64"),
            "line": [24.5, np.nan],
            "at": pd.to_datetime(["2026-01-05 23:00", None]),
            "at_utc": pd.to_datetime(["2026-01-05 23:00", None], utc=True),
            "name": ["A", None],
        }
    )

    first, second = frame_records(frame)

    assert first == {
        "player_id": 1,
        "line": 24.5,
        "at": datetime(2026, 1, 5, 23, tzinfo=UTC),
        "at_utc": datetime(2026, 1, 5, 23, tzinfo=UTC),
        "name": "A",
    }
    assert type(first["at"]) is datetime
    assert second == {"player_id": None, "line": None, "at": None, "at_utc": None, "name": None}


def test_an_empty_frame_has_no_records() -> None:
    assert frame_records(pd.DataFrame({"a": []})) == []
