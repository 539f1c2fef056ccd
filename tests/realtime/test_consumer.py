"""The socket protocol through the real ASGI stack: subscribe, permission, resume, re-checks,
typing, presence and bad input (docs/PROTOCOL.md)."""

from __future__ import annotations

import asyncio
import json

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from forum import actions, moderation, permissions
from forum.models import Visibility
from realtime import consumers
from realtime.models import StreamEvent
from realtime.publish import disconnect_member
from tests.conftest import make_board, make_group, make_member, make_reply, make_staff, make_thread
from tests.realtime.conftest import db, open_socket, run

pytestmark = pytest.mark.django_db(transaction=True)


def _private_setup():
    insider, outsider = make_member(), make_member()
    group = make_group("Board of directors", insider)
    board = make_board(visibility=Visibility.GROUPS, groups=[group])
    thread = make_thread(board, insider)
    return board, thread, insider, outsider


# ---------------------------------------------------------------- subscribe and deliver


def test_subscribe_thread_receives_new_reply_html():
    board = make_board()
    author, reader = make_member(), make_member()
    thread = make_thread(board, author)

    async def main():
        sock = await open_socket(reader)
        frame = await sock.subscribe(f"thread:{thread.pk}")
        assert frame["type"] == "subscribed"
        post = await db(make_reply)(thread, author, "Live **hello**")
        event = await sock.expect("event")
        assert event["event"] == "post.created"
        assert event["stream"] == f"thread:{thread.pk}"
        assert event["data"]["post_id"] == post.pk
        assert "<strong>hello</strong>" in event["data"]["html"]
        assert event["id"] == frame["last_id"] + 1
        await sock.close()

    run(main)


def test_subscribe_board_receives_thread_created_and_updated():
    board = make_board()
    author = make_member()

    async def main():
        sock = await open_socket()
        assert (await sock.subscribe(f"board:{board.pk}"))["type"] == "subscribed"
        thread = await db(make_thread)(board, author, "Apprenticeship grants 2027")
        created = await sock.expect("event")
        assert created["event"] == "thread.created"
        assert created["data"]["title"] == "Apprenticeship grants 2027"
        await db(make_reply)(thread, author)
        updated = await sock.expect("event")
        assert updated["event"] == "thread.updated"
        assert updated["data"]["reply_count"] == 1
        await sock.close()

    run(main)


def test_subscribe_forbidden_thread_answers_exactly_like_missing_one():
    board, thread, insider, outsider = _private_setup()

    async def main():
        sock = await open_socket(outsider)
        forbidden = await sock.subscribe(f"thread:{thread.pk}")
        missing = await sock.subscribe("thread:987654")
        assert forbidden["type"] == missing["type"] == "error"
        assert forbidden["code"] == missing["code"] == "not_found"
        assert forbidden["message"] == missing["message"]
        forbidden_board = await sock.subscribe(f"board:{board.pk}")
        assert forbidden_board["code"] == "not_found"
        await db(make_reply)(thread, insider, "Budget talk")
        await sock.nothing()
        member_sock = await open_socket(insider)
        assert (await member_sock.subscribe(f"thread:{thread.pk}"))["type"] == "subscribed"
        await sock.close()
        await member_sock.close()

    run(main)


def test_subscribe_anonymous_gets_only_public_streams():
    public_board = make_board()
    members_board = make_board(visibility=Visibility.MEMBERS)
    author = make_member()
    public_thread = make_thread(public_board, author)
    members_thread = make_thread(members_board, author)

    async def main():
        sock = await open_socket()
        assert (await sock.subscribe(f"thread:{public_thread.pk}"))["type"] == "subscribed"
        assert (await sock.subscribe(f"thread:{members_thread.pk}"))["code"] == "not_found"
        assert (await sock.subscribe(f"board:{members_board.pk}"))["code"] == "not_found"
        assert (await sock.subscribe(f"inbox:{author.pk}"))["code"] == "not_found"
        assert (await sock.subscribe("mod:all"))["code"] == "not_found"
        await sock.close()

    run(main)


