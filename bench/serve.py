"""One service of the benchmark night, in a process of its own: ``python -m bench.serve ROLE``.

ROLE is ``worker``, ``coordinator`` or ``embedded``. Each serves the project's real app (built by
its own composition root from ``NBA_PROPS_*`` settings in the environment) with uvicorn on a free
loopback port, writes ``{"port": ..., "pid": ...}`` to ``--ready FILE`` once it answers, and next
to the real routes answers the bench's own ``GET /_bench/stats`` (`BenchRoutes`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any, Literal

import uvicorn

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

BENCH_PREFIX = "/_bench"


def _status_mb(field: str, pid: int | str) -> float | None:
    """A ``kB`` field of /proc/<pid>/status in MB; None where /proc is not available."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """Peak resident set size (VmHWM) of a process in MB."""
    return _status_mb("VmHWM", pid)


def anon_rss_mb(pid: int | str = "self") -> float | None:
    """Resident anonymous memory (RssAnon) in MB: the process's own heap, without the file-backed
    pages of shared libraries, which depend on the page cache (a freshly installed virtualenv has
    every library page cached and mapped around each fault: some 50 MB more VmHWM, same heap)."""
    return _status_mb("RssAnon", pid)


ACK_STATUSES = frozenset({102, 200, 201, 202, 204})  # what Pub/Sub (and the loopback) count as acked


class PushLatency:
    """ASGI wrapper timing every POST to the push path, around the real app (no routing change).

    It also counts acknowledgements: the worker answers 2xx only once a message's row is committed,
    so "N acknowledged" means "N rows written", and ``wait_for_acks`` lets the bench learn when the
    night is over without polling the database (which would compete with the night for the CPU).
    """

    def __init__(self, app: Asgi, path: str) -> None:
        self.app = app
        self.path = path
        self.seconds: list[float] = []
        self.statuses: dict[int, int] = {}
        self.acks = 0
        self.last_ack_monotonic: float | None = None
        self._lock = threading.Lock()
        self._changed: asyncio.Event | None = None

    async def wait_for_acks(self, count: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while self.acks < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed = self._changed or asyncio.Event()
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return self.acks >= count
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def timed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                elapsed = time.perf_counter() - started
                with self._lock:
                    self.seconds.append(elapsed)
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                    if status in ACK_STATUSES:
                        self.acks += 1
                        # CLOCK_MONOTONIC is one clock for every process of the machine.
                        self.last_ack_monotonic = time.monotonic()
                if self._changed is not None:
                    self._changed.set()

        await self.app(scope, receive, timed_send)


class BenchRoutes:
    """``/_bench/stats`` and ``/_bench/wait`` in front of the real app; the rest passes through.

    The stats: for the worker, rows in its warehouse for a batch, the server-side latency of every
    push request (from the request reaching the app to the last byte of the answer) and the peak
    RSS; for the coordinator, deliveries acknowledged or still in flight and the peak RSS; embedded,
    the peak RSS of the one process serving both (``/_bench`` is on a third port).
    """

    def __init__(
        self,
        app: Asgi | None,
        stats: Callable[[dict[str, str]], dict[str, Any]],
        timed: PushLatency | None = None,
    ) -> None:
        self.app = app
        self.stats = stats
        self.timed = timed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(BENCH_PREFIX):
            query = dict(
                part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part
            )
            if scope["path"] == f"{BENCH_PREFIX}/wait" and self.timed is not None:
                reached = await self.timed.wait_for_acks(int(query["acks"]), float(query["timeout_s"]))
                answer: dict[str, Any] = {
                    "reached": reached,
                    "acks": self.timed.acks,
                    "last_ack_monotonic": self.timed.last_ack_monotonic,
                }
            else:
                answer = await asyncio.to_thread(self.stats, query)
            body = json.dumps(answer, default=str).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        if self.app is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def _serve(
    app: Asgi, ready: Path, extra: dict[str, Any] | None = None, *, lifespan: Literal["on", "off"] = "on"
) -> None:
    """Serve until SIGTERM; announce the port in the ready file once the server has started."""
    sock = _socket()
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)

    def announce() -> None:
        while not server.started:
            time.sleep(0.005)
        staging = ready.with_suffix(".tmp")
        staging.write_text(json.dumps({"port": sock.getsockname()[1], "pid": os.getpid(), **(extra or {})}))
        staging.replace(ready)

    threading.Thread(target=announce, daemon=True).start()
    server.run(sockets=[sock])


def _worker(ready: Path) -> None:
    from shared.logging import configure_logging
    from shared.settings import Settings
    from shared.warehouse.duckdb import DuckDbWarehouse
    from worker.app import PUSH_PATH, WorkerContainer, create_app

    settings = Settings()
    configure_logging(settings)
    # The worker's own DuckDB file: a second process cannot open the coordinator's (one writer
    # per file), so this is where this worker's predictions and rejections land.
    warehouse = DuckDbWarehouse(settings.duckdb_path, default_timeout_s=settings.query_timeout_s)
    warehouse.create_schema()
    container = WorkerContainer.build(settings, warehouse)
    timed = PushLatency(create_app(container), PUSH_PATH)

    def stats(query: dict[str, str]) -> dict[str, Any]:
        batch_id = query.get("batch_id", "")
        counts = warehouse.sql(
            "SELECT (SELECT COUNT(*) FROM predictions_raw WHERE batch_id = $b) AS predicted,"
            " (SELECT COUNT(*) FROM player_outcomes WHERE batch_id = $b) AS recorded",
            {"b": batch_id},
        )
        out: dict[str, Any] = {
            "predicted": int(counts["predicted"].iloc[0]),
            "recorded": int(counts["recorded"].iloc[0]),
            "requests": len(timed.seconds),
            "statuses": dict(timed.statuses),
            "peak_rss_mb": peak_rss_mb(),
            "anon_rss_mb": anon_rss_mb(),
            "cpu_s": time.process_time(),
        }
        if query.get("latencies") == "1":
            out["latencies_s"] = list(timed.seconds)
        return out

    try:
        _serve(BenchRoutes(timed, stats, timed), ready)
    finally:
        warehouse.close()


def _coordinator(ready: Path) -> None:
    from coordinator.app import CoordinatorContainer, create_app
    from shared.logging import configure_logging
    from shared.settings import Settings
    from shared.transport.loopback import LoopbackPushPublisher

    settings = Settings()
    configure_logging(settings)
    container = CoordinatorContainer.build(settings)
    publisher = container.publisher

    def stats(_: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "peak_rss_mb": peak_rss_mb(),
            "anon_rss_mb": anon_rss_mb(),
            "cpu_s": time.process_time(),
        }
        if isinstance(publisher, LoopbackPushPublisher):
            out.update(
                pending=publisher.pending,
                deliveries=publisher.deliveries,
                dead_lettered=publisher.dead_lettered,
            )
        return out

    try:
        _serve(BenchRoutes(create_app(container), stats), ready)
    finally:
        container.close()
        container.warehouse.close()


def _embedded(ready: Path) -> None:
    from nba_props.embedded import EmbeddedStack
    from shared.logging import configure_logging
    from shared.settings import Settings

    settings = Settings()
    configure_logging(settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedStack(settings) as stack:
        extra = {"coordinator_url": stack.coordinator_url, "worker_url": stack.worker_url}
        bench = BenchRoutes(None, lambda _: {"peak_rss_mb": peak_rss_mb(), "cpu_s": time.process_time()})
        thread = threading.Thread(
            target=_serve, args=(bench, ready, extra), kwargs={"lifespan": "off"}, daemon=True
        )
        thread.start()
        stop.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__.splitlines()[0])
    parser.add_argument("role", choices=["worker", "coordinator", "embedded"])
    parser.add_argument("--ready", type=Path, required=True, help="file to write the port to once serving")
    args = parser.parse_args(argv)
    {"worker": _worker, "coordinator": _coordinator, "embedded": _embedded}[args.role](args.ready)


if __name__ == "__main__":
    main(sys.argv[1:])
