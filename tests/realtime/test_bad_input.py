"""Bad input on the socket and the handshake's origin check (issue 4.7, issue 7.4)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from realtime import consumers
from realtime.security import origin_allowed
from tests.conftest import make_board, make_member, make_reply, make_thread
from tests.realtime.conftest import connect, db, open_socket, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_receive_malformed_json_answers_bad_json_and_socket_survives():
    async def main():
        sock = await open_socket()
        await sock.send("{not json")
        assert (await sock.next())["code"] == "bad_json"
        await sock.send("[1, 2]")
        assert (await sock.next())["code"] == "bad_message"
        await sock.send({"type": 7})
        assert (await sock.next())["code"] == "bad_message"
        await sock.send({"type": "ping"})
        assert (await sock.next())["type"] == "pong"
        await sock.close()

    run(main)


def test_receive_unknown_type_answers_unknown_type():
    async def main():
        sock = await open_socket()
        await sock.send({"type": "group_add", "group": "s.thread.1"})
        frame = await sock.next()
        assert frame == {
            "type": "error",
            "code": "unknown_type",
            "message": "Unknown message type.",
        }
        await sock.close()

    run(main)


def test_receive_bad_last_id_answers_bad_message():
    async def main():
        sock = await open_socket()
        for bad in ("5", -1, True, 1.5):
            frame = await sock.subscribe("thread:1", last_id=bad)
            assert frame["code"] == "bad_message", bad
        await sock.close()

    run(main)


def test_receive_oversized_frame_closes_with_1009_others_unaffected():
    async def main():
        victim = await open_socket()
        sock = await open_socket()
        await sock.send({"type": "ping", "pad": "x" * (16 * 1024)})
        assert (await sock.next())["type"] == "closing"
        assert (await sock.next()) == {"type": "__closed__", "code": 1009}
        await victim.send({"type": "ping"})
        assert (await victim.next())["type"] == "pong"
        await victim.close()

    run(main)


def test_receive_binary_frame_answers_bad_frame():
    async def main():
        sock = await open_socket()
        await sock.communicator.send_to(bytes_data=b"\x00\x01")
        assert (await sock.next())["code"] == "bad_frame"
        await sock.close()

    run(main)


def test_receive_flood_is_rate_limited_then_closed_with_4008():
    async def main():
        bystander = await open_socket()
        sock = await open_socket()
        for _ in range(int(consumers.RATE_BURST) + consumers.MAX_STRIKES + 5):
            await sock.send({"type": "ping"})
        frames = []
        while True:
            frame = await sock.next()
            frames.append(frame)
            if frame["type"] == "__closed__":
                break
        kinds = [f.get("code") if f["type"] == "error" else f["type"] for f in frames]
        # The burst passes (plus what refills at 20/s while the frames are handled).
        assert int(consumers.RATE_BURST) <= kinds.count("pong") <= int(consumers.RATE_BURST) + 5
        assert "rate_limited" in kinds
        assert frames[-2] == {"type": "closing", "code": 4008, "reason": "too_many_bad_messages"}
        assert frames[-1]["code"] == 4008
        await bystander.send({"type": "ping"})
        assert (await bystander.next())["type"] == "pong"
        await bystander.close()

    run(main)


def test_subscribe_too_many_streams_refused():
    board = make_board()
    author = make_member()
    threads = [make_thread(board, author, f"Thread number {n}") for n in range(2)]

    async def main():
        sock = await open_socket()
        original = consumers.MAX_SUBSCRIPTIONS
        consumers.MAX_SUBSCRIPTIONS = 1
        try:
            assert (await sock.subscribe(f"thread:{threads[0].pk}"))["type"] == "subscribed"
            refused = await sock.subscribe(f"thread:{threads[1].pk}")
            assert refused["code"] == "too_many_subscriptions"
        finally:
            consumers.MAX_SUBSCRIPTIONS = original
        await sock.close()

    run(main)


def test_unsubscribe_stops_events():
    board = make_board()
    author = make_member()
    thread = make_thread(board, author)

    async def main():
        sock = await open_socket()
        await sock.subscribe(f"thread:{thread.pk}")
        await sock.send({"type": "unsubscribe", "stream": f"thread:{thread.pk}"})
        await sock.expect("unsubscribed")
        await db(make_reply)(thread, author)
        await sock.nothing()
        await sock.send({"type": "unsubscribe", "stream": f"thread:{thread.pk}"})
        assert (await sock.expect("error"))["code"] == "not_subscribed"
        await sock.close()

    run(main)


def test_handler_exception_answers_server_error_and_socket_survives(monkeypatch):
    from realtime import access

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(access, "may_subscribe", broken)

    async def main():
        sock = await open_socket()
        await sock.send({"type": "subscribe", "stream": "thread:1"})
        assert (await sock.next())["code"] == "server_error"
        await sock.send({"type": "ping"})
        assert (await sock.next())["type"] == "pong"
        await sock.close()

    run(main)


# ---------------------------------------------------------------- origin


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "null",
        "http://evil.example.com",
        "http://testserver.evil.example.com",
        "file://",
        "http://testserver/path",
    ],
)
def test_connect_refuses_bad_origin(origin):
    async def main():
        connected, code = await connect(origin=origin)
        assert connected is False  # closed before accept: daphne answers the handshake 403

    run(main)


def test_connect_refuses_sibling_subdomain_not_in_allowed_hosts():
    with override_settings(ALLOWED_HOSTS=["forum.carocp.org", ".members.carocp.org"]):
        assert origin_allowed("https://forum.carocp.org")
        assert origin_allowed("https://a.members.carocp.org")
        assert not origin_allowed("https://wiki.carocp.org")
        assert not origin_allowed("https://carocp.org")

        async def main():
            refused, _ = await connect(origin="https://wiki.carocp.org")
            accepted, sock = await connect(origin="https://forum.carocp.org")
            assert (refused, accepted) == (False, True)
            await sock.close()

        run(main)


def test_connect_accepts_own_origin():
    async def main():
        connected, sock = await connect(origin="http://testserver")
        assert connected
        await sock.close()

    run(main)
