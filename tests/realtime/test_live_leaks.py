"""What the live layer must not tell a socket (issue 7 point 5, issue 4 points 1 and 6):

* report counts of boards the moderator does not moderate (the `mod:all` stream);
* anything naming a hidden or deleted thread on a board stream, for members who may not see it;
* and a subscribe that fails on the server (database down) names its stream and leaves no
  half-made subscription behind (its events would be held back for ever).
"""

from __future__ import annotations

import pytest

from forum import actions, moderation
from forum.models import Visibility
from realtime import access
from realtime.hub import get_hub
from realtime.streams import group_name
from tests.conftest import make_board, make_group, make_member, make_reply, make_staff, make_thread
from tests.realtime.conftest import db, open_socket, run

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "Layoffs at the Fresno site"


def _assert_no_mention(frames: list[dict], *needles: str) -> None:
    import json

    for frame in frames:
        text = json.dumps(frame)
        for needle in needles:
            assert needle not in text, f"{needle!r} leaked in {frame}"


# ---------------------------------------------------------------- report counts


def _report_world():
    """A public board and a private one, each with its own moderator; a staff member."""
    insider, reporter = make_member(), make_member()
    public_mod, private_mod = make_member(), make_member()
    group = make_group("Directors", insider, reporter, private_mod)
    public = make_board(moderators=[public_mod])
    private = make_board(visibility=Visibility.GROUPS, groups=[group], moderators=[private_mod])
    public_post = make_reply(make_thread(public, insider), insider, "Public reply")
    private_post = make_reply(make_thread(private, insider), insider, "Private reply")
    return public, private, public_post, private_post, public_mod, private_mod, reporter


def test_report_counts_reach_a_board_moderator_only_for_boards_they_moderate():
    public, private, public_post, private_post, public_mod, private_mod, reporter = _report_world()
    staff = make_staff()
    second = make_member()
    second.groups.add(private.visible_groups.get())

    async def main():
        mod_sock = await open_socket(public_mod)
        private_sock = await open_socket(private_mod)
        staff_sock = await open_socket(staff)
        for sock in (mod_sock, private_sock, staff_sock):
            assert (await sock.subscribe("mod:all"))["type"] == "subscribed"

        # A report on the private board: its moderator and staff hear of it, the public
        # board's moderator hears nothing at all (not even an unchanged count).
        await db(moderation.report_post)(reporter, private_post, reason="spam")
        staff_first = await staff_sock.expect("event", event="reports.count")
        assert staff_first["data"] == {"open": 1, "by_board": {str(private.pk): 1}}
        private_first = await private_sock.expect("event", event="reports.count")
        assert private_first["data"] == {"open": 1, "by_board": {str(private.pk): 1}}
        await mod_sock.nothing()

        # A report on the public board: its moderator gets their own count only.
        await db(moderation.report_post)(reporter, public_post, reason="spam")
        mine = await mod_sock.expect("event", event="reports.count")
        assert mine["data"] == {"open": 1, "by_board": {str(public.pk): 1}}
        assert mine["id"] == staff_first["id"] + 1
        everything = await staff_sock.expect("event", event="reports.count")
        assert everything["data"]["open"] == 2
        assert everything["data"]["by_board"] == {str(public.pk): 1, str(private.pk): 1}
        await private_sock.nothing()  # the private board's count did not change

        # Resuming from before both reports replays only what concerns this moderator.
        late = await open_socket(public_mod)
        await late.send({"type": "subscribe", "stream": "mod:all", "last_id": 0})
        replayed = await late.expect("event", event="reports.count")
        assert replayed["data"] == {"open": 1, "by_board": {str(public.pk): 1}}
        assert replayed["id"] == mine["id"]
        assert (await late.expect("subscribed"))["last_id"] == mine["id"]

        # A socket subscribing now starts from the counts it already has: another report on
        # the private board sends it nothing either.
        fresh = await open_socket(public_mod)
        assert (await fresh.subscribe("mod:all"))["last_id"] == mine["id"]
        await db(moderation.report_post)(second, private_post, reason="off_topic")
        assert (await staff_sock.expect("event", event="reports.count"))["data"]["by_board"][
            str(private.pk)
        ] == 1  # one post with open reports, two reports
        await private_sock.nothing()
        for sock in (mod_sock, late, fresh):
            await sock.nothing()
        _assert_no_mention(mod_sock.frames + late.frames + fresh.frames, f'"{private.pk}":')
        _assert_no_mention(private_sock.frames, f'"{public.pk}":')
        for sock in (mod_sock, private_sock, staff_sock, late, fresh):
            await sock.close()

    run(main)


