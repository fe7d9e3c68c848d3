"""Schemathesis over both services' OpenAPI schemas, against the running embedded stack: a bounded,
reproducible number of generated requests per operation, and not one answer may be a server error."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import openapi

from coordinator.app import create_app as create_coordinator_app
from nba_props.embedded import EmbeddedStack
from shared.settings import Settings
from shared.warehouse.duckdb import DuckDbWarehouse
from worker.app import create_app as create_worker_app

EXAMPLES_PER_OPERATION = 25

APPS: dict[str, Callable[[], FastAPI]] = {
    "coordinator": create_coordinator_app,
    "worker": create_worker_app,
}


@pytest.mark.parametrize("service", sorted(APPS))
def test_generated_requests_from_the_openapi_schema_never_get_a_server_error(
    league_warehouse: DuckDbWarehouse, game_date: date, settings: Settings, service: str
) -> None:
    schema = openapi.from_dict(APPS[service]().openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema lists the service's operations"
    failures: list[str] = []
    with EmbeddedStack(settings, warehouse=league_warehouse) as stack:
        base_url = stack.coordinator_url if service == "coordinator" else stack.worker_url
        for operation in operations:

            @hypothesis_settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def call(case: Any) -> None:
                response = case.call(base_url=base_url, timeout=60)
                if response.status_code >= 500:
                    failed = f"{case.method} {case.formatted_path} -> {response.status_code}"
                    failures.append(f"{failed}: {response.text[:300]}")

            call()
    assert failures == []
    # The fuzzer reached the real handlers, not only the validation layer.
    assert len(operations) >= (7 if service == "coordinator" else 3)
