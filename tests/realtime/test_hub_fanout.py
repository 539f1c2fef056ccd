"""The hub's fan-out: one stream is fanned out by one task at a time, so a catch-up running
while a fan-out waits never puts event N+1 before event N on any socket; and a socket that
resumes with last_id never gets an event at or below it again."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from realtime import access
from realtime.hub import Hub, get_hub
from realtime.publish import record_event
from tests.conftest import make_board, make_member, make_reply, make_thread
from tests.realtime.conftest import db, open_socket, run

STREAM = "thread:1"
GROUP = "s.thread.1"


class FakeSocket:
    def __init__(self, gate: asyncio.Event | None = None, reached: asyncio.Event | None = None):
        self.user_id = None
        self.display_name = ""
        self.seqs: list[int] = []
        self.gate = gate
        self.reached = reached

    async def deliver_event(self, stream: str, seq: int, text: str) -> None:
        if self.gate is not None and not self.reached.is_set():
            self.reached.set()
            await self.gate.wait()  # its first delivery suspends the fan-out, later ones do not
        self.seqs.append(seq)

    async def deliver_frame(self, stream: str | None, text: str) -> None:
        pass

    async def stream_revoked(self, stream: str) -> None:
        pass

    async def member_revoked(self, message: dict[str, Any]) -> None:
        pass

    def socket_user(self) -> Any:
        return None


def event(seq: int) -> dict[str, Any]:
    return {"stream": STREAM, "id": seq, "type": "post.created", "data": {"post_id": seq}}


def test_catch_up_during_a_suspended_fan_out_keeps_every_socket_in_order(monkeypatch):
    monkeypatch.setattr(access, "last_seqs", lambda streams: {STREAM: 2})
    monkeypatch.setattr(
        access, "events_after", lambda stream, after, limit: [event(2)] if after < 2 else []
    )

    async def main() -> list[FakeSocket]:
        hub = Hub()
        gate, reached = asyncio.Event(), asyncio.Event()
        sockets = [FakeSocket() for _ in range(10)]
        sockets.append(FakeSocket(gate, reached))
        sockets += [FakeSocket() for _ in range(10)]
        hub.groups[GROUP] = dict.fromkeys(sockets)  # ordered: the gated socket is in the middle
        hub.stream_last[STREAM] = 0
        first = asyncio.get_running_loop().create_task(hub.on_event(event(1)))
        await reached.wait()  # event 1 is half fanned out
        catch_up = asyncio.get_running_loop().create_task(hub.catch_up_all())
        await asyncio.sleep(0.3)  # the catch-up goes as far as it can meanwhile
        gate.set()
        await first
        await catch_up
        return sockets

    sockets = async_to_sync(main)()
    assert [s.seqs for s in sockets] == [[1, 2]] * len(sockets)


@pytest.mark.django_db(transaction=True)
def test_resumed_socket_does_not_get_again_an_event_a_lagging_hub_delivers_late():
    """bench/soak.py found it: a tab got event N from process A, was cut off, resumed with
    last_id=N on process B, whose hub had not yet fanned N out; B then sent N again."""
    board, author = make_board(), make_member()
    thread = make_thread(board, author)
    make_reply(thread, author, "before")
    stream = f"thread:{thread.pk}"

    async def main() -> None:
        reader = await open_socket()
        assert (await reader.subscribe(stream))["type"] == "subscribed"
        # Event N is committed, but this process's hub has not had its doorbell yet.
        late = await db(record_event)(stream, "post.created", {"post_id": 0})
        resumed = await open_socket()
        subscribed = await resumed.subscribe(stream, last_id=late.seq)
        assert subscribed == {
            "type": "subscribed",
            "stream": stream,
            "last_id": late.seq,
            "typing": False,
        }
        await get_hub().on_event(late.as_message())  # the doorbell arrives late
        assert (await reader.expect("event"))["id"] == late.seq
        await resumed.nothing()
        await reader.close()
        await resumed.close()

    run(main)
