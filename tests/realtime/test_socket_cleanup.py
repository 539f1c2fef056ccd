"""A socket whose task ends without disconnect() (daphne cancels an application still busy 10 s
after its connection closed) must not stay in the hub's tables: the soak's memory (issue 6.4)."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from realtime import access
from realtime.consumers import LiveConsumer
from realtime.hub import get_hub
from tests.conftest import make_board, make_member, make_thread
from tests.realtime.conftest import connect, open_socket, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_socket_cancelled_while_busy_leaves_every_hub_table(monkeypatch):
    board = make_board()
    member = make_member()
    first, second = make_thread(board, member), make_thread(board, member)
    gate = threading.Event()
    may_subscribe = access.may_subscribe

    def slow_may_subscribe(user, stream):
        if stream == f"thread:{second.pk}":
            gate.wait(10)  # a slow database: the handler is still waiting when daphne gives up
        return may_subscribe(user, stream)

    monkeypatch.setattr(access, "may_subscribe", slow_may_subscribe)

    async def main():
        hub = get_hub()
        sock = await open_socket(member)
        assert (await sock.subscribe(f"thread:{first.pk}"))["type"] == "subscribed"
        assert len(hub.groups) == 2  # its thread and its member control group
        await sock.send({"type": "subscribe", "stream": f"thread:{second.pk}"})
        await asyncio.sleep(0.2)
        sock.communicator.future.cancel()  # as daphne's application_close_timeout does
        with contextlib.suppress(asyncio.CancelledError):
            await sock.communicator.future
        gate.set()
        await asyncio.sleep(0.1)  # the background group_discard
        assert hub.groups == {}
        assert hub.stream_last == {}
        assert hub.stream_locks == {}

    try:
        run(main)
    finally:
        gate.set()


def test_socket_whose_connect_fails_leaves_the_hub(monkeypatch):
    member = make_member()

    async def main():
        hub = get_hub()
        sock = await open_socket(member)
        await sock.close()
        assert hub.groups == {}

        async def failing_send_frame(self, frame):
            raise ConnectionError("gone during the handshake")

        monkeypatch.setattr(LiveConsumer, "send_frame", failing_send_frame)
        with contextlib.suppress(Exception):
            await connect(member)
        await asyncio.sleep(0.1)
        assert hub.groups == {}

    run(main)
