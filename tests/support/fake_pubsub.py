"""An in-process fake of the Pub/Sub ``google.pubsub.v1.Publisher`` gRPC service, for tests only.

The real ``PublisherClient`` talks to it when ``PUBSUB_EMULATOR_HOST`` points at
``FakePubSubServer.host``, so tests exercise the client's real batching, retries and error mapping.
Only CreateTopic, GetTopic, Publish and DeleteTopic exist. A Publish RPC succeeds or fails as a
whole: isolate a message (its own ordering key, or ``max_messages=1``) to fail exactly one future.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NoReturn

import grpc
from google.protobuf import empty_pb2
from google.pubsub_v1 import types

__all__ = ["FakePubSubServer", "PublishAttempt", "StoredMessage"]

_SERVICE = "google.pubsub.v1.Publisher"
_TOPIC_NAME = re.compile(r"^projects/[^/]+/topics/[^/]+$")

AttributePredicate = Callable[[Mapping[str, str]], bool]


@dataclass(frozen=True)
class StoredMessage:
    """A message the fake accepted, with the Publish RPC (server-wide sequence number) it came in."""

    topic: str
    message_id: str
    data: bytes
    attributes: dict[str, str]
    ordering_key: str
    rpc: int


@dataclass(frozen=True)
class PublishAttempt:
    """One Publish RPC that reached the fake: its batch size and the status it was answered with."""

    topic: str
    rpc: int
    size: int
    code: grpc.StatusCode


@dataclass
class _AttributeFault:
    predicate: AttributePredicate
    code: grpc.StatusCode
    details: str
    remaining: int | None  # None: until cleared


@dataclass
class _State:
    topics: dict[str, types.Topic] = field(default_factory=dict)
    messages: list[StoredMessage] = field(default_factory=list)
    attempts: list[PublishAttempt] = field(default_factory=list)
    next_message_id: int = 1
    failing_next: list[tuple[grpc.StatusCode, str]] = field(default_factory=list)
    attribute_faults: list[_AttributeFault] = field(default_factory=list)


class FakePubSubServer:
    """A grpcio server on a free 127.0.0.1 port serving a fake Publisher; use as a context manager."""

    def __init__(self, max_workers: int = 8) -> None:
        self._lock = threading.Lock()
        self._state = _State()
        self._executor = futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="fake-pubsub")
        self._server = grpc.server(self._executor, handlers=[self._handler()])
        self._port = self._server.add_insecure_port("127.0.0.1:0")
        if self._port == 0:
            raise RuntimeError("could not bind the fake Pub/Sub server to a 127.0.0.1 port")
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self) -> FakePubSubServer:
        self._server.start()
        self._started = True
        return self

    def stop(self, grace: float | None = None) -> None:
        if self._started:
            self._started = False
            self._server.stop(grace).wait(timeout=5)
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> FakePubSubServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the value for ``PUBSUB_EMULATOR_HOST``."""
        return f"127.0.0.1:{self._port}"

    # -- test-side helpers ----------------------------------------------------------------------------

    def create_topic(self, name: str) -> None:
        """Create a topic (full ``projects/P/topics/T`` path) without going through a client."""
        _check_topic_name(name)
        with self._lock:
            self._state.topics.setdefault(name, types.Topic(name=name))

    def topics(self) -> list[str]:
        with self._lock:
            return sorted(self._state.topics)

    def messages(self, topic: str) -> list[StoredMessage]:
        """Accepted messages of ``topic`` in the order the fake received them (kept after DeleteTopic)."""
        with self._lock:
            return [m for m in self._state.messages if m.topic == topic]

    def publish_calls(self, topic: str) -> list[int]:
        """Batch sizes of the successful Publish RPCs to ``topic``, in arrival order."""
        return [a.size for a in self.publish_attempts(topic) if a.code is grpc.StatusCode.OK]

    def publish_attempts(self, topic: str) -> list[PublishAttempt]:
        """Every Publish RPC to ``topic``, failed ones (retries included) as well as successful ones."""
        with self._lock:
            return [a for a in self._state.attempts if a.topic == topic]

    def fail_next_publishes(
        self,
        count: int = 1,
        code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE,
        details: str = "injected failure",
    ) -> None:
        """Answer the next ``count`` Publish RPCs (to any existing topic) with ``code``."""
        if count < 1:
            raise ValueError("count must be at least 1")
        with self._lock:
            self._state.failing_next.extend([(code, details)] * count)

    def fail_publishes_matching(
        self,
        predicate: AttributePredicate,
        code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT,
        details: str = "injected failure for matching message",
        times: int | None = None,
    ) -> None:
        """Fail every Publish RPC carrying a message whose attributes satisfy ``predicate``.

        The whole RPC fails (as the real service would); ``times`` limits how many RPCs the rule fails,
        ``None`` keeps it until ``clear_faults``. Beware of a retryable ``code`` with ``times=None``: the
        client retries it for up to 600 s by default.
        """
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 or None")
        with self._lock:
            self._state.attribute_faults.append(_AttributeFault(predicate, code, details, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._state.failing_next.clear()
            self._state.attribute_faults.clear()

    # -- gRPC methods ---------------------------------------------------------------------------------

    def _handler(self) -> grpc.GenericRpcHandler:
        def unary(
            behaviour: Callable[[Any, grpc.ServicerContext], Any],
            request_type: Any,
            serialize: Callable[[Any], bytes],
        ) -> grpc.RpcMethodHandler:
            return grpc.unary_unary_rpc_method_handler(
                behaviour, request_deserializer=request_type.deserialize, response_serializer=serialize
            )

        return grpc.method_handlers_generic_handler(
            _SERVICE,
            {
                "CreateTopic": unary(self._rpc_create_topic, types.Topic, types.Topic.serialize),
                "GetTopic": unary(self._rpc_get_topic, types.GetTopicRequest, types.Topic.serialize),
                "Publish": unary(self._rpc_publish, types.PublishRequest, types.PublishResponse.serialize),
                "DeleteTopic": unary(
                    self._rpc_delete_topic, types.DeleteTopicRequest, empty_pb2.Empty.SerializeToString
                ),
            },
        )

    def _rpc_create_topic(self, request: types.Topic, context: grpc.ServicerContext) -> types.Topic:
        if not _TOPIC_NAME.match(request.name):
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, f"Invalid [topics] name: ({request.name})")
        with self._lock:
            if request.name in self._state.topics:
                _abort(context, grpc.StatusCode.ALREADY_EXISTS, "Topic already exists")
            self._state.topics[request.name] = request
            return request

    def _rpc_get_topic(self, request: types.GetTopicRequest, context: grpc.ServicerContext) -> types.Topic:
        with self._lock:
            topic = self._state.topics.get(request.topic)
        if topic is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"Topic not found: {request.topic}")
        return topic

    def _rpc_delete_topic(
        self, request: types.DeleteTopicRequest, context: grpc.ServicerContext
    ) -> empty_pb2.Empty:
        with self._lock:
            removed = self._state.topics.pop(request.topic, None)
        if removed is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, f"Topic not found: {request.topic}")
        return empty_pb2.Empty()

    def _rpc_publish(
        self, request: types.PublishRequest, context: grpc.ServicerContext
    ) -> types.PublishResponse:
        topic = request.topic
        incoming = list(request.messages)
        with self._lock:
            state = self._state
            rpc = len(state.attempts)
            failure = self._publish_failure(topic, incoming)
            code = failure[0] if failure else grpc.StatusCode.OK
            state.attempts.append(PublishAttempt(topic=topic, rpc=rpc, size=len(incoming), code=code))
            if failure is None:
                ids = [str(state.next_message_id + i) for i in range(len(incoming))]
                state.next_message_id += len(incoming)
                state.messages.extend(
                    StoredMessage(
                        topic=topic,
                        message_id=message_id,
                        data=message.data,
                        attributes=dict(message.attributes),
                        ordering_key=message.ordering_key,
                        rpc=rpc,
                    )
                    for message_id, message in zip(ids, incoming, strict=True)
                )
        if failure is not None:
            _abort(context, *failure)
        return types.PublishResponse(message_ids=ids)

    def _publish_failure(
        self, topic: str, incoming: list[types.PubsubMessage]
    ) -> tuple[grpc.StatusCode, str] | None:
        """The status a Publish RPC must fail with, consuming one-shot faults; call with the lock held."""
        state = self._state
        if topic not in state.topics:
            return grpc.StatusCode.NOT_FOUND, f"Topic not found: {topic}"
        if not incoming:
            return grpc.StatusCode.INVALID_ARGUMENT, "At least one message must be provided"
        if any(not m.data and not m.attributes for m in incoming):
            return grpc.StatusCode.INVALID_ARGUMENT, "A message must have non-empty data or an attribute"
        if state.failing_next:
            return state.failing_next.pop(0)
        for fault in state.attribute_faults:
            if any(fault.predicate(dict(m.attributes)) for m in incoming):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        state.attribute_faults.remove(fault)
                return fault.code, fault.details
        return None


def _check_topic_name(name: str) -> None:
    if not _TOPIC_NAME.match(name):
        raise ValueError(f"topic must be a full path like projects/P/topics/T, got {name!r}")


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    context.abort(code, details)
    raise AssertionError("grpc.ServicerContext.abort returned")  # abort always raises
