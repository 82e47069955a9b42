"""Request body size limits (pure ASGI, before any route runs): a Content-Length over
the limit is refused at once; a body without one is read up to the limit and refused
as soon as it passes it, so an oversize body is never buffered whole."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_body: int, max_import: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_import = max_import

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_import if scope["path"].rstrip("/") == "/v1/import" else self.max_body
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _reject(send, limit)
            return
        if length is not None:
            await self.app(scope, receive, send)  # the server enforces Content-Length itself
            return
        # no Content-Length (chunked): read up to the limit first, then replay the body;
        # refusing mid-stream inside the app would be caught by its body parser
        chunks: list[bytes] = []
        seen = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await _reject(send, limit)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _reject(send: Send, limit: int) -> None:
    body: dict[str, Any] = {"error": {"code": "payload_too_large",
                                      "message": f"request body exceeds {limit} bytes",
                                      "detail": {"limit": limit}}}
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})