def test_subscribe_inbox_only_own_and_mod_only_moderators():
    me, other = make_member(), make_member()
    staff = make_staff()

    async def main():
        sock = await open_socket(me)
        assert (await sock.subscribe(f"inbox:{me.pk}"))["type"] == "subscribed"
        assert (await sock.subscribe(f"inbox:{other.pk}"))["code"] == "not_found"
        assert (await sock.subscribe("mod:all"))["code"] == "not_found"
        staff_sock = await open_socket(staff)
        assert (await staff_sock.subscribe("mod:all"))["type"] == "subscribed"
        await sock.close()
        await staff_sock.close()

    run(main)


def test_subscribe_stream_name_is_rebuilt_from_id():
    board = make_board()
    thread = make_thread(board, make_member())

    async def main():
        sock = await open_socket()
        frame = await sock.subscribe(f"thread:000{thread.pk}")
        assert frame == {
            "type": "subscribed",
            "stream": f"thread:{thread.pk}",
            "last_id": frame["last_id"],
            "typing": False,
        }
        for bad in ("s.thread.1", "thread:1;x", "thread:-1", "user:1", "thread:all", 5, None):
            refused = await sock.subscribe(bad)
            assert refused["type"] == "error" and refused["code"] == "not_found", bad
        await sock.close()

    run(main)


# ---------------------------------------------------------------- resume


def test_subscribe_with_last_id_replays_missed_events_in_order():
    board = make_board()
    author = make_member()
    thread = make_thread(board, author)
    stream = f"thread:{thread.pk}"
    first = make_reply(thread, author, "one")
    seen = StreamEvent.objects.get(stream=stream, payload__post_id=first.pk).seq
    later = [make_reply(thread, author, f"reply {n}") for n in range(3)]

    async def main():
        sock = await open_socket()
        await sock.send({"type": "subscribe", "stream": stream, "last_id": seen})
        events = await sock.events(3)
        assert [e["data"]["post_id"] for e in events] == [p.pk for p in later]
        assert [e["id"] for e in events] == [seen + 1, seen + 2, seen + 3]
        subscribed = await sock.expect("subscribed")
        assert subscribed["last_id"] == seen + 3
        await sock.close()

    run(main)


def test_subscribe_resume_too_far_back_sends_reset(monkeypatch):
    monkeypatch.setattr(consumers, "MAX_CATCH_UP", 2)
    board = make_board()
    author = make_member()
    thread = make_thread(board, author)
    for n in range(4):
        make_reply(thread, author, f"reply {n}")

    async def main():
        sock = await open_socket()
        await sock.send({"type": "subscribe", "stream": f"thread:{thread.pk}", "last_id": 0})
        assert (await sock.next())["type"] == "reset"
        subscribed = await sock.expect("subscribed")
        assert subscribed["last_id"] == 4
        await sock.close()

    run(main)


def test_subscribe_since_ms_replays_events_of_page_load_window():
    board = make_board()
    author = make_member()
    thread = make_thread(board, author)
    post = make_reply(thread, author, "posted while the page loaded")

    async def main():
        sock = await open_socket()
        await sock.send({"type": "subscribe", "stream": f"thread:{thread.pk}", "since_ms": 5000})
        event = await sock.expect("event")
        assert event["data"]["post_id"] == post.pk
        await sock.expect("subscribed")
        other = await open_socket()
        await other.send({"type": "subscribe", "stream": f"thread:{thread.pk}"})
        frame = await other.next()
        assert frame["type"] == "subscribed"  # no since_ms: nothing replayed
        await sock.close()
        await other.close()

    run(main)


