"""Safe defaults of the console server: local only unless a token guards it, and bounded request bodies.

Both guards are plain ASGI middleware, so they cover WebSockets as well as HTTP requests.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from autotrack.errors import AutotrackError

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
TOKEN_ENV = "AUTOTRACK_TOKEN"
MAX_BODY = 64 * 1024  # bytes; the API's requests are small JSON documents


class ServeError(AutotrackError, ValueError):
    """The console cannot start with these settings; the message says what to change."""


def check_host(host: str, token: str | None) -> None:
    """Refuse to serve other machines without a token."""
    if host not in LOCAL_HOSTS and not token:
        raise ServeError(f"--host {host} lets other machines reach the console: give --token or set {TOKEN_ENV}")


class TokenAuth:
    """Every HTTP request and WebSocket must carry the token, as `Authorization: Bearer TOKEN` or as `?token=TOKEN`
    in the URL (how the pages pass it on: a browser cannot set headers on images, downloads or WebSockets).
    Others get 401."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self._allowed(HTTPConnection(scope)):
            response = JSONResponse({"detail": "missing or wrong token"}, 401, {"WWW-Authenticate": "Bearer"})
            if scope["type"] == "websocket" and "websocket.http.response" not in scope.get("extensions", {}):
                await send({"type": "websocket.close", "code": 1008})  # the server cannot send a 401: refuse
                return
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _allowed(self, connection: HTTPConnection) -> bool:
        header = connection.headers.get("authorization", "")
        given = header[7:] if header.lower().startswith("bearer ") else connection.query_params.get("token", "")
        return hmac.compare_digest(given.encode(), self.token)


class BodyLimit:
    """Refuse request bodies over `limit` bytes (413), and bodies of unknown length (411)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            length = headers.get("content-length")
            if length is None and "chunked" in headers.get("transfer-encoding", ""):
                await JSONResponse({"detail": "a request body needs a Content-Length"}, 411)(scope, receive, send)
                return
            if length is not None and (not length.isdigit() or int(length) > self.limit):
                await JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)(scope, receive, send)
                return
        await self.app(scope, receive, send)
