"""PubSubPublisher with the real google-cloud-pubsub client against the fake Publisher service."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
import structlog
from structlog.testing import capture_logs

from shared.errors import ConfigurationError
from shared.settings import Settings, TransportKind
from shared.transport import OutgoingMessage, Publisher
from shared.transport.pubsub import MAX_PAYLOAD_BYTES, PubSubPublisher
from tests.support.fake_pubsub import FakePubSubServer

pytestmark = pytest.mark.timeout(60)

PROJECT = "nba-props-test"
TOPIC_NAME = "predict-player"
TOPIC = f"projects/{PROJECT}/topics/{TOPIC_NAME}"

PublisherFactory = Callable[..., PubSubPublisher]


@pytest.fixture
def topic(fake_pubsub: FakePubSubServer) -> str:
    fake_pubsub.create_topic(TOPIC)
    return TOPIC


@pytest.fixture
def make_publisher(fake_pubsub: FakePubSubServer) -> Iterator[PublisherFactory]:
    """Builds publishers from settings (after PUBSUB_EMULATOR_HOST is set) and closes them afterwards."""
    publishers: list[PubSubPublisher] = []

    def make(**overrides: Any) -> PubSubPublisher:
        values: dict[str, Any] = {
            "transport": TransportKind.PUBSUB,
            "pubsub_project": PROJECT,
            "pubsub_topic": TOPIC_NAME,
            "publish_timeout_s": 10.0,
            **overrides,
        }
        publisher = PubSubPublisher.from_settings(Settings(**values))
        publishers.append(publisher)
        return publisher

    yield make
    for publisher in publishers:
        publisher.close()


def messages_for(players: range | list[int], data_size: int = 0) -> list[OutgoingMessage]:
    return [
        OutgoingMessage(
            key=player,
            data=(b"x" * data_size) if data_size else f'{{"player_id": {player}}}'.encode(),
            attributes={
                "batch_id": "b-1",
                "player_id": str(player),
                "schema_version": "1",
                "game_date": "2025-01-15",
            },
        )
        for player in players
    ]


def stored_players(fake: FakePubSubServer) -> set[int]:
    return {int(m.attributes["player_id"]) for m in fake.messages(TOPIC)}


def test_is_a_publisher(make_publisher: PublisherFactory) -> None:
    assert isinstance(make_publisher(), Publisher)


def test_publishes_every_message_with_its_attributes_and_reports_the_stored_message_ids(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    publisher = make_publisher()
    outgoing = messages_for(range(1, 26))

    with structlog.contextvars.bound_contextvars(trace="0af7651916cd43dd8448eb211c80319c/1;o=1"):
        report = publisher.publish(outgoing)

    assert report.complete
    assert set(report.published) == set(range(1, 26))
    by_id = {m.message_id: m for m in fake_pubsub.messages(topic)}
    assert len(by_id) == 25
    for message in outgoing:
        stored = by_id[report.published[message.key]]
        assert stored.data == message.data
        assert stored.attributes == {
            **message.attributes,
            "trace": "0af7651916cd43dd8448eb211c80319c/1;o=1",
        }
    assert report.largest_bytes == max(len(m.data) for m in outgoing)
    assert report.total_bytes == sum(len(m.data) for m in outgoing)
    assert 0 < report.elapsed_s < 10


def test_an_explicit_trace_context_wins_over_the_bound_one_and_none_adds_no_attribute(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    publisher = make_publisher()

    with structlog.contextvars.bound_contextvars(trace="bound"):
        explicit = publisher.publish(messages_for([1]), trace_context="explicit")
    untraced = publisher.publish(messages_for([2]))

    by_id = {m.message_id: m for m in fake_pubsub.messages(topic)}
    assert by_id[explicit.published[1]].attributes["trace"] == "explicit"
    assert "trace" not in by_id[untraced.published[2]].attributes


def test_groups_messages_into_publish_rpcs_of_at_most_max_messages(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    publisher = make_publisher(pubsub_max_messages=10)

    report = publisher.publish(messages_for(range(50)))

    assert report.complete
    batches = fake_pubsub.publish_calls(topic)
    assert sum(batches) == 50
    assert 5 <= len(batches) < 50
    assert max(batches) <= 10


def test_reports_every_message_failed_with_a_missing_topic_and_logs_an_error(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
) -> None:
    publisher = make_publisher()

    with capture_logs() as logs:
        report = publisher.publish(messages_for([1, 2, 3]))

    assert report.published == {}
    assert set(report.failed) == {1, 2, 3}
    assert all("topic missing" in reason and TOPIC in reason for reason in report.failed.values())
    [summary] = [entry for entry in logs if entry.get("topic") == TOPIC]
    assert summary["log_level"] == "error"
    assert (summary["published"], summary["failed"]) == (0, 3)


def test_verify_topic_raises_a_configuration_error_only_when_the_topic_is_missing(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
) -> None:
    publisher = make_publisher()

    with pytest.raises(ConfigurationError, match="does not exist"):
        publisher.verify_topic(timeout_s=5)
    fake_pubsub.create_topic(TOPIC)
    publisher.verify_topic(timeout_s=5)


def test_records_an_invalid_argument_for_exactly_the_player_whose_publish_failed(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    # One message per Publish RPC, so the injected fault fails player 7's RPC and nobody else's.
    fake_pubsub.fail_publishes_matching(lambda attrs: attrs.get("player_id") == "7")
    publisher = make_publisher(pubsub_max_messages=1)

    report = publisher.publish(messages_for(range(1, 11)))

    assert set(report.failed) == {7}
    assert report.failed[7].startswith("InvalidArgument: ")
    assert set(report.published) == set(range(1, 11)) - {7}
    assert stored_players(fake_pubsub) == set(report.published)


def test_fails_every_player_that_shared_the_rejected_publish_rpc_and_no_one_else(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    fake_pubsub.fail_publishes_matching(lambda attrs: attrs.get("player_id") == "7")
    publisher = make_publisher(pubsub_max_messages=4)

    report = publisher.publish(messages_for(range(1, 21)))

    assert 7 in report.failed
    assert 1 <= len(report.failed) <= 4
    assert set(report.failed).isdisjoint(report.published)
    assert set(report.failed) | set(report.published) == set(range(1, 21))
    assert stored_players(fake_pubsub) == set(report.published)
    rejected = [a.size for a in fake_pubsub.publish_attempts(topic) if a.code is not grpc.StatusCode.OK]
    assert rejected == [len(report.failed)]


def test_gives_up_on_a_persistent_unavailable_within_the_publish_timeout(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    fake_pubsub.fail_publishes_matching(lambda attrs: True, grpc.StatusCode.UNAVAILABLE)
    publisher = make_publisher(publish_timeout_s=1.0)

    started = time.monotonic()
    report = publisher.publish(messages_for(range(1, 6)))
    elapsed = time.monotonic() - started

    assert elapsed < 1.5
    assert report.published == {}
    assert set(report.failed) == set(range(1, 6))
    assert all(
        reason.startswith(("RetryError: ", "timeout after 1 s")) for reason in report.failed.values()
    ), report.failed
    assert len(fake_pubsub.publish_attempts(topic)) > 1  # it did retry before giving up
    assert fake_pubsub.messages(topic) == []


def test_reports_a_message_still_queued_at_the_deadline_as_timed_out_though_it_may_arrive_later(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    # A 10 s batching latency keeps the message queued in the client past the 0.3 s deadline.
    publisher = make_publisher(publish_timeout_s=0.3, pubsub_max_latency_s=10.0)

    report = publisher.publish(messages_for([1]))

    assert report.failed == {1: "timeout after 0.3 s"}
    assert fake_pubsub.messages(topic) == []
    publisher.close()  # flushes the queued batch: "failed" on a timeout means "not confirmed"
    assert stored_players(fake_pubsub) == {1}


def test_refuses_an_oversized_payload_without_sending_it(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    publisher = make_publisher()
    too_big = messages_for([1], data_size=MAX_PAYLOAD_BYTES + 1)

    report = publisher.publish(too_big + messages_for([2]))

    assert report.failed == {1: f"oversized: {MAX_PAYLOAD_BYTES + 1} bytes (limit {MAX_PAYLOAD_BYTES})"}
    assert set(report.published) == {2}
    assert stored_players(fake_pubsub) == {2}
    assert report.largest_bytes == MAX_PAYLOAD_BYTES + 1


def test_publishing_after_close_reports_failures_instead_of_raising(
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    publisher = make_publisher()
    publisher.close()
    publisher.close()

    report = publisher.publish(messages_for([1, 2]))

    assert set(report.failed) == {1, 2}
    assert all(reason.startswith("RuntimeError: ") for reason in report.failed.values())
