from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import Settings, TransportKind, WarehouseBackend


def test_defaults_are_the_embedded_mode_with_a_120_second_query_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key in list(__import__("os").environ):
        if key.startswith("NBA_PROPS_"):
            monkeypatch.delenv(key)
    settings = Settings()
    assert settings.warehouse_backend is WarehouseBackend.DUCKDB
    assert settings.transport is TransportKind.LOOPBACK
    assert settings.query_timeout_s == 120.0
    assert settings.binds_loopback_only


def test_reads_the_environment_with_the_nba_props_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBA_PROPS_QUERY_TIMEOUT_S", "300")
    monkeypatch.setenv("NBA_PROPS_STALL_AFTER_S", "1800")
    monkeypatch.setenv("NBA_PROPS_BOOKMAKER_PRIORITY", "FanDuel, draftkings")
    settings = Settings()
    assert settings.query_timeout_s == 300.0 and settings.stall_after_s == 1800.0
    assert settings.bookmaker_priority == ["fanduel", "draftkings"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"query_timeout_s": 0},
        {"query_timeout_s": -5},
        {"bookmaker_priority": ""},
        {"retry_min_backoff_s": 5, "retry_max_backoff_s": 1},
        {"prediction_floor": 10, "prediction_ceiling": 5},
        {"warehouse_backend": "bigquery"},
        {"transport": "pubsub"},
        {"warehouse_backend": "postgres"},
    ],
)
def test_refuses_unsafe_or_inconsistent_values(overrides: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**overrides)  # type: ignore[arg-type]


def test_cloud_mode_needs_a_project_and_takes_it_for_pubsub_too() -> None:
    settings = Settings(warehouse_backend="bigquery", transport="pubsub", bigquery_project="p1")  # type: ignore[arg-type]
    assert settings.resolved_pubsub_project == "p1"


def test_a_public_bind_address_is_not_loopback() -> None:
    assert not Settings(host="0.0.0.0").binds_loopback_only
    assert Settings(host="::1").binds_loopback_only


def test_a_stall_time_shorter_than_a_live_load_and_fan_out_is_refused() -> None:
    # Three queries at 300 s and a 60 s publish may run 960 s without a write: 900 s would finalize it.
    with pytest.raises(ValidationError, match="stall_after_s"):
        Settings(query_timeout_s=300, publish_timeout_s=60, stall_after_s=900)
    assert Settings(query_timeout_s=300, publish_timeout_s=60, stall_after_s=961).stall_after_s == 961


def test_a_league_time_zone_that_does_not_exist_is_refused_at_startup() -> None:
    # A typo would otherwise pass /readyz and fail every scheduled /start and /grade with a bare 500.
    with pytest.raises(ValidationError, match="league_timezone"):
        Settings(league_timezone="US/Eastrn")
    assert Settings(league_timezone="America/Chicago").league_timezone == "America/Chicago"
