"""Issue 4 point 9: publishing renders a post once per event, not once per viewer, and the
event carries what a viewer needs to show it (its HTML, number, author) without another
request."""

from __future__ import annotations

import pytest

from forum import live
from realtime.streams import thread_stream
from tests.conftest import make_board, make_member, make_reply, make_thread
from tests.realtime.conftest import db, open_socket, run

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_reply_is_rendered_once_whatever_the_number_of_viewers(monkeypatch):
    author = make_member("maria")
    viewers = [make_member(f"viewer{i}") for i in range(4)]
    thread = make_thread(make_board("Manufacturing"), author, title="Welding certification")
    stream = thread_stream(thread.pk)
    renders: list[int] = []
    real_render = live.render_post_html

    def counting_render(post):
        renders.append(post.pk)
        return real_render(post)

    monkeypatch.setattr(live, "render_post_html", counting_render)

    async def main() -> None:
        sockets = [await open_socket(v) for v in viewers] + [await open_socket()]
        for sock in sockets:
            assert (await sock.subscribe(stream))["type"] == "subscribed"
        post = await db(make_reply)(thread, author, "Our **AWS** pass rate doubled.")
        for sock in sockets:
            event = await sock.expect("event", timeout=5)
            data = event["data"]
            assert event["event"] == "post.created"
            assert (data["post_id"], data["number"], data["author_id"]) == (post.pk, 2, author.pk)
            assert f'id="post-{post.pk}"' in data["html"]
            assert "<strong>AWS</strong>" in data["html"]
        assert renders == [post.pk]
        for sock in sockets:
            await sock.close()

    run(main)