def test_socket_closed_mid_burst_resumes_without_loss_or_duplicate():
    board = make_board()
    author = make_member()
    thread = make_thread(board, author)
    stream = f"thread:{thread.pk}"
    total = 40

    async def main():
        sock = await open_socket()
        start = (await sock.subscribe(stream))["last_id"]
        received: list[dict] = []

        async def burst():
            for n in range(total):
                await db(make_reply)(thread, author, f"burst {n}")
                await asyncio.sleep(0)

        writer = asyncio.ensure_future(burst())
        while len(received) < 10:
            received.append(await sock.expect("event", timeout=5))
        await sock.close()  # in the middle of the burst
        await asyncio.sleep(0.05)
        sock = await open_socket()
        await sock.send({"type": "subscribe", "stream": stream, "last_id": received[-1]["id"]})
        await writer
        while len([e for e in received if e["event"] == "post.created"]) < total:
            received.append(await sock.expect("event", timeout=5))
        await sock.nothing(0.3)
        ids = [e["id"] for e in received]
        assert ids == list(range(start + 1, start + total + 1))
        numbers = [e["data"]["number"] for e in received]
        assert numbers == list(range(2, total + 2))
        await sock.close()

    run(main)


# ---------------------------------------------------------------- permission re-checks


def test_thread_hidden_unsubscribes_members_but_not_moderators():
    moderator = make_member()
    board = make_board(moderators=[moderator])
    author, reader = make_member(), make_member()
    thread = make_thread(board, author)
    stream = f"thread:{thread.pk}"

    async def main():
        reader_sock = await open_socket(reader)
        mod_sock = await open_socket(moderator)
        await reader_sock.subscribe(stream)
        await mod_sock.subscribe(stream)
        await db(moderation.hide_thread)(moderator, thread, reason="Off-topic spam")
        closed = await reader_sock.expect("error")
        assert closed == {
            "type": "error",
            "code": "stream_closed",
            "stream": stream,
            "message": closed["message"],
        }
        changed = await mod_sock.expect("event", event="thread.changed")
        assert changed["data"]["is_hidden"] is True
        await db(make_reply)(thread, moderator, "Still here, moderators only")
        await mod_sock.expect("event", event="post.created")
        await reader_sock.nothing(ignore=("presence", "typing"))
        await reader_sock.close()
        await mod_sock.close()

    run(main)


def test_thread_moved_to_private_board_unsubscribes_outsiders():
    staff = make_staff()
    insider, outsider = make_member(), make_member()
    group = make_group("Regional leads", insider)
    public, private = make_board(), make_board(visibility=Visibility.GROUPS, groups=[group])
    thread = make_thread(public, insider)
    stream = f"thread:{thread.pk}"

    async def main():
        out_sock, in_sock = await open_socket(outsider), await open_socket(insider)
        await out_sock.subscribe(stream)
        await in_sock.subscribe(stream)
        await db(moderation.move_thread)(staff, thread, board=private)
        assert (await out_sock.expect("error"))["code"] == "stream_closed"
        moved = await in_sock.expect("event", event="thread.changed")
        assert moved["data"]["board_id"] == private.pk
        await out_sock.close()
        await in_sock.close()

    run(main)


def test_member_revoke_after_sign_out_closes_socket_with_4001():
    member = make_member()
    board = make_board(visibility=Visibility.MEMBERS)
    thread = make_thread(board, member)

    async def main():
        sock = await open_socket(member)
        await sock.subscribe(f"thread:{thread.pk}")
        await sock.subscribe(f"inbox:{member.pk}")

        def sign_out():
            Session.objects.all().delete()
            disconnect_member(member.pk, reason="signed_out")

        await db(sign_out)()
        closing = await sock.expect("closing", timeout=5)
        assert closing["code"] == consumers.CLOSE_SESSION_ENDED
        assert (await sock.next(5)) == {"type": "__closed__", "code": 4001}

    run(main)


