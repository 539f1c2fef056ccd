"""Issue 4 point 5: with Redis, a reply posted through one daphne process reaches the sockets
held by another. Two real daphne processes on the test database and a private redis-server (so
that it works on both CI profiles; a missing redis-server fails the test, it does not skip).

The servers run without the hub's periodic database sweep (LIVE_SWEEP_SECONDS=600): an event
that arrives came through Redis, not through the catch-up that would hide a broken doorbell."""

from __future__ import annotations

import time

import pytest

from forum.models import Post
from realtime.streams import inbox_stream, thread_stream
from tests.conftest import make_board, make_member, make_thread
from tests.servers import HttpMember, LiveClient, healthz, private_redis, start_servers

pytestmark = [pytest.mark.servers, pytest.mark.redis]

SERVER_ENV = {"LIVE_SWEEP_SECONDS": "600", "FORUM_RATE_LIMITS": "0"}


def test_reply_reaches_viewer_on_other_process(transactional_db):
    board = make_board("Health Science")
    author = make_member("maria")
    rosa = make_member("rosa", display_name="Rosa Diaz")
    reader = make_member("james")
    thread = make_thread(board, author, title="Clinical placements")
    stream = thread_stream(thread.pk)
    with private_redis() as redis, start_servers(2, redis_url=redis.url, env=SERVER_ENV) as (a, b):
        viewer_b = LiveClient(b, reader)
        viewer_a = LiveClient(a, reader)
        mentioned = LiveClient(b, rosa)
        try:
            assert viewer_b.hello["live"] is True
            # With sockets open and quiet (the hub blocked in its receive), the health check
            # still gets its round trip through the layer: it used to time out (503) then.
            assert healthz(a) == (
                200,
                {"status": "ok", "database": "ok", "static": "ok", "channel_layer": "ok"},
            )
            assert healthz(b)[0] == 200
            viewer_b.subscribe(stream)
            viewer_a.subscribe(stream)
            mentioned.subscribe(inbox_stream(rosa.pk))

            started = time.monotonic()
            status, location = HttpMember(a, author).reply(
                thread.pk, "Placements open in March, @rosa can you confirm the dates?"
            )
            assert status == 302, location
            post = Post.objects.get(pk=int(location.strip("/").split("/")[-1]))
            (event,) = viewer_b.wait_events(stream, 1, timeout=10)
            latency = time.monotonic() - started
            assert event["event"] == "post.created"
            assert event["data"]["post_id"] == post.pk
            assert event["data"]["number"] == 2
            assert "Placements open in March" in event["data"]["html"]
            assert f'id="post-{post.pk}"' in event["data"]["html"]
            (note,) = mentioned.wait_events(inbox_stream(rosa.pk), 1, timeout=10)
            assert note["event"] == "notification.created"
            assert note["data"]["unread_count"] == 1
            assert note["data"]["kind"] == "mention"
            assert note["data"]["url"] == location

            # And back: posted through B, seen on A (and on B), same id on both.
            assert HttpMember(b, rosa).reply(thread.pk, "Confirmed: March 3rd to 14th.")[0] == 302
            for client in (viewer_a, viewer_b):
                events = client.wait_events(stream, 2, timeout=10)
                client.drain(0.2)
                assert [e["id"] for e in client.events[stream]] == [1, 2]
                assert "March 3rd to 14th" in events[1]["data"]["html"]
            assert latency < 10
            print(f"\nreply posted through A seen on B after {latency * 1000:.0f} ms")
        finally:
            viewer_a.close()
            viewer_b.close()
            mentioned.close()
