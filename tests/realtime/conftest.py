"""Helpers for live-layer tests: sockets through the real ASGI stack (origin check, session
auth, routing) with channels.testing.WebsocketCommunicator.

Everything of one test runs inside one event loop (`run(main)`): database work goes through
`db(fn)(...)`, which runs on the test thread, and the doorbell rung after commit lands on that
same loop, like in a daphne process.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from tests.servers import cookie_header, session_cookie

db = database_sync_to_async
ORIGIN = "http://testserver"


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    return async_to_sync(main)()


@pytest.fixture(autouse=True)
def _flush_layer():
    layer = get_channel_layer()
    if layer is not None and hasattr(layer, "flush"):
        async_to_sync(layer.flush)()
    yield


def application():
    from config.asgi import application as app

    return app


class Socket:
    """A test client: JSON in and out, with helpers that wait for a frame of a given type."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.frames: list[dict] = []

    async def send(self, frame: dict | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        await self.communicator.send_to(text_data=text)

    async def next(self, timeout: float = 2) -> dict:
        # Read the queue directly: receive_output() would cancel the application on timeout.
        if self.communicator.future.done():
            self.communicator.future.result()
        output = await asyncio.wait_for(self.communicator.output_queue.get(), timeout)
        if output["type"] == "websocket.close":
            return {"type": "__closed__", "code": output.get("code")}
        frame = json.loads(output["text"])
        self.frames.append(frame)
        return frame

    async def expect(self, type_: str, timeout: float = 2, **fields: Any) -> dict:
        """The next frame of this type (skipping presence/hello/typing chatter)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            left = deadline - loop.time()
            if left <= 0:
                raise AssertionError(f"no {type_} frame {fields} within {timeout}s")
            frame = await self.next(left)
            if frame["type"] == type_ and all(frame.get(k) == v for k, v in fields.items()):
                return frame
            if frame["type"] == "__closed__" and type_ != "__closed__":
                raise AssertionError(f"socket closed ({frame['code']}) waiting for {type_}")

    async def events(self, count: int, timeout: float = 3) -> list[dict]:
        got = []
        while len(got) < count:
            got.append(await self.expect("event", timeout))
        return got

    async def nothing(self, timeout: float = 0.3, ignore: tuple[str, ...] = ("presence",)) -> None:
        """Assert no frame (other than ignored chatter) arrives within timeout."""
        try:
            while True:
                frame = await self.next(timeout)
                if frame["type"] not in ignore:
                    raise AssertionError(f"unexpected frame {frame}")
        except TimeoutError:
            return

    async def subscribe(self, stream: str, **extra: Any) -> dict:
        await self.send({"type": "subscribe", "stream": stream, **extra})
        while True:
            frame = await self.next()
            if frame["type"] in ("subscribed", "error"):
                return frame

    async def close(self) -> None:
        await self.communicator.disconnect()


async def connect(
    user: Any = None,
    *,
    origin: str | None = ORIGIN,
    path: str = "/ws/",
    headers: list | None = None,
) -> tuple[bool, Socket | int]:
    hdrs = list(headers or [])
    if origin is not None:
        hdrs.append((b"origin", origin.encode()))
    if user is not None:
        cookies = await db(session_cookie)(user)
        hdrs.append((b"cookie", cookie_header(cookies).encode()))
    communicator = WebsocketCommunicator(application(), path, headers=hdrs)
    connected, code = await communicator.connect(timeout=3)
    if not connected:
        return False, code
    socket = Socket(communicator)
    hello = await socket.next()
    assert hello["type"] == "hello"
    socket.hello = hello
    return True, socket


async def open_socket(user: Any = None, **kwargs: Any) -> Socket:
    connected, socket = await connect(user, **kwargs)
    assert connected, f"handshake refused: {socket}"
    return socket