def test_member_revoke_after_password_change_closes_other_sessions_only():
    member = make_member()

    async def main():
        kept = await open_socket(member)
        other = await open_socket(member)

        def change_password():
            from django.contrib.auth import HASH_SESSION_KEY

            member.set_password("a-new-long-password-7")
            member.save()
            # The session that changed the password keeps going (update_session_auth_hash).
            kept_key = Session.objects.order_by("expire_date").first().session_key
            from django.contrib.sessions.backends.db import SessionStore

            store = SessionStore(kept_key)
            store[HASH_SESSION_KEY] = member.get_session_auth_hash()
            store.save()
            disconnect_member(member.pk, reason="password_changed", keep_session=kept_key)

        await db(change_password)()
        closing = await other.expect("closing", timeout=5)
        assert closing["reason"] == "password_changed"
        await kept.send({"type": "ping"})
        assert (await kept.expect("pong"))["type"] == "pong"
        await kept.close()

    run(main)


def test_member_revoke_after_suspension_closes_socket():
    member = make_member()

    async def main():
        sock = await open_socket(member)
        await sock.subscribe(f"inbox:{member.pk}")

        def suspend():
            member.suspended_until = timezone.now() + timezone.timedelta(days=3)
            member.save()
            disconnect_member(member.pk, reason="suspended")

        await db(suspend)()
        closing = await sock.expect("closing", timeout=5)
        assert closing["code"] == 4001
        # Still signed in: the client is told it is a suspension (and until when), so that it
        # reconnects as a reader instead of saying the session ended.
        assert closing["reason"] == "suspended"
        assert closing["member"]["suspended"] is True
        assert closing["member"]["may_post"] is False
        assert closing["member"]["suspended_until"] == member.suspended_until.isoformat()
        # Reconnecting, the suspended member no longer gets the (private) inbox.
        again = await open_socket(member)
        assert again.hello["user_id"] == member.pk
        assert again.hello["member"]["suspended"] is True
        assert (await again.subscribe(f"inbox:{member.pk}"))["code"] == "not_found"
        await again.close()

    run(main)


def test_member_revoke_of_a_suspended_member_says_suspended_whatever_the_action():
    member = make_member()
    member.suspended_until = timezone.now() + timezone.timedelta(days=3)
    member.save()

    async def main():
        sock = await open_socket(member)  # a suspended member reads (public streams)
        await db(disconnect_member)(member.pk, reason="silenced")
        closing = await sock.expect("closing", timeout=5)
        assert (closing["code"], closing["reason"]) == (4001, "suspended")

    run(main)


def test_member_revoke_that_keeps_the_socket_tells_the_client_its_state():
    """Silenced, then lifted; suspension lifted: the socket stays open and gets `member`."""
    member, staff = make_member(), make_staff()

    async def main():
        sock = await open_socket(member)
        assert sock.hello["member"] == {
            "may_post": True,
            "suspended": False,
            "suspended_until": None,
            "silenced": False,
            "silenced_until": None,
            "suspended_until_text": None,
            "silenced_until_text": None,
        }
        until = timezone.now() + timezone.timedelta(days=2)
        await db(moderation.silence_member)(staff, member, until=until, reason="Heat")
        frame = await sock.expect("member", timeout=5)
        assert frame["reason"] == "silenced"
        assert frame["member"]["silenced"] is True and frame["member"]["may_post"] is True
        assert frame["member"]["silenced_until"] == until.isoformat()
        # The same words the pages use (the site's time zone), not the browser's.
        assert frame["member"]["silenced_until_text"] == permissions.local_time(until)
        assert frame["member"]["silenced_until_text"].endswith(("PST", "PDT"))
        await db(moderation.lift_silence)(staff, member)
        frame = await sock.expect("member", timeout=5)
        assert frame["reason"] == "unsilenced" and frame["member"]["silenced"] is False
        await sock.close()

        member.suspended_until = timezone.now() + timezone.timedelta(days=3)
        await db(member.save)()
        reader = await open_socket(member)
        await db(moderation.lift_suspension)(staff, member)
        frame = await reader.expect("member", timeout=5)
        assert frame["reason"] == "unsuspended"
        assert frame["member"]["suspended"] is False and frame["member"]["may_post"] is True
        await reader.close()

    run(main)


