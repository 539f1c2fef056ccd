"""Notifications: who is told what, collapsing, preferences, caps, live events, the inbox."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail
from django.db import transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from forum import actions, notifications
from forum.models import (
    BoardWatch,
    Notification,
    NotificationKind,
    ThreadWatch,
    Visibility,
    WatchLevel,
)
from realtime.models import StreamEvent
from tests.conftest import (
    client_for,
    make_board,
    make_group,
    make_member,
    make_reply,
    make_staff,
    make_thread,
)

K = NotificationKind
pytestmark = pytest.mark.django_db


def kinds_for(user) -> list[str]:
    return list(Notification.objects.filter(recipient=user).values_list("kind", flat=True))


def forum_settings(**overrides):
    from django.conf import settings

    return override_settings(FORUM={**settings.FORUM, **overrides})


# ---------------------------------------------------------------- each kind


def test_notify_reply_tells_thread_author(thread, member, other_member):
    post = make_reply(thread, other_member, "I agree with this.")
    n = Notification.objects.get(recipient=member)
    assert n.kind == K.REPLY
    assert n.post == post and n.actor == other_member and n.thread == thread
    assert n.text == f"{other_member.name} replied to “{thread.title}”"


def test_notify_reply_never_tells_author_of_own_post(thread, member):
    make_reply(thread, member, "Adding a detail to my own thread, @maria.")
    assert not Notification.objects.filter(recipient=member).exists()


def test_notify_reply_quoting_tells_quoted_author(board, member, other_member):
    thread = make_thread(board, other_member)
    first = make_reply(thread, member, "My point about pathways.")
    third = make_member("lee")
    body = f"> [@{member.username} wrote](/p/{first.pk}/):\n> My point about pathways.\n\nYes."
    make_reply(thread, third, body)
    n = Notification.objects.get(recipient=member)
    assert n.kind == K.QUOTE
    assert n.text == f"{third.name} quoted you in “{thread.title}”"


def test_notify_reply_mention_tells_mentioned_member(thread, other_member):
    lee = make_member("lee")
    make_reply(thread, other_member, "What do you think, @lee?")
    assert kinds_for(lee) == [K.MENTION]


def test_notify_reply_tells_thread_watchers(thread, other_member):
    watcher = make_member("watcher")
    actions.set_thread_watch(watcher, thread, WatchLevel.WATCHING)
    make_reply(thread, other_member, "News.")
    assert kinds_for(watcher) == [K.WATCHED_THREAD]


def test_notify_reply_skips_normal_level_repliers(thread, member, other_member):
    make_reply(thread, other_member, "First reply.")  # other_member now NORMAL
    make_reply(thread, make_member("lee"), "Second reply.")
    assert not Notification.objects.filter(recipient=other_member).exists()


def test_notify_new_thread_tells_board_watchers(board, member, other_member):
    actions.set_board_watch(other_member, board, WatchLevel.WATCHING)
    thread = make_thread(board, member, title="Work-based learning grants")
    n = Notification.objects.get(recipient=other_member)
    assert n.kind == K.WATCHED_BOARD and n.thread == thread and n.board == board
    assert n.text == f"{member.name} started “Work-based learning grants” in {board.name}"


def test_notify_new_thread_mentions_in_first_post(board, member, other_member):
    thread = make_thread(board, member, body="Hello @james, see this.")
    assert kinds_for(other_member) == [K.MENTION]
    thread.refresh_from_db()
    assert thread.posts.get(number=1).mentioned_user_ids == [other_member.id]


def test_notify_moderation_tells_content_author(thread, member):
    moderator = make_staff("mod")
    post = thread.posts.get(number=1)
    notifications.notify_moderation(member, moderator, "hid your post", thread=thread, post=post)
    n = Notification.objects.get(recipient=member)
    assert n.kind == K.MODERATION
    assert n.text == f"A moderator hid your post in “{thread.title}”."
    assert n.post == post


def test_notify_moderation_on_content_member_cannot_see_links_nowhere(board, member):
    thread = make_thread(board, member)
    moderator = make_staff("mod")
    thread.is_hidden = True
    thread.save()
    notifications.notify_moderation(member, moderator, "hid your thread", thread=thread)
    n = Notification.objects.get(recipient=member)
    assert n.thread is None and n.post is None and n.board is None
    assert notifications.target_url(n) == reverse("notifications:inbox")


def test_notify_membership_approved_tells_member(db):
    from accounts.actions import approve_member

    pending = make_member("newbie", approved=False)
    approve_member(make_staff("boss"), pending)
    n = Notification.objects.get(recipient=pending)
    assert n.kind == K.MEMBERSHIP
    assert notifications.target_url(n) == reverse("forum:index")


def test_notify_report_resolved_tells_reporter(thread, member, other_member):
    post = thread.posts.get(number=1)
    notifications.notify_report_resolved(other_member, post, "post hidden")
    n = Notification.objects.get(recipient=other_member)
    assert n.kind == K.REPORT_RESOLVED
    assert n.text == f"Your report on a post in “{thread.title}” was resolved: post hidden."


# ---------------------------------------------------------------- one per post, priority, mute


def test_notify_reply_one_notification_per_post_mention_wins(thread, member, other_member):
    actions.set_thread_watch(member, thread, WatchLevel.WATCHING)
    first = thread.posts.get(number=1)
    body = f"> [@maria wrote](/p/{first.pk}/):\n> First post body.\n\nRight, @maria."
    make_reply(thread, other_member, body)
    assert kinds_for(member) == [K.MENTION]


def test_notify_reply_quote_beats_reply(thread, member, other_member):
    first = thread.posts.get(number=1)
    make_reply(thread, other_member, f"> [@maria wrote](/p/{first.pk}/):\n> First.\n\nYes.")
    assert kinds_for(member) == [K.QUOTE]


def test_notify_reply_turned_off_kind_falls_through(thread, member, other_member):
    notifications.update_preferences(member, {K.MENTION: "off"})
    make_reply(thread, other_member, "Hey @maria.")
    assert kinds_for(member) == [K.REPLY]


def test_notify_reply_muted_thread_suppresses_everything(thread, member, other_member):
    actions.set_thread_watch(member, thread, WatchLevel.MUTED)
    first = thread.posts.get(number=1)
    make_reply(thread, other_member, f"> [@maria wrote](/p/{first.pk}/):\n> x\n\n@maria hi")
    notifications.notify_moderation(member, make_staff("mod"), "locked your thread", thread=thread)
    assert not Notification.objects.filter(recipient=member).exists()


def test_notify_muted_board_suppresses_everything(board, member, other_member):
    thread = make_thread(board, member)
    actions.set_board_watch(member, board, WatchLevel.MUTED)
    actions.set_board_watch(other_member, board, WatchLevel.MUTED)
    make_reply(thread, other_member, "Reply with @maria")
    make_thread(board, member, title="Another thread here", body="Ping @james")
    assert not Notification.objects.filter(recipient__in=[member, other_member]).exists()


# ---------------------------------------------------------------- collapsing


def test_notify_reply_collapses_unread_replies(thread, member, other_member):
    lee, ana = make_member("lee", display_name="Lee"), make_member("ana", display_name="Ana")
    make_reply(thread, other_member, "one")
    make_reply(thread, lee, "two")
    last = make_reply(thread, ana, "three")
    n = Notification.objects.get(recipient=member)
    assert n.count == 3 and n.actor == ana and n.post == last
    assert n.text == f"Ana and 2 others replied to “{thread.title}”"


def test_notify_reply_same_author_collapses_with_count(thread, member, other_member):
    make_reply(thread, other_member, "one")
    make_reply(thread, other_member, "two")
    n = Notification.objects.get(recipient=member)
    assert n.count == 2
    assert n.text == f"{other_member.name} wrote 2 replies to “{thread.title}”"


def test_notify_reply_after_read_starts_new_notification(thread, member, other_member):
    make_reply(thread, other_member, "one")
    notifications.mark_all_read(member)
    make_reply(thread, other_member, "two")
    rows = list(Notification.objects.filter(recipient=member).order_by("id"))
    assert [(r.is_read, r.count) for r in rows] == [(True, 1), (False, 1)]


def test_notify_new_thread_collapses_per_board(board, member, other_member):
    actions.set_board_watch(other_member, board, WatchLevel.WATCHING)
    make_thread(board, member, title="First new thread")
    make_thread(board, member, title="Second new thread")
    n = Notification.objects.get(recipient=other_member)
    assert n.count == 2
    assert n.text == f"2 new threads in {board.name}, latest “Second new thread” by {member.name}"


# ---------------------------------------------------------------- mentions: caps, code, edits


def test_notify_reply_mentions_capped_at_ten(thread, other_member):
    members = [make_member(f"person{i}") for i in range(12)]
    body = " ".join(f"@{m.username}" for m in members)
    post = make_reply(thread, other_member, body)
    told = Notification.objects.filter(kind=K.MENTION).values_list("recipient_id", flat=True)
    assert sorted(told) == sorted(m.id for m in members[:10])
    post.refresh_from_db()
    assert len(post.mentioned_user_ids) == 10


def test_notify_reply_mention_cap_is_configurable(thread, other_member):
    members = [make_member(f"person{i}") for i in range(4)]
    with forum_settings(MAX_MENTIONS_NOTIFIED=2):
        make_reply(thread, other_member, " ".join(f"@{m.username}" for m in members))
    assert Notification.objects.filter(kind=K.MENTION).count() == 2


def test_notify_reply_mentions_in_code_ignored(thread, other_member):
    lee, ana = make_member("lee"), make_member("ana")
    make_reply(thread, other_member, "Run `@lee` like so:\n\n```\n@ana\n```\n\n    @ana again")
    assert not Notification.objects.filter(recipient__in=[lee, ana]).exists()


def test_notify_edit_tells_only_newly_mentioned(thread, other_member):
    lee, ana = make_member("lee"), make_member("ana")
    post = make_reply(thread, other_member, "Hi @lee")
    actions.edit_post(other_member, post, body="Hi @lee and @ana")
    assert kinds_for(lee) == [K.MENTION]
    assert kinds_for(ana) == [K.MENTION]
    post.refresh_from_db()
    assert sorted(post.mentioned_user_ids) == sorted([lee.id, ana.id])


def test_notify_edit_repeated_never_tells_twice(thread, other_member):
    lee, ana = make_member("lee"), make_member("ana")
    post = make_reply(thread, other_member, "Hi @lee")
    for body in ["Hi", "Hi @lee @ana", "Hi", "Hi @ana", "Hi @lee @ana !"]:
        actions.edit_post(other_member, post, body=body)
    assert Notification.objects.filter(recipient=lee).count() == 1
    assert Notification.objects.filter(recipient=ana).count() == 1


def test_notify_edit_keeps_post_cap_across_edits(thread, other_member):
    members = [make_member(f"person{i}") for i in range(12)]
    post = make_reply(thread, other_member, " ".join(f"@{m.username}" for m in members[:9]))
    actions.edit_post(other_member, post, body=" ".join(f"@{m.username}" for m in members))
    assert Notification.objects.filter(kind=K.MENTION).count() == 10


def test_notify_edit_does_not_mention_member_already_told_of_post(thread, member, other_member):
    post = make_reply(thread, other_member, "A plain reply.")
    actions.edit_post(other_member, post, body="A plain reply, @maria.")
    assert kinds_for(member) == [K.REPLY]


def test_notify_reply_private_board_mention_of_outsider_sends_nothing(db):
    insider, outsider = make_member("insider"), make_member("outsider")
    board = make_board(
        "Staff room", visibility=Visibility.GROUPS, groups=[make_group("Council", insider)]
    )
    thread = make_thread(board, insider, body="Secret plans, @outsider")
    make_reply(thread, insider, "More secrets @outsider")
    actions.set_board_watch(insider, board, WatchLevel.NORMAL)
    assert not Notification.objects.filter(recipient=outsider).exists()
    assert not StreamEvent.objects.filter(stream=f"inbox:{outsider.id}").exists()
    assert thread.posts.get(number=1).mentioned_user_ids == []


def test_notify_reply_board_watcher_who_lost_access_told_nothing(db):
    insider, leaver = make_member("insider"), make_member("leaver")
    group = make_group("Council", insider, leaver)
    board = make_board("Council room", visibility=Visibility.GROUPS, groups=[group])
    thread = make_thread(board, insider)
    actions.set_thread_watch(leaver, thread, WatchLevel.WATCHING)
    actions.set_board_watch(leaver, board, WatchLevel.WATCHING)
    leaver.groups.remove(group)
    make_reply(thread, make_member("x", is_staff=True), "Reply")
    make_thread(board, insider, title="Another council thread")
    assert not Notification.objects.filter(recipient=leaver).exists()


# ---------------------------------------------------------------- daily caps


def test_notify_sender_daily_cap_drops_over_cap(thread, other_member, caplog):
    members = [make_member(f"person{i}") for i in range(5)]
    with forum_settings(NOTIFY_SENDER_DAILY_CAP=3):
        make_reply(thread, other_member, " ".join(f"@{m.username}" for m in members[:2]))
        post = make_reply(thread, other_member, " ".join(f"@{m.username}" for m in members[2:]))
    assert Notification.objects.filter(kind=K.MENTION).count() == 3
    post.refresh_from_db()
    assert len(post.mentioned_user_ids) == 1
    assert "over the daily cap" in caplog.text


def test_notify_sender_cap_falls_back_to_reply(thread, member, other_member):
    with forum_settings(NOTIFY_SENDER_DAILY_CAP=0):
        make_reply(thread, other_member, "@maria look")
    assert kinds_for(member) == [K.REPLY]


def test_notify_recipient_daily_cap_drops_over_cap(board, member, caplog):
    senders = [make_member(f"sender{i}") for i in range(4)]
    with forum_settings(NOTIFY_RECIPIENT_DAILY_CAP=2):
        for i, sender in enumerate(senders):
            make_thread(board, sender, title=f"Thread number {i}", body="Hi @maria")
    assert Notification.objects.filter(recipient=member).count() == 2
    assert "over daily cap" in caplog.text


def test_notify_recipient_cap_still_bumps_collapsed(thread, member, other_member):
    with forum_settings(NOTIFY_RECIPIENT_DAILY_CAP=1):
        for body in ("one", "two", "three"):
            make_reply(thread, other_member, body)
    n = Notification.objects.get(recipient=member)
    assert n.count == 3


# ---------------------------------------------------------------- preferences and email


def test_notify_reply_preference_off_creates_nothing(thread, member, other_member):
    notifications.update_preferences(member, {K.REPLY: "off"})
    make_reply(thread, other_member, "Reply")
    assert not Notification.objects.filter(recipient=member).exists()


def test_notify_reply_preference_email_sends_after_commit(
    thread, member, other_member, django_capture_on_commit_callbacks
):
    notifications.update_preferences(member, {K.REPLY: "email"})
    with django_capture_on_commit_callbacks(execute=True):
        make_reply(thread, other_member, "A reply with <script>alert(1)</script> **bold**")
    assert len(mail.outbox) == 1
    msg = mail.outbox[0]
    assert msg.to == [member.email]
    assert f"{other_member.name} replied to" in msg.subject
    assert "A reply with" in msg.body
    html = msg.alternatives[0][0]
    assert "<script>" not in html
    assert "/p/" in html
    assert Notification.objects.get(recipient=member).emailed_at is not None


def test_notify_reply_email_not_repeated_for_collapsed(
    thread, member, other_member, django_capture_on_commit_callbacks
):
    notifications.update_preferences(member, {K.REPLY: "email"})
    with django_capture_on_commit_callbacks(execute=True):
        make_reply(thread, other_member, "one")
    with django_capture_on_commit_callbacks(execute=True):
        make_reply(thread, other_member, "two")
    assert len(mail.outbox) == 1


def test_notify_reply_app_preference_sends_no_email(
    thread, member, other_member, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        make_reply(thread, other_member, "one")
    assert mail.outbox == []
    assert Notification.objects.filter(recipient=member).exists()


def test_update_preferences_refuses_unknown_value(member):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        notifications.update_preferences(member, {K.REPLY: "sms"})


# ---------------------------------------------------------------- live events


def test_notify_reply_publishes_inbox_event_after_commit(
    thread, member, other_member, django_capture_on_commit_callbacks
):
    with mock.patch("realtime.publish.send_now") as send_now:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            make_reply(thread, other_member, "Reply")
        sent = [c.args[0] for c in send_now.call_args_list]
        assert not [m for m in sent if m["stream"] == f"inbox:{member.id}"]
        for callback in callbacks:
            callback()
    event = StreamEvent.objects.get(stream=f"inbox:{member.id}")
    assert event.type == "notification.created"
    assert event.payload["unread_count"] == 1
    assert event.payload["text"] == f"{other_member.name} replied to “{thread.title}”"
    assert event.payload["url"].startswith("/p/")
    inbox_messages = [
        c.args[0] for c in send_now.call_args_list if c.args[0]["stream"] == f"inbox:{member.id}"
    ]
    assert [m["type"] for m in inbox_messages] == ["notification.created"]


def test_notify_reply_rolled_back_publishes_nothing(
    thread, member, other_member, django_capture_on_commit_callbacks
):
    with (
        mock.patch("realtime.publish.send_now") as send_now,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        make_reply(thread, other_member, "Reply")
        raise RuntimeError("abort")
    assert callbacks == []
    assert not send_now.called
    assert not StreamEvent.objects.filter(stream=f"inbox:{member.id}").exists()
    assert not Notification.objects.filter(recipient=member).exists()


def test_mark_notification_read_publishes_read_event(
    thread, member, other_member, django_capture_on_commit_callbacks
):
    make_reply(thread, other_member, "one")
    n = Notification.objects.get(recipient=member)
    with (
        mock.patch("realtime.publish.send_now") as send_now,
        django_capture_on_commit_callbacks(execute=True),
    ):
        notifications.mark_notification_read(member, n.pk)
    message = send_now.call_args.args[0]
    assert message["type"] == "notification.read"
    assert message["data"]["unread_count"] == 0


def test_notify_failure_never_breaks_the_reply(thread, member, other_member, caplog):
    with mock.patch.object(notifications, "_deliver", side_effect=RuntimeError("boom")):
        post = make_reply(thread, other_member, "Still posted @maria")
    assert post.pk and post.mentioned_user_ids == []
    assert "failed" in caplog.text


# ---------------------------------------------------------------- inbox pages


def test_inbox_lists_notifications(thread, member, other_member):
    make_reply(thread, other_member, "one")
    response = client_for(member).get(reverse("notifications:inbox"))
    assert response.status_code == 200
    assert f"{other_member.name} replied to".encode() in response.content


def test_inbox_hides_notifications_about_threads_no_longer_visible(db):
    insider = make_member("insider")
    group = make_group("Council", insider)
    board = make_board("Open board")
    thread = make_thread(board, insider, title="Soon to be private")
    make_reply(thread, make_member("other"), "A reply")
    private = make_board("Council", visibility=Visibility.GROUPS, groups=[group])
    Notification.objects.filter(recipient=insider).update(board=None)
    thread.board = private
    thread.save()
    group.user_set.remove(insider)
    response = client_for(insider).get(reverse("notifications:inbox"))
    assert b"Soon to be private" not in response.content


def test_open_notification_marks_read_and_redirects_to_post(thread, member, other_member):
    post = make_reply(thread, other_member, "one")
    n = Notification.objects.get(recipient=member)
    response = client_for(member).post(reverse("notifications:open", args=[n.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("forum:post", args=[post.pk])
    n.refresh_from_db()
    assert n.is_read


def test_open_notification_of_someone_else_is_404(thread, member, other_member):
    make_reply(thread, other_member, "one")
    n = Notification.objects.get(recipient=member)
    response = client_for(other_member).post(reverse("notifications:open", args=[n.pk]))
    assert response.status_code == 404
    n.refresh_from_db()
    assert not n.is_read


def test_open_notification_requires_post(thread, member, other_member):
    make_reply(thread, other_member, "one")
    n = Notification.objects.get(recipient=member)
    response = client_for(member).get(reverse("notifications:open", args=[n.pk]))
    assert response.status_code == 405


def test_mark_all_read_marks_everything(board, member, other_member):
    for i in range(3):
        make_reply(make_thread(board, member, title=f"Thread {i} title"), other_member, "a reply")
    response = client_for(member).post(reverse("notifications:mark_all_read"))
    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=member, is_read=False).exists()


def test_inbox_query_count_is_flat(board, member):
    client = client_for(member)

    def count_queries() -> int:
        with CaptureQueriesContext(transaction.get_connection()) as ctx:
            assert client.get(reverse("notifications:inbox")).status_code == 200
        return len(ctx.captured_queries)

    sender = make_member("sender")
    make_reply(make_thread(board, member, title="The first thread"), sender, "a reply")
    count_queries()  # the first request of a visit also records the visit
    few = count_queries()
    for i in range(12):
        thread = make_thread(board, member, title=f"Thread number {i}")
        make_reply(thread, make_member(), "a reply")
    many = count_queries()
    assert Notification.objects.filter(recipient=member).count() == 13
    assert many == few


def test_inbox_paginates(board, member):
    for i in range(35):
        Notification.objects.create(
            recipient=member,
            kind=K.MEMBERSHIP,
            text=f"Item {i:02d}",
            created_at="2026-01-01T00:00Z",
            updated_at=f"2026-01-01T00:{i:02d}Z",
        )
    page2 = client_for(member).get(reverse("notifications:inbox") + "?page=2")
    assert b"Item 04" in page2.content and b"Item 34" not in page2.content
    bad = client_for(member).get(reverse("notifications:inbox") + "?page=zzz")
    assert bad.status_code == 200 and b"Item 34" in bad.content


def test_inbox_requires_sign_in(db):
    response = client_for().get(reverse("notifications:inbox"))
    assert response.status_code == 302


# ---------------------------------------------------------------- settings page


def test_notification_settings_saves_preferences_and_board_levels(board, member):
    data = {f"kind_{k}": "app" for k in K.values}
    data[f"kind_{K.MENTION}"] = "email"
    data[f"kind_{K.WATCHED_BOARD}"] = "off"
    data[f"board_{board.id}"] = "watching"
    response = client_for(member).post(reverse("notifications:settings"), data)
    assert response.status_code == 302
    member.refresh_from_db()
    assert notifications.preference(member, K.MENTION) == "email"
    assert notifications.preference(member, K.WATCHED_BOARD) == "off"
    assert not notifications.wants_digest(member)
    assert BoardWatch.objects.get(user=member, board=board).level == WatchLevel.WATCHING


def test_notification_settings_bad_input_keeps_form(board, member):
    data = {f"kind_{k}": "app" for k in K.values}
    data[f"kind_{K.REPLY}"] = "carrier-pigeon"
    data[f"board_{board.id}"] = "muted"
    data["digest"] = "on"
    response = client_for(member).post(reverse("notifications:settings"), data)
    assert response.status_code == 400
    assert b"Select a valid choice" in response.content
    assert b'value="muted" selected' in response.content
    member.refresh_from_db()
    assert member.notification_prefs == {}
    assert not BoardWatch.objects.filter(user=member).exists()


def test_notification_settings_lists_only_visible_boards(member):
    make_board("Public board")
    make_board("Secret board", visibility=Visibility.GROUPS, groups=[make_group("Other")])
    response = client_for(member).get(reverse("notifications:settings"))
    assert b"Public board" in response.content
    assert b"Secret board" not in response.content


def test_notification_settings_lists_watched_threads(thread, member):
    response = client_for(member).get(reverse("notifications:settings"))
    assert thread.title.encode() in response.content
    assert ThreadWatch.objects.get(user=member, thread=thread).level == WatchLevel.WATCHING


def test_notify_edit_of_hidden_post_tells_nobody(thread, other_member):
    lee = make_member("lee")
    post = make_reply(thread, other_member, "Plain text")
    type(post).objects.filter(pk=post.pk).update(is_hidden=True)
    post.refresh_from_db()
    actions.edit_post(other_member, post, body="Plain text @lee")
    assert not Notification.objects.filter(recipient=lee).exists()
