"""Fixtures for tests against the local BigQuery emulator (bqemulator, in its own virtualenv)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from google.api_core.retry import Retry
from google.cloud import bigquery

from tests.support.bq_emulator import (
    BigQueryEmulator,
    emulator_venv,
    emulator_venv_ready,
    setup_command,
)

EMULATOR_PROJECT = "nba-props-test"
# The client's default retry keeps retrying HTTP 5xx for 10 minutes; the emulator answers some
# unsupported inputs with a 500, so fixture calls give up after seconds instead.
_SETUP_RETRY = Retry(initial=0.1, maximum=1.0, multiplier=2.0, timeout=15.0)


@pytest.fixture(scope="session")
def bq_emulator() -> Iterator[BigQueryEmulator]:
    """One emulator for the whole session (~1.5 s to start), on free loop-back ports.

    Without the emulator's virtualenv this skips on a developer's machine and fails in CI
    (``CI`` set), where a skip would hide that the setup step is missing.
    """
    venv = emulator_venv()
    if not emulator_venv_ready(venv):
        message = f"BigQuery emulator not installed at {venv}; run: {setup_command(venv)}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with BigQueryEmulator(venv, project=EMULATOR_PROJECT) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def bq_client(bq_emulator: BigQueryEmulator) -> bigquery.Client:
    """A real ``google-cloud-bigquery`` client talking to the session's emulator."""
    return bq_emulator.client()


@pytest.fixture
def bq_dataset(bq_client: bigquery.Client) -> Iterator[str]:
    """A fresh, empty dataset for one test (its id); dropped with its contents afterwards."""
    dataset_id = f"test_{uuid.uuid4().hex[:12]}"
    bq_client.create_dataset(dataset_id, retry=_SETUP_RETRY, timeout=10)
    yield dataset_id
    bq_client.delete_dataset(
        dataset_id, delete_contents=True, not_found_ok=True, retry=_SETUP_RETRY, timeout=10
    )
