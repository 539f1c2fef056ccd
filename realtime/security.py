"""Websocket handshake origin check: stricter than Channels' AllowedHostsOriginValidator.

A browser always sends Origin on a websocket handshake, so a missing Origin is a non-browser
client or a stripped header: refused, like `null` (sandboxed frames, file: pages) and any host
that is not in ALLOWED_HOSTS (a sibling subdomain included) or CSRF_TRUSTED_ORIGINS.
A refused handshake gets HTTP 403 before the socket opens.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import validate_host


def origin_allowed(origin: str | None) -> bool:
    if not origin or origin == "null":
        return False
    try:
        parts = urlsplit(origin)
        hostname, port = parts.hostname, parts.port
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not hostname or parts.path or parts.query:
        return False
    if settings.PRODUCTION and parts.scheme != "https":
        return False
    if origin.rstrip("/") in {o.rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}:
        return True
    allowed = [h for h in settings.ALLOWED_HOSTS if h != "*"] or (
        ["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else []
    )
    del port  # any port of an allowed host: the proxy's or daphne's own
    return validate_host(hostname, allowed)


class StrictOriginValidator:
    """ASGI middleware: websocket handshakes need an allowed Origin; HTTP passes through."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket":
            origins = [v for k, v in scope.get("headers", []) if k == b"origin"]
            origin = origins[0].decode("latin1") if len(origins) == 1 else None
            if not origin_allowed(origin):
                return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