def test_member_revoke_after_group_removal_drops_private_stream():
    board, thread, insider, _ = _private_setup()

    async def main():
        sock = await open_socket(insider)
        await sock.subscribe(f"thread:{thread.pk}")
        await sock.subscribe(f"inbox:{insider.pk}")

        def leave_group():
            insider.groups.clear()
            disconnect_member(insider.pk, reason="permissions_changed")

        await db(leave_group)()
        closed = await sock.expect("error", timeout=5)
        assert closed["code"] == "stream_closed" and closed["stream"] == f"thread:{thread.pk}"
        await sock.send({"type": "ping"})
        await sock.expect("pong")  # still connected, inbox kept
        await sock.close()

    run(main)


# ---------------------------------------------------------------- typing and presence


def test_typing_relayed_to_others_throttled_and_refused_to_visitors():
    board = make_board()
    maria, james = make_member(display_name="Maria"), make_member(display_name="James")
    thread = make_thread(board, maria)
    stream = f"thread:{thread.pk}"

    async def main():
        m, j, anon = await open_socket(maria), await open_socket(james), await open_socket()
        for sock in (m, j, anon):
            await sock.subscribe(stream)
        await m.send({"type": "typing", "stream": stream})
        typing = await j.expect("typing")
        assert typing["name"] == "Maria" and typing["user_id"] == maria.pk
        assert (await anon.expect("typing"))["name"] == "Maria"
        await m.send({"type": "typing", "stream": stream})  # within 2 s: not relayed again
        await j.nothing(ignore=("presence",))
        await m.nothing(ignore=("presence",))  # never to the typist
        await anon.send({"type": "typing", "stream": stream})
        assert (await anon.expect("error"))["code"] == "not_allowed"
        for sock in (m, j, anon):
            await sock.close()

    run(main)


def test_presence_counts_members_and_drops_leavers():
    board = make_board()
    maria, james = make_member(display_name="Maria"), make_member(display_name="James")
    thread = make_thread(board, maria)
    stream = f"thread:{thread.pk}"

    async def main():
        m = await open_socket(maria)
        await m.subscribe(stream)
        j = await open_socket(james)
        await j.subscribe(stream)
        deadline = asyncio.get_running_loop().time() + 3
        presence = await m.expect("presence")
        while presence["count"] != 2 and asyncio.get_running_loop().time() < deadline:
            presence = await m.expect("presence")
        assert presence["count"] == 2 and presence["names"] == ["James", "Maria"]
        await j.close()
        presence = await m.expect("presence", timeout=3)
        assert presence["count"] == 1 and presence["names"] == ["Maria"]
        await m.close()

    run(main)


# ---------------------------------------------------------------- moderator-only views


def test_post_changed_for_hidden_post_carries_no_html():
    moderator = make_member()
    board = make_board(moderators=[moderator])
    author = make_member()
    thread = make_thread(board, author)
    post = make_reply(thread, author, "Something to hide")

    async def main():
        sock = await open_socket()
        await sock.subscribe(f"thread:{thread.pk}")
        await db(moderation.hide_post)(moderator, post, reason="Spam")
        changed = await sock.expect("event", event="post.changed")
        assert changed["data"]["visible"] is False
        assert "html" not in changed["data"]
        assert "Something to hide" not in json.dumps(changed)
        await sock.close()

    run(main)


def test_reaction_event_carries_counts():
    board = make_board()
    author, fan = make_member(), make_member()
    thread = make_thread(board, author)
    post = make_reply(thread, author)

    async def main():
        sock = await open_socket()
        await sock.subscribe(f"thread:{thread.pk}")
        await db(actions.react)(fan, post, "thanks")
        event = await sock.expect("event", event="post.reactions")
        assert event["data"] == {"post_id": post.pk, "counts": {"thanks": 1}}
        await sock.close()

    run(main)
