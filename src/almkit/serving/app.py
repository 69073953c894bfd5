"""almkit's HTTP server: one FastAPI app, localhost by default, with a request size limit and an optional key.

Routes live in their own modules (the OpenAI-compatible chat API in :mod:`almkit.serving.openai_api`, a
collection's search API and page in :mod:`almkit.serving.collection`) and are mounted here, so every service
almkit offers over HTTP shares one port, one limit and one key.
"""

from __future__ import annotations

import hmac
import json

from almkit.agents.sources import MAX_BYTES


def error_body(message: str, kind: str = "invalid_request_error") -> dict:
    """An error as OpenAI's API writes it (its clients read ``error.message``)."""
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class _TooLarge(Exception):
    pass


class Guard:
    """ASGI middleware: HTTP 413 for a body over ``max_bytes`` (declared or streamed), 401 without the API key."""

    def __init__(self, app, max_bytes: int = MAX_BYTES, api_key: str | None = None):
        self.app, self.max_bytes, self.api_key = app, max_bytes, api_key

    async def _send_error(self, send, status: int, message: str) -> None:
        body = json.dumps(error_body(message)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        if self.api_key is not None and scope["path"].startswith(("/v1/", "/api/")):
            given = headers.get(b"authorization", b"").decode("latin-1")
            if not hmac.compare_digest(given, f"Bearer {self.api_key}"):
                return await self._send_error(send, 401, "missing or wrong API key")
        too_large = f"the request is over the limit of {self.max_bytes} bytes"
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._send_error(send, 413, too_large)
        received, started = 0, False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracked_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except _TooLarge:
            if not started:
                await self._send_error(send, 413, too_large)


def create_app(chat=None, max_bytes: int = MAX_BYTES, api_key: str | None = None, index: str | None = None):
    """The app: the OpenAI-compatible chat routes of ``chat`` (a :class:`~almkit.serving.openai_api.ChatService`,
    built on first use when None) and, with ``index``, the collection's API and search page, behind the size
    limit and the key."""
    from fastapi import FastAPI

    from almkit import __version__
    from almkit.serving import openai_api

    app = FastAPI(title="almkit", version=__version__)
    app.include_router(openai_api.router(chat or openai_api.ChatService(max_bytes=max_bytes)))
    if index is not None:
        from almkit.serving import collection

        app.include_router(collection.router(collection.Collection(index)))
    app.add_middleware(Guard, max_bytes=max_bytes, api_key=api_key)
    return app