def test_report_counts_follow_a_change_of_moderated_boards():
    public, private, public_post, private_post, public_mod, private_mod, reporter = _report_world()

    async def main():
        sock = await open_socket(public_mod)
        assert (await sock.subscribe("mod:all"))["type"] == "subscribed"
        await db(moderation.report_post)(reporter, private_post, reason="spam")
        await sock.nothing()
        # Made a moderator of the private board too (the admin's change re-checks sockets).
        await db(private.moderators.add)(public_mod)
        from realtime.publish import disconnect_member

        await db(disconnect_member)(public_mod.pk, reason="permissions_changed")
        await db(moderation.report_post)(reporter, public_post, reason="spam")
        event = await sock.expect("event", event="reports.count")
        assert event["data"] == {
            "open": 2,
            "by_board": {str(public.pk): 1, str(private.pk): 1},
        }
        await sock.close()

    run(main)


# ---------------------------------------------------------------- board streams


def _board_world():
    moderator, author, reader = make_member(), make_member(), make_member()
    board = make_board(moderators=[moderator])
    other = make_board(moderators=[moderator])
    thread = make_thread(board, author, title="Advisory committee agendas")
    return board, other, thread, moderator, author, reader


def test_hidden_thread_events_name_it_to_moderators_only():
    board, _, thread, moderator, author, reader = _board_world()
    stream = f"board:{board.pk}"

    async def main():
        mod_sock = await open_socket(moderator)
        reader_sock = await open_socket(reader)
        visitor_sock = await open_socket()
        for sock in (mod_sock, reader_sock, visitor_sock):
            assert (await sock.subscribe(stream))["type"] == "subscribed"

        # Hidden: the moderator gets the row, marked; the others only lose the row they had.
        await db(moderation.hide_thread)(moderator, thread, reason="Duplicate")
        hidden = await mod_sock.expect("event", event="thread.updated")
        assert hidden["data"]["is_hidden"] is True
        assert hidden["data"]["title"] == "Advisory committee agendas"
        assert "_others" not in hidden["data"]
        for sock in (reader_sock, visitor_sock):
            removed = await sock.expect("event")
            assert removed == {
                "type": "event",
                "stream": stream,
                "id": hidden["id"],
                "event": "thread.removed",
                "data": {"thread_id": thread.pk},
            }

        # Renamed while hidden, replied to by a moderator, locked, deleted: moderators only.
        await db(moderation.rename_thread)(moderator, thread, title=SECRET)
        renamed = await mod_sock.expect("event", event="thread.updated")
        assert renamed["data"]["title"] == SECRET
        await db(make_reply)(thread, moderator, "Moderators only")
        assert (await mod_sock.expect("event", event="thread.updated"))["data"]["reply_count"]
        await db(moderation.lock_thread)(moderator, thread)
        await mod_sock.expect("event", event="thread.updated")
        await db(moderation.delete_thread)(moderator, thread)
        deleted = await mod_sock.expect("event", event="thread.updated")
        assert deleted["data"]["is_deleted"] is True
        for sock in (reader_sock, visitor_sock):
            await sock.nothing()

        # Restored (still deleted): nothing; undeleted: every viewer gets the row again.
        await db(moderation.restore_thread)(moderator, thread)
        await mod_sock.expect("event", event="thread.updated")
        await reader_sock.nothing()
        await db(moderation.restore_deleted_thread)(moderator, thread)
        back = await mod_sock.expect("event", event="thread.updated")
        assert (await reader_sock.expect("event")) == back
        assert (await visitor_sock.expect("event")) == back
        assert back["data"]["title"] == SECRET and back["data"]["is_hidden"] is False

        # A member who resumes from before the hide is replayed the row as it is now, once
        # (forum.live.replay_view), and nothing of what happened while it was hidden.
        late = await open_socket(reader)
        await late.send({"type": "subscribe", "stream": stream, "last_id": hidden["id"] - 1})
        assert await late.expect("event") == back
        assert (await late.expect("subscribed"))["last_id"] == back["id"]

        # Before the thread was restored, nothing named it to a non-moderator.
        for sock in (reader_sock, visitor_sock):
            assert sock.frames[-1] == back
            _assert_no_mention(sock.frames[:-1], SECRET, "Advisory committee")
        for sock in (reader_sock, visitor_sock, late):
            _assert_no_mention(sock.frames, "Moderators only", "_others")
        _assert_no_mention(mod_sock.frames, "_others")
        for sock in (mod_sock, reader_sock, visitor_sock, late):
            await sock.close()

    run(main)


