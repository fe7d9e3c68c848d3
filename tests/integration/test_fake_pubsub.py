"""The fake Publisher service, driven by the real google-cloud-pubsub PublisherClient over gRPC.

These tests pin down what the real client does against the service (batching, ordering, which status
codes it retries and how failures surface on futures), which is what the PubSubPublisher adapter's
tests rely on.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.cloud import pubsub_v1
from google.cloud.pubsub_v1.publisher import exceptions as publisher_exceptions

from tests.support.fake_pubsub import FakePubSubServer

pytestmark = pytest.mark.timeout(60)

TOPIC = "projects/nba-props-test/topics/predict-player"
RESULT_TIMEOUT = 10.0

PublisherFactory = Callable[..., pubsub_v1.PublisherClient]


@pytest.fixture
def topic(fake_pubsub: FakePubSubServer) -> str:
    fake_pubsub.create_topic(TOPIC)
    return TOPIC


@pytest.fixture
def make_publisher(fake_pubsub: FakePubSubServer) -> Iterator[PublisherFactory]:
    """Builds real PublisherClients (after PUBSUB_EMULATOR_HOST is set) and shuts them down afterwards."""
    clients: list[pubsub_v1.PublisherClient] = []

    def make(**kwargs: Any) -> pubsub_v1.PublisherClient:
        client = pubsub_v1.PublisherClient(**kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        with contextlib.suppress(RuntimeError):  # a test may have stopped it already
            client.stop()
        client.transport.close()


def ordered_publisher(make_publisher: PublisherFactory, max_messages: int = 100) -> pubsub_v1.PublisherClient:
    return make_publisher(
        batch_settings=pubsub_v1.types.BatchSettings(max_messages=max_messages),
        publisher_options=pubsub_v1.types.PublisherOptions(enable_message_ordering=True),
    )


def test_publishes_500_messages_with_their_attributes_in_several_batches(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    client = make_publisher(batch_settings=pubsub_v1.types.BatchSettings(max_messages=100))

    futures = [client.publish(topic, f"msg-{i}".encode(), player=f"p{i}", seq=str(i)) for i in range(500)]
    message_ids = [future.result(timeout=RESULT_TIMEOUT) for future in futures]

    stored = fake_pubsub.messages(topic)
    by_id = {message.message_id: message for message in stored}
    assert len(stored) == 500
    for i, message_id in enumerate(message_ids):
        assert by_id[message_id].data == f"msg-{i}".encode()
        assert by_id[message_id].attributes == {"player": f"p{i}", "seq": str(i)}
    batches = fake_pubsub.publish_calls(topic)
    assert sum(batches) == 500
    assert len(batches) >= 5
    assert max(batches) <= 100
    # Without an ordering key the client commits full batches concurrently, so batches may reach the
    # service out of order (seen in about half of the runs); only the order inside a batch is kept.
    for rpc in {message.rpc for message in stored}:
        seqs = [int(m.attributes["seq"]) for m in stored if m.rpc == rpc]
        assert seqs == sorted(seqs)


def test_delivers_messages_in_publish_order_when_they_share_an_ordering_key(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    client = ordered_publisher(make_publisher)

    futures = [
        client.publish(topic, f"msg-{i}".encode(), ordering_key="batch-1", seq=str(i)) for i in range(500)
    ]
    for future in futures:
        future.result(timeout=RESULT_TIMEOUT)

    stored = fake_pubsub.messages(topic)
    assert [m.data for m in stored] == [f"msg-{i}".encode() for i in range(500)]
    assert [m.attributes for m in stored] == [{"seq": str(i)} for i in range(500)]
    assert {m.ordering_key for m in stored} == {"batch-1"}
    assert len(fake_pubsub.publish_calls(topic)) >= 5


def test_publishing_to_a_missing_topic_raises_not_found_without_retrying(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
) -> None:
    missing = "projects/nba-props-test/topics/missing"
    client = make_publisher()

    future = client.publish(missing, b"{}", player="p1")

    with pytest.raises(api_exceptions.NotFound):
        future.result(timeout=RESULT_TIMEOUT)
    assert [a.code for a in fake_pubsub.publish_attempts(missing)] == [grpc.StatusCode.NOT_FOUND]


def test_retries_a_transient_unavailable_until_the_publish_succeeds(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    fake_pubsub.fail_next_publishes(2, grpc.StatusCode.UNAVAILABLE)
    client = make_publisher()

    message_id = client.publish(topic, b"{}", player="p1").result(timeout=RESULT_TIMEOUT)

    codes = [a.code for a in fake_pubsub.publish_attempts(topic)]
    assert codes == [grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.OK]
    assert [m.message_id for m in fake_pubsub.messages(topic)] == [message_id]


def test_gives_up_on_a_persistent_unavailable_with_retry_error_once_a_bounded_retry_expires(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    # The client's default Publish retry keeps going for 600 s (and forever with message ordering
    # enabled); `timeout=` on publish() only bounds each attempt, so a bounded Retry is what gives up.
    fake_pubsub.fail_publishes_matching(lambda attrs: True, grpc.StatusCode.UNAVAILABLE)
    client = make_publisher()
    bounded = api_retry.Retry(
        initial=0.05,
        maximum=0.2,
        multiplier=2,
        predicate=api_retry.if_exception_type(api_exceptions.ServiceUnavailable),
        timeout=0.5,
    )

    started = time.monotonic()
    future = client.publish(topic, b"{}", retry=bounded, player="p1")

    with pytest.raises(api_exceptions.RetryError) as raised:
        future.result(timeout=RESULT_TIMEOUT)
    assert time.monotonic() - started < 5
    assert isinstance(raised.value.cause, api_exceptions.ServiceUnavailable)
    assert len(fake_pubsub.publish_attempts(topic)) > 1
    assert fake_pubsub.messages(topic) == []


def test_does_not_retry_an_invalid_argument(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    fake_pubsub.fail_next_publishes(1, grpc.StatusCode.INVALID_ARGUMENT)
    client = make_publisher()

    future = client.publish(topic, b"{}", player="p1")

    with pytest.raises(api_exceptions.InvalidArgument):
        future.result(timeout=RESULT_TIMEOUT)
    assert [a.code for a in fake_pubsub.publish_attempts(topic)] == [grpc.StatusCode.INVALID_ARGUMENT]


def test_fails_only_the_matched_players_message_when_each_player_has_its_own_ordering_key(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    fake_pubsub.fail_publishes_matching(lambda attrs: attrs.get("player") == "p2")
    client = ordered_publisher(make_publisher)

    futures = {p: client.publish(topic, b"{}", ordering_key=p, player=p) for p in ("p1", "p2", "p3")}

    with pytest.raises(api_exceptions.InvalidArgument):
        futures["p2"].result(timeout=RESULT_TIMEOUT)
    assert futures["p1"].result(timeout=RESULT_TIMEOUT)
    assert futures["p3"].result(timeout=RESULT_TIMEOUT)
    assert sorted(m.attributes["player"] for m in fake_pubsub.messages(topic)) == ["p1", "p3"]


def test_fails_every_message_that_shared_the_failed_publish_rpc(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    fake_pubsub.fail_publishes_matching(lambda attrs: attrs.get("player") == "p2")
    # No latency timer: the batch goes out as one Publish RPC only when stop() flushes it.
    client = make_publisher(batch_settings=pubsub_v1.types.BatchSettings(max_latency=float("inf")))

    futures = [client.publish(topic, b"{}", player=p) for p in ("p1", "p2", "p3")]
    client.stop()

    for future in futures:
        with pytest.raises(api_exceptions.InvalidArgument):
            future.result(timeout=RESULT_TIMEOUT)
    assert [a.size for a in fake_pubsub.publish_attempts(topic)] == [3]
    assert fake_pubsub.messages(topic) == []


def test_pauses_a_failed_ordering_key_until_publishing_is_resumed(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
    topic: str,
) -> None:
    fake_pubsub.fail_publishes_matching(lambda attrs: attrs.get("player") == "p2", times=1)
    client = ordered_publisher(make_publisher)
    with pytest.raises(api_exceptions.InvalidArgument):
        client.publish(topic, b"{}", ordering_key="p2", player="p2").result(timeout=RESULT_TIMEOUT)

    with pytest.raises(publisher_exceptions.PublishToPausedOrderingKeyException):
        client.publish(topic, b"{}", ordering_key="p2", player="p2").result(timeout=RESULT_TIMEOUT)

    client.resume_publish(topic, "p2")
    assert client.publish(topic, b"{}", ordering_key="p2", player="p2").result(timeout=RESULT_TIMEOUT)
    assert [m.attributes["player"] for m in fake_pubsub.messages(topic)] == ["p2"]


def test_creates_gets_and_deletes_topics_through_the_client(
    fake_pubsub: FakePubSubServer,
    make_publisher: PublisherFactory,
) -> None:
    client = make_publisher()

    created = client.create_topic(name=TOPIC, timeout=RESULT_TIMEOUT)
    fetched = client.get_topic(topic=TOPIC, timeout=RESULT_TIMEOUT)
    with pytest.raises(api_exceptions.AlreadyExists):
        client.create_topic(name=TOPIC, timeout=RESULT_TIMEOUT)
    client.delete_topic(topic=TOPIC, timeout=RESULT_TIMEOUT)

    assert created.name == fetched.name == TOPIC
    assert fake_pubsub.topics() == []
    with pytest.raises(api_exceptions.NotFound):
        client.get_topic(topic=TOPIC, timeout=RESULT_TIMEOUT)
