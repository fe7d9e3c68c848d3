"""Pytest fixtures around the fake Pub/Sub Publisher service; import them into a conftest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_pubsub import FakePubSubServer

__all__ = ["fake_pubsub"]


@pytest.fixture
def fake_pubsub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePubSubServer]:
    """A running fake Publisher with ``PUBSUB_EMULATOR_HOST`` pointing at it for this test.

    Create the ``PublisherClient`` inside the test (after this fixture ran): the client reads
    ``PUBSUB_EMULATOR_HOST`` when it is constructed.
    """
    with FakePubSubServer() as server:
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", server.host)
        yield server