def test_hidden_thread_moved_between_boards_is_invisible_to_members_of_both():
    board, other, thread, moderator, author, reader = _board_world()

    async def main():
        await db(moderation.hide_thread)(moderator, thread, reason="Spam")
        mod_sock = await open_socket(moderator)
        reader_sock = await open_socket(reader)
        for sock in (mod_sock, reader_sock):
            for b in (board, other):
                assert (await sock.subscribe(f"board:{b.pk}"))["type"] == "subscribed"
        await db(moderation.move_thread)(moderator, thread, board=other)
        arrived = await mod_sock.expect("event", stream=f"board:{other.pk}")
        assert arrived["event"] == "thread.updated" and arrived["data"]["board_id"] == other.pk
        left = await mod_sock.expect("event", stream=f"board:{board.pk}")
        assert left["event"] == "thread.removed"
        await reader_sock.nothing()
        for sock in (mod_sock, reader_sock):
            await sock.close()

    run(main)


def test_new_thread_and_reply_still_reach_every_board_viewer():
    board, _, thread, moderator, author, reader = _board_world()

    async def main():
        sock = await open_socket(reader)
        assert (await sock.subscribe(f"board:{board.pk}"))["type"] == "subscribed"
        await db(make_reply)(thread, author, "Visible reply")
        updated = await sock.expect("event", event="thread.updated")
        assert updated["data"]["title"] == "Advisory committee agendas"
        created = await db(make_thread)(board, author, "Dual enrollment")
        frame = await sock.expect("event", event="thread.created")
        assert frame["data"]["thread_id"] == created.pk and frame["data"]["title"] == (
            "Dual enrollment"
        )
        await sock.close()

    run(main)


# ---------------------------------------------------------------- failed subscribes


def _broken(*args, **kwargs):
    raise RuntimeError("database unreachable")


@pytest.mark.parametrize("fails", ["may_subscribe", "may_type", "last_seq", "events_since"])
def test_failed_subscribe_names_the_stream_and_leaves_nothing_behind(monkeypatch, fails):
    board = make_board()
    author = make_member()
    thread = make_thread(board, author)
    stream = f"thread:{thread.pk}"

    async def main():
        sock = await open_socket(author)
        with monkeypatch.context() as patch:
            patch.setattr(access, fails, _broken)
            await sock.send({"type": "subscribe", "stream": stream})
            error = await sock.expect("error")
        assert error["code"] == "server_error"
        assert error["stream"] == stream
        # No half-made subscription: not followed, not joined, nothing held back.
        assert group_name(stream) not in get_hub().groups
        await db(make_reply)(thread, author, "Posted while the subscription was broken")
        await sock.nothing()
        await sock.send({"type": "unsubscribe", "stream": stream})
        assert (await sock.expect("error"))["code"] == "not_subscribed"
        # The client's retry, resuming from what it had, gets what it missed, then live events.
        await sock.send({"type": "subscribe", "stream": stream, "last_id": 0})
        missed = await sock.expect("event", event="post.created")
        assert "Posted while the subscription was broken" in missed["data"]["html"]
        subscribed = await sock.expect("subscribed")
        assert subscribed["last_id"] == missed["id"]
        await db(make_reply)(thread, author, "And live again")
        assert (await sock.expect("event", event="post.created"))["id"] == missed["id"] + 1
        await sock.close()

    run(main)


