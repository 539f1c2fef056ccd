"""A subscriber catching up (last_id, or a page load's since_ms) is sent each thing as it is now
(forum.live.replay_view), never a past state (security pass of 2026-12-06): before, anyone,
a visitor too, could subscribe with last_id 0 and read the text of hidden and deleted posts,
posts from before an edit, posts split into a private board, and the titles of hidden, deleted
and moved-away threads from the recorded events."""

from __future__ import annotations

import json

import pytest

from forum import actions, moderation
from forum.models import Visibility
from tests.conftest import make_board, make_group, make_member, make_reply, make_thread
from tests.realtime.conftest import open_socket, run

pytestmark = pytest.mark.django_db(transaction=True)


def _texts(frames: list[dict]) -> str:
    return "\n".join(json.dumps(f) for f in frames)


async def _catch_up(sock, stream: str, **how) -> list[dict]:
    subscribed = await sock.subscribe(stream, **how)
    assert subscribed["type"] == "subscribed", subscribed
    return [f for f in sock.frames if f["type"] == "event" and f["stream"] == stream]


def _world():
    mod, james, insider = make_member("mod"), make_member("james"), make_member("insider")
    group = make_group("Board members", insider, mod)
    public = make_board("Networking", moderators=[mod])
    room = make_board("Board Room", visibility=Visibility.GROUPS, groups=[group], moderators=[mod])
    thread = make_thread(public, james, title="Regional meetups", body="Who is near Fresno?")
    hidden = make_reply(thread, james, "HIDDENBODY something regrettable")
    deleted = make_reply(thread, james, "DELETEDBODY removed later")
    edited = make_reply(thread, james, "ORIGINALEDITSECRET before the edit")
    split = make_reply(thread, james, "SPLITBODY now in the Board Room")
    kept = make_reply(thread, james, "Plain reply that stays")
    moderation.hide_post(mod, hidden, reason="Heated")
    moderation.delete_post(mod, deleted, reason="Off topic")
    actions.edit_post(james, edited, body="Edited text everyone may read")
    moderation.split_thread(
        mod, thread, post_ids=[split.pk], title="SPLITTITLE private follow-up", board=room
    )
    hidden_thread = make_thread(public, james, title="HIDDENTHREADTITLE")
    moderation.hide_thread(mod, hidden_thread, reason="Spam")
    moved = make_thread(public, james, title="MOVEDTITLE")
    moderation.move_thread(mod, moved, board=room)
    return locals()


def test_a_thread_replay_holds_only_each_posts_state_now():
    w = _world()

    async def main():
        visitor = await open_socket()
        frames = await _catch_up(visitor, f"thread:{w['thread'].pk}", last_id=0)
        text = _texts(frames)
        for secret in ("HIDDENBODY", "DELETEDBODY", "ORIGINALEDITSECRET", "SPLITBODY"):
            assert secret not in text, secret
        by_post = {}
        for f in frames:
            if f["event"] in ("post.created", "post.changed"):
                assert f["data"]["post_id"] not in by_post, "one event per post"
                by_post[f["data"]["post_id"]] = f
        assert w["split"].pk not in by_post  # now in a thread this visitor may not see
        assert "Edited text everyone may read" in by_post[w["edited"].pk]["data"]["html"]
        assert "Plain reply that stays" in by_post[w["kept"].pk]["data"]["html"]
        for gone in (w["hidden"], w["deleted"]):
            assert by_post[gone.pk]["event"] == "post.created"  # the client never had it
            assert by_post[gone.pk]["data"]["visible"] is False
            assert "html" not in by_post[gone.pk]["data"]
        # The thread's own row: once, as it is now.
        changed = [f for f in frames if f["event"] == "thread.changed"]
        assert len(changed) == 1 and changed[0]["data"]["title"] == "Regional meetups"
        await visitor.close()

    run(main)


def test_a_board_replay_names_no_thread_since_hidden_or_moved_away():
    w = _world()

    async def main():
        for who in (None, w["james"]):
            sock = await open_socket(who)
            frames = await _catch_up(sock, f"board:{w['public'].pk}", last_id=0)
            text = _texts(frames)
            for secret in ("HIDDENTHREADTITLE", "MOVEDTITLE", "SPLITTITLE", "_others"):
                assert secret not in text, secret
            ids = [f["data"].get("thread_id") for f in frames]
            assert w["hidden_thread"].pk not in ids and w["moved"].pk not in ids
            rows = [f for f in frames if f["data"].get("thread_id") == w["thread"].pk]
            assert [f["event"] for f in rows] == ["thread.created"]
            await sock.close()
        # The board's moderator still gets the hidden thread's row, marked.
        sock = await open_socket(w["mod"])
        frames = await _catch_up(sock, f"board:{w['public'].pk}", last_id=0)
        rows = [f for f in frames if f["data"].get("thread_id") == w["hidden_thread"].pk]
        assert [(f["event"], f["data"]["is_hidden"]) for f in rows] == [("thread.created", True)]
        await sock.close()

    run(main)


def test_a_page_load_replay_is_filtered_too():
    w = _world()

    async def main():
        visitor = await open_socket()
        frames = await _catch_up(visitor, f"thread:{w['thread'].pk}", since_ms=60_000)
        text = _texts(frames)
        assert frames, "the page-load window covers the whole world built just now"
        for secret in ("HIDDENBODY", "DELETEDBODY", "ORIGINALEDITSECRET", "SPLITBODY"):
            assert secret not in text, secret
        await visitor.close()

    run(main)


def test_an_inbox_replay_drops_notifications_the_member_may_no_longer_see():
    mod, maria, james = make_member("mod"), make_member("maria"), make_member("james")
    group = make_group("Board members", mod)
    public = make_board("Networking", moderators=[mod])
    room = make_board("Board Room", visibility=Visibility.GROUPS, groups=[group], moderators=[mod])
    thread = make_thread(public, maria, title="PRIVATELATER meetup plans")
    make_reply(thread, james, "Count me in")
    other = make_thread(public, maria, title="Stays public")
    make_reply(other, james, "Me too")
    moderation.move_thread(mod, thread, board=room)

    async def main():
        sock = await open_socket(maria)
        frames = await _catch_up(sock, f"inbox:{maria.pk}", last_id=0)
        created = [f for f in frames if f["event"] == "notification.created"]
        texts = _texts(created)
        assert "Stays public" in texts
        assert "PRIVATELATER" not in texts
        await sock.close()

    run(main)
