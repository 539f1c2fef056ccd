from __future__ import annotations

import asyncio

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


async def _roundtrip() -> str:
    layer = get_channel_layer()
    if layer is None:
        return "error: no channel layer configured"
    # The default prefix, as the live hub's channel: channels-redis reads every process-local
    # channel of one prefix from one Redis list, and the hub's receive loop holds the only
    # receive lock. A "healthz." channel was not read while the hub waited in its receive:
    # /healthz answered 503 on every process holding a quiet socket.
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "healthz.ping"})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    return "ok" if message.get("type") == "healthz.ping" else "error: wrong message"


def channel_layer_roundtrip() -> str:
    try:
        return async_to_sync(_roundtrip)()
    except Exception as exc:  # reported as the layer's state
        return f"error: {type(exc).__name__}"