@pytest.mark.parametrize("fails", ["may_subscribe", "events_after"])
def test_failed_resubscribe_ends_the_old_subscription_too(monkeypatch, fails):
    board = make_board()
    author = make_member()
    thread = make_thread(board, author)
    stream = f"board:{board.pk}"

    async def main():
        sock = await open_socket(author)
        assert (await sock.subscribe(stream))["type"] == "subscribed"
        with monkeypatch.context() as patch:
            patch.setattr(access, fails, _broken)
            await sock.send({"type": "subscribe", "stream": stream, "last_id": 1})
            error = await sock.expect("error")
        assert (error["code"], error["stream"]) == ("server_error", stream)
        assert group_name(stream) not in get_hub().groups
        await db(make_reply)(thread, author)
        await sock.nothing()
        assert (await sock.subscribe(stream, last_id=1))["type"] == "subscribed"
        await sock.close()

    run(main)


def test_moderator_board_reply_in_hidden_thread_reaches_moderator(monkeypatch):
    """Sanity: the per-subscriber view costs the moderators nothing."""
    board, _, thread, moderator, author, reader = _board_world()

    async def main():
        await db(moderation.hide_thread)(moderator, thread, reason="Spam")
        sock = await open_socket(moderator)
        assert (await sock.subscribe(f"board:{board.pk}"))["type"] == "subscribed"
        await db(actions.reply_to_thread)(moderator, thread, body="Noted")
        event = await sock.expect("event", event="thread.updated")
        assert event["data"]["is_hidden"] is True
        assert event["data"]["title"] == "Advisory committee agendas"
        await sock.close()

    run(main)


@pytest.mark.e2e
@pytest.mark.servers
def test_live_js_retries_a_subscribe_the_server_could_not_serve():
    """live.js against a real daphne: the first subscribe of the thread stream is answered with
    the server_error a database failure gives (injected between page and server); the client
    tries again by itself after a backoff, gets subscribed and then receives replies live."""
    import json

    from django.urls import reverse
    from playwright.sync_api import expect

    from tests.e2e.browser import (
        SERVER_ENV,
        assert_not_reloaded,
        chromium,
        open_live,
        post_texts,
        signed_in_context,
        watch_errors,
    )
    from tests.servers import HttpMember, session_cookie, start_servers

    board = make_board()
    author, reader = make_member(), make_member()
    thread = make_thread(board, author, title="Career fair volunteers")
    stream = f"thread:{thread.pk}"
    jar = session_cookie(reader)
    reply_url = reverse("forum:reply", args=[thread.pk])
    subscribes: list[dict] = []

    def intercept(ws):
        server = ws.connect_to_server()

        def from_page(message):
            frame = json.loads(message)
            if frame.get("type") == "subscribe" and frame.get("stream") == stream:
                subscribes.append(frame)
                if len(subscribes) == 1:
                    ws.send(
                        json.dumps(
                            {
                                "type": "error",
                                "code": "server_error",
                                "stream": stream,
                                "message": "Could not follow this right now; try again.",
                            }
                        )
                    )
                    return
            server.send(message)

        ws.on_message(from_page)

    with start_servers(1, env=SERVER_ENV) as [server]:
        author_http = HttpMember(server, author)  # database work before the browser's loop
        with chromium() as browser:
            page = signed_in_context(browser, server, jar).new_page()
            errors = watch_errors(page)
            page.route_web_socket("**/ws/", intercept)
            open_live(page, server.url + thread.get_absolute_url(), [stream])
            assert len(subscribes) == 2, subscribes
            assert "last_id" not in subscribes[1] and "since_ms" in subscribes[1]
            code, _ = author_http.post_form(reply_url, {"body": "Count me in."})
            assert code == 302, code
            expect(page.locator("#posts article.post .post-body").last).to_have_text("Count me in.")
            assert "Count me in." in post_texts(page)
            assert_not_reloaded(page)
            assert not errors, errors
