"""Request body limits, enforced before a handler reads the body (pure ASGI, so nothing is buffered)."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# A Pub/Sub message carries at most 10 MB of data; the push envelope sends it base64-encoded (4/3)
# next to up to ~128 kB of attributes and a little JSON. Anything larger did not come from Pub/Sub.
PUBSUB_MAX_DATA_BYTES = 10_000_000
WORKER_MAX_BODY_BYTES = 4 * -(-PUBSUB_MAX_DATA_BYTES // 3) + 256 * 1024
# POST /start takes {"game_date": ..., "force": ...}; the other coordinator writes take no body.
COORDINATOR_MAX_BODY_BYTES = 16 * 1024


class BodySizeLimit:
    """Answers 413 to a body over ``max_bytes``: from Content-Length at once, or while it streams.

    A chunked body is counted as the handler reads it; passing the limit raises an HTTPException(413)
    out of ``receive``, which FastAPI passes through (it would turn any other error into a 400).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send, declared)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise HTTPException(413, f"body over the limit of {self.max_bytes} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except HTTPException as exc:
            if started or exc.status_code != 413:
                raise
            await self._refuse(send, seen)

    async def _refuse(self, send: Send, size: int) -> None:
        body = json.dumps(
            {"error": "body_too_large", "detail": f"{size} bytes; the limit is {self.max_bytes}"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
    for name, value in headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
