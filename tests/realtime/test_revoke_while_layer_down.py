"""Issue 7 point 3 with the channel layer down: a sign-out or suspension is announced to the
sockets over the layer, so while Redis is down that announcement is lost. The hub makes up for
it: while the layer is down each sweep (which still delivers from the database) first re-checks
every signed-in socket, and when the layer comes back every socket is re-checked before the
catch-up delivers anything. A socket whose member signed out is closed and gets nothing more.

In process, with the project's channel layer; "down" is the layer refusing every call."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from forum import moderation
from realtime import consumers
from realtime import hub as hub_module
from realtime.publish import disconnect_member
from realtime.streams import inbox_stream, thread_stream
from tests.conftest import make_board, make_member, make_reply, make_staff, make_thread
from tests.realtime.conftest import db, open_socket, run

pytestmark = pytest.mark.django_db(transaction=True)


class LayerDown:
    """Makes the hub's layer refuse group_add and group_send until `up()`."""

    def __init__(self, layer, monkeypatch) -> None:
        self.down = True
        self.refused = 0
        for name in ("group_add", "group_send"):
            real = getattr(layer, name)

            async def refuse(*args, _real=real, **kwargs):
                if self.down:
                    self.refused += 1
                    raise ConnectionError("Redis is down")
                return await _real(*args, **kwargs)

            monkeypatch.setattr(layer, name, refuse)

    def up(self) -> None:
        self.down = False


async def _closed_within(sock, seconds: float) -> list[dict]:
    """Frames until the socket closes (failing if it does not within `seconds`)."""
    frames = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        frame = await sock.next(max(0.01, deadline - loop.time()))
        frames.append(frame)
        if frame["type"] == "__closed__":
            return frames


def test_sign_out_while_the_layer_is_down_closes_the_socket_at_the_next_sweep(monkeypatch):
    monkeypatch.setattr(hub_module, "SWEEP_SECONDS", 0.3)
    member = make_member("maria")
    author = make_member("james")
    thread = make_thread(make_board("Health Science"), member, title="Clinical hours")

    async def main() -> None:
        sock = await open_socket(member)
        assert (await sock.subscribe(inbox_stream(member.pk)))["type"] == "subscribed"
        assert (await sock.subscribe(thread_stream(thread.pk)))["type"] == "subscribed"
        hub = hub_module.get_hub()
        if hub.layer is None:
            pytest.fail("the hub has no channel layer")
        outage = LayerDown(hub.layer, monkeypatch)
        await sock.expect("status", live=False, timeout=3)

        def sign_out_then_reply() -> None:
            Session.objects.all().delete()
            disconnect_member(member.pk, reason="signed_out")  # refused: the layer is down
            make_reply(thread, author, "A reply quoting @maria after she signed out.")

        await db(sign_out_then_reply)()
        assert outage.refused
        frames = await _closed_within(sock, 3)
        assert frames[-1] == {"type": "__closed__", "code": consumers.CLOSE_SESSION_ENDED}
        assert not [f for f in frames if f["type"] == "event"], frames

    run(main)


def test_revocations_lost_during_an_outage_are_applied_when_the_layer_returns(monkeypatch):
    """No sweep here (600 s): only the hub's own recovery runs. A suspension during the outage
    closes the suspended member's socket on recovery, before the catch-up; another member's
    socket is re-checked too, stays open and gets the missed reply."""
    monkeypatch.setattr(hub_module, "SWEEP_SECONDS", 600.0)
    staff = make_staff("admin")
    suspended = make_member("maria")
    reader = make_member("james")
    thread = make_thread(make_board("Engineering"), staff, title="Robotics league")
    stream = thread_stream(thread.pk)

    async def main() -> None:
        cut, kept = await open_socket(suspended), await open_socket(reader)
        for sock in (cut, kept):
            assert (await sock.subscribe(stream))["type"] == "subscribed"
        hub = hub_module.get_hub()
        outage = LayerDown(hub.layer, monkeypatch)
        await hub.group_send("s.nothing", {"type": "stream.typing"})  # the hub notices
        await kept.expect("status", live=False, timeout=3)

        def suspend_then_reply() -> None:
            moderation.suspend_member(
                staff, suspended, until=timezone.now() + timedelta(days=3), reason="Spam"
            )
            make_reply(thread, staff, "Posted during the outage.")

        await db(suspend_then_reply)()
        await cut.nothing(0.5, ignore=("presence", "status"))  # nothing flows while down
        outage.up()
        frames = await _closed_within(cut, 5)
        assert frames[-1] == {"type": "__closed__", "code": consumers.CLOSE_SESSION_ENDED}
        assert not [f for f in frames if f["type"] == "event"], frames
        event = await kept.expect("event", timeout=5)
        assert event["data"]["number"] == 2
        await kept.close()

    run(main)
