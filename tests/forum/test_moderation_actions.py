"""Behaviour of every moderator action: state, counters, log (before/after), live events, undo."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from forum import actions, moderation, permissions
from forum.models import (
    Board,
    ModerationAction,
    Notification,
    Post,
    PostRevision,
    Report,
    Thread,
    Visibility,
)
from realtime.models import StreamEvent
from realtime.streams import board_stream, moderators_stream, thread_stream
from tests.conftest import (
    client_for,
    make_board,
    make_group,
    make_member,
    make_reply,
    make_staff,
    make_thread,
)

pytestmark = pytest.mark.django_db


def make_world() -> SimpleNamespace:
    """Two boards with their own moderators, staff, members, and a thread with replies in A."""
    w = SimpleNamespace()
    w.staff = make_staff()
    w.mod_a = make_member()
    w.mod_b = make_member()
    w.author = make_member()
    w.member = make_member()
    w.board_a = make_board("Board A", moderators=[w.mod_a])
    w.board_b = make_board("Board B", moderators=[w.mod_b])
    # A second board moderated by mod_a (the destination of moves).
    w.board_c = make_board("Board C", moderators=[w.mod_a])
    w.thread = make_thread(w.board_a, w.author, title="Welding pathway funding")
    w.replies = [
        make_reply(w.thread, m, f"Reply {i} body")
        for i, m in enumerate([w.member, w.author, w.member, w.author], start=1)
    ]
    w.thread.refresh_from_db()
    w.other_thread = make_thread(w.board_a, w.member, title="Other thread in board A")
    return w


def refreshed(obj):
    obj.refresh_from_db()
    return obj


def events(stream: str, type_: str) -> list[StreamEvent]:
    return list(StreamEvent.objects.filter(stream=stream, type=type_).order_by("seq"))


def last_log(action: str) -> ModerationAction:
    return ModerationAction.objects.filter(action=action).order_by("-id").first()


def assert_counts_exact(*boards: Board) -> None:
    """Counters match a recount from the rows (the invariant every action keeps).

    The rule: what a member sees in the lists adds up. A board counts the threads listed on it
    (not hidden, deleted or merged away) and, as its post count, the visible posts of those
    threads: each listed thread's replies (reply_count, visible posts after the first) plus its
    first post when that is visible. Hidden and removed posts count nowhere."""
    for board in boards:
        board.refresh_from_db()
        listed = list(
            Thread.objects.filter(
                board=board, is_hidden=False, is_deleted=False, merged_into__isnull=True
            )
        )
        assert board.thread_count == len(listed)
        visible = Post.objects.filter(thread__in=listed, is_hidden=False, is_deleted=False)
        assert board.post_count == visible.count()
        firsts = set(visible.filter(number=1).values_list("thread_id", flat=True))
        shown = sum(t.reply_count + (1 if t.pk in firsts else 0) for t in listed)
        assert board.post_count == shown, "board post count != visible posts of listed threads"
        for thread in Thread.objects.filter(board=board, merged_into__isnull=True):
            posts = list(thread.posts.order_by("number"))
            assert [p.number for p in posts] == list(range(1, len(posts) + 1))
            assert thread.post_count == len(posts)
            assert thread.reply_count == sum(1 for p in posts if p.number > 1 and p.is_visible)


# ---------------------------------------------------------------- pin, lock


def test_pin_thread_logs_state_and_publishes():
    w = make_world()
    moderation.pin_thread(w.mod_a, w.thread, reason="Important")
    assert refreshed(w.thread).is_pinned
    entry = last_log("pin_thread")
    assert entry.actor == w.mod_a and entry.thread_id == w.thread.pk
    assert entry.board_id == w.board_a.pk and entry.reason == "Important"
    assert entry.before["is_pinned"] is False and entry.after["is_pinned"] is True
    [event] = events(thread_stream(w.thread.pk), "thread.changed")
    assert event.payload["is_pinned"] is True
    assert events(board_stream(w.board_a.pk), "thread.updated")[-1].payload["is_pinned"] is True


def test_unpin_thread_clears_pin():
    w = make_world()
    moderation.pin_thread(w.mod_a, w.thread)
    moderation.unpin_thread(w.mod_a, w.thread)
    assert not refreshed(w.thread).is_pinned
    assert last_log("unpin_thread").before["is_pinned"] is True


def test_lock_thread_refuses_member_replies_with_message():
    w = make_world()
    moderation.lock_thread(w.mod_a, w.thread, reason="Settled")
    with pytest.raises(permissions.Refused, match="locked"):
        actions.reply_to_thread(w.member, refreshed(w.thread), body="One more thing")
    # Moderators may still reply in a locked thread.
    actions.reply_to_thread(w.mod_a, w.thread, body="Closing note")
    assert events(thread_stream(w.thread.pk), "thread.changed")[0].payload["is_locked"] is True
    assert Notification.objects.filter(recipient=w.author, kind="moderation").exists()


def test_lock_thread_refused_to_other_boards_moderator():
    w = make_world()
    with pytest.raises(permissions.Refused):
        moderation.lock_thread(w.mod_b, w.thread)
    with pytest.raises(permissions.Refused):
        moderation.lock_thread(w.member, w.thread)
    assert not refreshed(w.thread).is_locked
    assert not ModerationAction.objects.exists()


def test_lock_thread_publishes_nothing_on_rollback():
    w = make_world()
    before = StreamEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        moderation.lock_thread(w.mod_a, w.thread)
        raise RuntimeError("boom")
    assert StreamEvent.objects.count() == before
    assert not refreshed(w.thread).is_locked
    assert not ModerationAction.objects.exists()


def test_lock_thread_event_sent_only_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    w = make_world()
    sent = []
    monkeypatch.setattr("realtime.publish.send_now", lambda message: sent.append(message))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        moderation.lock_thread(w.mod_a, w.thread)
        assert sent == []
    for callback in callbacks:
        callback()
    assert any(m["type"] == "thread.changed" and m["data"]["is_locked"] for m in sent)


def test_unlock_thread_allows_replies_again():
    w = make_world()
    moderation.lock_thread(w.mod_a, w.thread)
    moderation.unlock_thread(w.mod_a, w.thread)
    actions.reply_to_thread(w.member, refreshed(w.thread), body="Thanks for reopening")


# ---------------------------------------------------------------- move, rename


def test_move_thread_updates_both_boards_and_applies_new_permissions():
    w = make_world()
    group = make_group("Faculty", w.mod_a)
    w.board_c.visibility = Visibility.GROUPS
    w.board_c.save()
    w.board_c.visible_groups.set([group])
    assert permissions.can_view_thread(w.member, w.thread)
    moderation.move_thread(w.mod_a, w.thread, board=w.board_c, reason="Belongs there")
    thread = refreshed(w.thread)
    assert thread.board_id == w.board_c.pk
    assert_counts_exact(w.board_a, w.board_c)
    assert w.board_c.thread_count == 1 and w.board_c.post_count == 5
    # The new board's permission applies at once: the member no longer sees the thread.
    permissions.forget_cached_permissions(w.member)
    with pytest.raises(Http404):
        permissions.check_view_thread(w.member, Thread.objects.get(pk=thread.pk))
    assert client_for(w.member).get(thread.get_absolute_url()).status_code == 404
    # The old link (board-independent) still leads there for those who may see it.
    assert client_for(w.mod_a).get(f"/t/{thread.pk}/").status_code == 302
    entry = last_log("move_thread")
    assert entry.before["board_id"] == w.board_a.pk and entry.after["board_id"] == w.board_c.pk
    [removed] = events(board_stream(w.board_a.pk), "thread.removed")
    assert removed.payload["thread_id"] == thread.pk
    assert events(thread_stream(thread.pk), "thread.changed")[-1].payload["board_id"] == (
        w.board_c.pk
    )


def test_move_thread_refused_to_board_not_moderated():
    w = make_world()
    with pytest.raises(permissions.Refused):
        moderation.move_thread(w.mod_a, w.thread, board=w.board_b)
    assert refreshed(w.thread).board_id == w.board_a.pk


def test_move_thread_to_same_board_is_a_clear_error():
    w = make_world()
    with pytest.raises(ValidationError, match="already in"):
        moderation.move_thread(w.mod_a, w.thread, board=w.board_a)


def test_rename_thread_changes_title_and_old_link_redirects():
    w = make_world()
    old_url = w.thread.get_absolute_url()
    moderation.rename_thread(w.mod_a, w.thread, title="Welding pathway grants 2026")
    thread = refreshed(w.thread)
    assert thread.title == "Welding pathway grants 2026"
    assert thread.get_absolute_url() != old_url
    response = client_for(w.member).get(old_url + "?page=1")
    assert response.status_code == 302
    assert response["Location"] == thread.get_absolute_url() + "?page=1"
    entry = last_log("rename_thread")
    assert entry.before["title"] == "Welding pathway funding"
    assert entry.after["title"] == "Welding pathway grants 2026"


def test_rename_thread_reindexes_title_for_search():
    from forum import search

    w = make_world()
    moderation.rename_thread(w.mod_a, w.thread, title="Hydroponics lab grants")
    boards = permissions.visible_board_ids(w.member)
    results = search.search_posts(w.member, "hydroponics", board_ids=boards)
    assert results.total == 1


def test_rename_thread_rejects_short_title():
    w = make_world()
    with pytest.raises(ValidationError, match="too short"):
        moderation.rename_thread(w.mod_a, w.thread, title="ab")


# ---------------------------------------------------------------- hide, delete, purge


def test_hide_thread_hides_from_members_and_updates_board_counts():
    w = make_world()
    moderation.hide_thread(w.mod_a, w.thread, reason="Under review")
    thread = refreshed(w.thread)
    assert thread.is_hidden and thread.hidden_reason == "Under review"
    assert client_for(w.member).get(thread.get_absolute_url()).status_code == 404
    assert client_for(w.mod_a).get(thread.get_absolute_url() + "?page=1").status_code == 200
    assert_counts_exact(w.board_a)
    assert w.board_a.thread_count == 1
    assert events(thread_stream(thread.pk), "thread.changed")[-1].payload["is_hidden"] is True


def test_hide_thread_requires_reason():
    w = make_world()
    with pytest.raises(ValidationError, match="reason"):
        moderation.hide_thread(w.mod_a, w.thread, reason="  ")


def test_restore_thread_shows_it_again():
    w = make_world()
    moderation.hide_thread(w.mod_a, w.thread, reason="Under review")
    moderation.restore_thread(w.mod_a, w.thread)
    url = refreshed(w.thread).get_absolute_url() + "?page=1"
    assert client_for(w.member).get(url).status_code == 200
    assert_counts_exact(w.board_a)
    assert w.board_a.thread_count == 2


def test_delete_thread_is_soft_and_restorable():
    w = make_world()
    moderation.delete_thread(w.mod_a, w.thread, reason="Spam")
    thread = refreshed(w.thread)
    assert thread.is_deleted and thread.deleted_at is not None
    assert Post.objects.filter(thread=thread).count() == 5
    assert client_for(w.member).get(thread.get_absolute_url()).status_code == 404
    assert_counts_exact(w.board_a)
    moderation.restore_deleted_thread(w.mod_a, thread)
    assert not refreshed(thread).is_deleted
    assert_counts_exact(w.board_a)
    assert w.board_a.thread_count == 2


def test_purge_thread_refused_to_board_moderator():
    w = make_world()
    with pytest.raises(permissions.Refused, match="staff"):
        moderation.purge_thread(w.mod_a, w.thread, confirm_title=w.thread.title)
    assert Thread.objects.filter(pk=w.thread.pk).exists()


def test_purge_thread_requires_typed_title():
    w = make_world()
    with pytest.raises(ValidationError, match="type its title"):
        moderation.purge_thread(w.staff, w.thread, confirm_title="yes")
    assert Thread.objects.filter(pk=w.thread.pk).exists()


def test_purge_thread_deletes_posts_and_keeps_counters():
    w = make_world()
    author_posts = refreshed(w.author).post_count
    pk = w.thread.pk
    moderation.purge_thread(w.staff, w.thread, confirm_title=w.thread.title.upper())
    assert not Thread.objects.filter(pk=pk).exists()
    assert not Post.objects.filter(thread_id=pk).exists()
    assert refreshed(w.author).post_count == author_posts - 3
    assert_counts_exact(w.board_a)
    assert w.board_a.thread_count == 1
    entry = last_log("purge_thread")
    assert entry.before["title"] == "Welding pathway funding" and entry.after == {"purged": True}


# ---------------------------------------------------------------- split, merge


def test_split_thread_moves_replies_in_order_and_renumbers_densely():
    w = make_world()
    chosen = [w.replies[1].pk, w.replies[3].pk]  # numbers 3 and 5
    new = moderation.split_thread(w.mod_a, w.thread, post_ids=chosen, title="Split discussion")
    new.refresh_from_db()
    moved = list(new.posts.order_by("number"))
    assert [p.pk for p in moved] == chosen
    assert [p.number for p in moved] == [1, 2]
    assert all(p.author_id == w.author.pk for p in moved)
    assert new.author_id == w.author.pk and new.board_id == w.board_a.pk
    left = list(refreshed(w.thread).posts.order_by("number"))
    assert [p.number for p in left] == [1, 2, 3]
    assert [p.pk for p in left][1:] == [w.replies[0].pk, w.replies[2].pk]
    assert_counts_exact(w.board_a)
    assert w.board_a.thread_count == 3 and w.board_a.post_count == 6
    assert last_log("split_thread").after["new_thread_id"] == new.pk
    assert events(board_stream(w.board_a.pk), "thread.created")[-1].payload["thread_id"] == new.pk


def test_split_thread_refuses_first_post_and_foreign_posts():
    w = make_world()
    first = w.thread.posts.get(number=1)
    with pytest.raises(ValidationError, match="first post"):
        moderation.split_thread(w.mod_a, w.thread, post_ids=[first.pk], title="Nope nope")
    foreign = w.other_thread.posts.get(number=1)
    with pytest.raises(ValidationError, match="not in this thread"):
        moderation.split_thread(
            w.mod_a, w.thread, post_ids=[foreign.pk, w.replies[0].pk], title="Nope nope"
        )
    with pytest.raises(ValidationError, match="at least one"):
        moderation.split_thread(w.mod_a, w.thread, post_ids=[], title="Nope nope")


def test_merge_threads_appends_posts_keeping_authors_and_order():
    w = make_world()
    make_reply(w.other_thread, w.author, "Reply in other")
    source_posts = list(w.other_thread.posts.order_by("number").values_list("pk", "author_id"))
    target_before = list(w.thread.posts.order_by("number").values_list("pk", flat=True))
    moderation.merge_threads(w.mod_a, w.other_thread, w.thread, reason="Duplicate")
    merged = list(refreshed(w.thread).posts.order_by("number"))
    assert [p.pk for p in merged] == target_before + [pk for pk, _ in source_posts]
    assert [p.number for p in merged] == list(range(1, 8))
    assert [p.author_id for p in merged[5:]] == [a for _, a in source_posts]
    source = refreshed(w.other_thread)
    assert source.merged_into_id == w.thread.pk and source.post_count == 0
    assert_counts_exact(w.board_a)
    assert w.board_a.thread_count == 1 and w.board_a.post_count == 7
    # The old thread's address redirects to the thread it was merged into.
    response = client_for(w.member).get(source.get_absolute_url())
    assert response.status_code == 302 and f"/t/{w.thread.pk}/" in response["Location"]
    assert last_log("merge_threads").before["title"] == "Other thread in board A"


def test_merge_threads_refuses_target_on_unmoderated_board():
    w = make_world()
    elsewhere = make_thread(w.board_b, w.member, title="Thread in board B")
    with pytest.raises(permissions.Refused):
        moderation.merge_threads(w.mod_a, w.thread, elsewhere)
    with pytest.raises(ValidationError, match="itself"):
        moderation.merge_threads(w.mod_a, w.thread, w.thread)


# ---------------------------------------------------------------- posts


def test_hide_post_marks_for_author_and_moderators_and_hides_for_others():
    w = make_world()
    post = w.replies[1]  # by author, number 3
    moderation.hide_post(w.mod_a, post, reason="Personal details")
    post = refreshed(post)
    assert post.is_hidden and post.hidden_by_id == w.mod_a.pk
    thread = refreshed(w.thread)
    assert thread.reply_count == 3
    page = client_for(w.author).get(thread.get_absolute_url() + "?page=1").content.decode()
    assert "Hidden by a moderator: Personal details" in page and "Reply 2 body" in page
    page = client_for(w.mod_a).get(thread.get_absolute_url() + "?page=1").content.decode()
    assert "Personal details" in page and "Reply 2 body" in page
    page = client_for(w.member).get(thread.get_absolute_url() + "?page=1").content.decode()
    assert "Reply 2 body" not in page and "This post was hidden by a moderator." in page
    [event] = events(thread_stream(thread.pk), "post.changed")
    assert event.payload["post_id"] == post.pk and event.payload["visible"] is False
    assert "html" not in event.payload
    entry = last_log("hide_post")
    assert entry.before["is_hidden"] is False and entry.after["is_hidden"] is True
    assert entry.target_user_id == w.author.pk
    assert Notification.objects.filter(recipient=w.author, kind="moderation").exists()


def test_hide_post_of_last_reply_moves_thread_last_post():
    w = make_world()
    last = w.replies[-1]
    moderation.hide_post(w.mod_a, last, reason="Spam")
    thread = refreshed(w.thread)
    assert thread.last_post_id == w.replies[-2].pk
    moderation.restore_post(w.mod_a, last)
    assert refreshed(w.thread).last_post_id == last.pk


def test_restore_post_shows_it_again():
    w = make_world()
    post = w.replies[0]
    moderation.hide_post(w.mod_a, post, reason="Check")
    moderation.restore_post(w.mod_a, post)
    post = refreshed(post)
    assert post.is_visible and post.hidden_reason == ""
    assert refreshed(w.thread).reply_count == 4
    assert events(thread_stream(w.thread.pk), "post.changed")[-1].payload["visible"] is True


def test_hide_post_refused_to_member_and_other_moderator():
    w = make_world()
    for user in (w.member, w.mod_b):
        with pytest.raises(permissions.Refused):
            moderation.hide_post(user, w.replies[0], reason="No")
    assert refreshed(w.replies[0]).is_visible


def test_moderator_edit_post_keeps_reason_in_history_and_log():
    w = make_world()
    post = w.replies[0]
    moderation.moderator_edit_post(w.mod_a, post, body="Cleaned up reply", reason="Removed phone")
    post = refreshed(post)
    assert post.body == "Cleaned up reply"
    revision = PostRevision.objects.get(post=post)
    assert revision.reason == "Removed phone" and revision.body == "Reply 1 body"
    assert revision.editor_id == w.mod_a.pk
    assert last_log("edit_post").reason == "Removed phone"
    assert events(thread_stream(w.thread.pk), "post.changed")[-1].payload["post_id"] == post.pk


def test_moderator_edit_post_requires_reason():
    w = make_world()
    with pytest.raises(ValidationError, match="reason"):
        moderation.moderator_edit_post(w.mod_a, w.replies[0], body="New body", reason="")


def test_delete_post_soft_and_restore():
    w = make_world()
    post = w.replies[2]
    moderation.delete_post(w.mod_a, post, reason="Off topic")
    assert refreshed(post).is_deleted and post.deleted_by_id == w.mod_a.pk
    assert refreshed(w.thread).reply_count == 3 and w.thread.post_count == 5
    assert_counts_exact(w.board_a)
    assert w.board_a.post_count == 4 + 1  # the other thread's first post, and 4 of these 5
    page = client_for(w.member).get(w.thread.get_absolute_url() + "?page=1").content.decode()
    assert "Reply 3 body" not in page
    moderation.restore_deleted_post(w.mod_a, post)
    assert refreshed(post).is_visible and refreshed(w.thread).reply_count == 4
    assert_counts_exact(w.board_a)
    assert w.board_a.post_count == 5 + 1


def test_delete_post_refuses_first_post():
    w = make_world()
    with pytest.raises(ValidationError, match="delete the thread"):
        moderation.delete_post(w.mod_a, w.thread.posts.get(number=1))


# ---------------------------------------------------------------- reports


def established(n: int = 1) -> list:
    joined = timezone.now() - timedelta(days=30)
    return [make_member(date_joined=joined, post_count=20) for _ in range(n)]


def test_report_post_once_per_member():
    w = make_world()
    moderation.report_post(w.member, w.replies[1], reason="spam")
    with pytest.raises(ValidationError, match="already reported"):
        moderation.report_post(w.member, w.replies[1], reason="off_topic")
    assert Report.objects.count() == 1


def test_report_post_other_needs_text_and_reason_must_be_known():
    w = make_world()
    with pytest.raises(ValidationError, match="what is wrong"):
        moderation.report_post(w.member, w.replies[1], reason="other", text=" ")
    with pytest.raises(ValidationError, match="Choose why"):
        moderation.report_post(w.member, w.replies[1], reason="boring")
    moderation.report_post(w.member, w.replies[1], reason="other", text="Copied from a website")
    assert Report.objects.get().text == "Copied from a website"


def test_report_post_refused_to_author_and_suspended_member():
    w = make_world()
    with pytest.raises(permissions.Refused, match="own post"):
        moderation.report_post(w.author, w.replies[1], reason="spam")
    moderation.suspend_member(w.mod_a, w.member, until=None, reason="Abuse")
    with pytest.raises(permissions.Refused, match="suspended"):
        moderation.report_post(refreshed(w.member), w.replies[1], reason="spam")


def test_report_post_publishes_open_count_after_commit(django_capture_on_commit_callbacks):
    w = make_world()
    with django_capture_on_commit_callbacks(execute=True):
        moderation.report_post(w.member, w.replies[1], reason="spam")
    [event] = events(moderators_stream(), "reports.count")
    assert event.payload["open"] == 1
    assert event.payload["by_board"] == {str(w.board_a.pk): 1}


def test_report_post_auto_hides_after_three_established_reporters(settings):
    w = make_world()
    post = w.replies[1]
    newcomer = make_member()  # joined today, no posts: not established
    moderation.report_post(newcomer, post, reason="spam")
    a, b, c = established(3)
    moderation.report_post(a, post, reason="spam")
    moderation.report_post(b, post, reason="harassment")
    assert refreshed(post).is_visible
    moderation.report_post(c, post, reason="spam")
    post = refreshed(post)
    assert post.is_hidden and post.hidden_by_id is None
    assert "automatically" in post.hidden_reason
    assert last_log("auto_hide_post").post_id == post.pk
    assert refreshed(w.thread).reply_count == 3
    assert_counts_exact(w.board_a)


def test_report_post_auto_hide_threshold_is_configurable(settings, monkeypatch):
    settings.FORUM = {**settings.FORUM, "AUTO_HIDE_REPORTS": 1}
    # moderation.FORUM is read at import: monkeypatch puts the module's own dict back after the
    # test (restoring from django.conf.settings here would keep the override, which is still in
    # place until the settings fixture ends, and leak threshold 1 into later tests).
    monkeypatch.setattr(moderation, "FORUM", settings.FORUM)
    w = make_world()
    [a] = established(1)
    moderation.report_post(a, w.replies[0], reason="spam")
    assert refreshed(w.replies[0]).is_hidden


def test_resolve_report_dismiss_restores_auto_hidden_post_and_notifies_reporters():
    w = make_world()
    post = w.replies[1]
    reporters = established(3)
    for r in reporters:
        moderation.report_post(r, post, reason="spam")
    assert refreshed(post).is_hidden
    closed = moderation.resolve_report(w.mod_a, post, resolution="dismiss")
    assert closed == 3
    assert refreshed(post).is_visible
    assert not Report.objects.filter(resolved_at__isnull=True).exists()
    assert set(Report.objects.values_list("resolution", flat=True)) == {"dismiss"}
    for r in reporters:
        assert Notification.objects.filter(recipient=r, kind="report_resolved").exists()
    entry = last_log("resolve_reports")
    assert entry.before["open_reports"] == 3 and entry.after["resolution"] == "dismiss"
    assert moderation.open_report_count(w.mod_a) == 0


def test_resolve_report_hide_hides_with_moderators_reason():
    w = make_world()
    post = w.replies[1]
    moderation.report_post(w.member, post, reason="harassment")
    with pytest.raises(ValidationError, match="reason"):
        moderation.resolve_report(w.mod_a, post, resolution="hide")
    moderation.resolve_report(w.mod_a, post, resolution="hide", reason="Insulting")
    post = refreshed(post)
    assert post.is_hidden and post.hidden_reason == "Insulting"
    assert post.hidden_by_id == w.mod_a.pk
    assert Report.objects.get().resolution == "hide"


def test_resolve_report_edit_edits_and_closes():
    w = make_world()
    post = w.replies[1]
    moderation.report_post(w.member, post, reason="spam")
    moderation.resolve_report(
        w.mod_a, post, resolution="edit", body="Link removed", reason="Spam link"
    )
    assert refreshed(post).body == "Link removed"
    assert Report.objects.get().resolved_by_id == w.mod_a.pk


def test_resolve_report_refused_to_other_boards_moderator_and_needs_open_reports():
    w = make_world()
    post = w.replies[1]
    with pytest.raises(ValidationError, match="no open reports"):
        moderation.resolve_report(w.mod_a, post, resolution="dismiss")
    moderation.report_post(w.member, post, reason="spam")
    with pytest.raises(permissions.Refused):
        moderation.resolve_report(w.mod_b, post, resolution="dismiss")
    assert moderation.open_report_count(w.mod_b) == 0
    assert moderation.open_report_count(w.mod_a) == 1
    assert moderation.open_report_count(w.staff) == 1


# ---------------------------------------------------------------- members


def test_suspend_member_refuses_posting_with_reason_and_disconnects(
    django_capture_on_commit_callbacks, monkeypatch
):
    w = make_world()
    calls = []
    monkeypatch.setattr(
        "realtime.publish.disconnect_member", lambda user_id, **kw: calls.append((user_id, kw))
    )
    until = timezone.now() + timedelta(days=7)
    with django_capture_on_commit_callbacks(execute=True):
        moderation.suspend_member(w.mod_a, w.member, until=until, reason="Repeated spam")
        assert calls == []
    assert calls == [(w.member.pk, {"reason": "suspended"})]
    member = refreshed(w.member)
    assert member.is_suspended
    refusal = permissions.posting_refusal(member)
    assert "suspended until" in refusal and "Repeated spam" in refusal
    with pytest.raises(permissions.Refused, match="Repeated spam"):
        actions.reply_to_thread(member, w.thread, body="Let me post")
    entry = last_log("suspend_member")
    assert entry.target_user_id == member.pk and entry.before["suspended_until"] is None


def test_suspend_member_indefinitely_uses_far_future():
    w = make_world()
    moderation.suspend_member(w.mod_a, w.member, until=None, reason="Abuse")
    member = refreshed(w.member)
    assert member.suspended_until.year == 9999
    assert "indefinitely" in permissions.posting_refusal(member)


def test_suspend_member_refuses_past_date_self_and_staff():
    w = make_world()
    with pytest.raises(ValidationError, match="future"):
        moderation.suspend_member(
            w.mod_a, w.member, until=timezone.now() - timedelta(days=1), reason="x"
        )
    with pytest.raises(permissions.Refused, match="yourself"):
        moderation.suspend_member(w.mod_a, w.mod_a, until=None, reason="x")
    with pytest.raises(permissions.Refused, match="staff"):
        moderation.suspend_member(w.mod_a, w.staff, until=None, reason="x")
    with pytest.raises(permissions.Refused):
        moderation.suspend_member(w.member, w.author, until=None, reason="x")


def test_lift_suspension_allows_posting_again():
    w = make_world()
    moderation.suspend_member(w.mod_a, w.member, until=None, reason="Abuse")
    moderation.lift_suspension(w.mod_a, w.member)
    assert permissions.posting_refusal(refreshed(w.member)) is None


def test_silence_member_blocks_replies_but_not_reactions():
    w = make_world()
    until = timezone.now() + timedelta(days=2)
    moderation.silence_member(w.mod_a, w.member, until=until, reason="Cool down")
    member = refreshed(w.member)
    with pytest.raises(permissions.Refused, match="silenced"):
        actions.reply_to_thread(member, w.thread, body="Still here")
    actions.react(member, w.replies[1], "like")
    moderation.lift_silence(w.mod_a, member)
    actions.reply_to_thread(refreshed(member), w.thread, body="Back again")


def test_silence_member_requires_date():
    w = make_world()
    with pytest.raises(ValidationError, match="until when"):
        moderation.silence_member(w.mod_a, w.member, until=None, reason="x")


# ---------------------------------------------------------------- undo


def _state(w) -> dict:
    t = refreshed(w.thread)
    p = refreshed(w.replies[1])
    m = refreshed(w.member)
    return {
        "thread": (t.board_id, t.title, t.is_pinned, t.is_locked, t.is_hidden, t.is_deleted),
        "post": (p.is_hidden, p.is_deleted),
        "member": (m.suspended_until, m.silenced_until),
    }


SOON = timedelta(days=3)
# Every undoable action, applied from a neutral state (some first need a prior action).
UNDO_CASES = {
    "pin_thread": lambda w: moderation.pin_thread(w.mod_a, w.thread),
    "unpin_thread": lambda w: (
        moderation.pin_thread(w.staff, w.thread),
        moderation.unpin_thread(w.mod_a, w.thread),
    ),
    "lock_thread": lambda w: moderation.lock_thread(w.mod_a, w.thread),
    "unlock_thread": lambda w: (
        moderation.lock_thread(w.staff, w.thread),
        moderation.unlock_thread(w.mod_a, w.thread),
    ),
    "hide_thread": lambda w: moderation.hide_thread(w.mod_a, w.thread, reason="r"),
    "restore_thread": lambda w: (
        moderation.hide_thread(w.staff, w.thread, reason="r"),
        moderation.restore_thread(w.mod_a, w.thread),
    ),
    "delete_thread": lambda w: moderation.delete_thread(w.mod_a, w.thread),
    "restore_deleted_thread": lambda w: (
        moderation.delete_thread(w.staff, w.thread),
        moderation.restore_deleted_thread(w.mod_a, w.thread),
    ),
    "move_thread": lambda w: moderation.move_thread(w.mod_a, w.thread, board=w.board_c),
    "rename_thread": lambda w: moderation.rename_thread(w.mod_a, w.thread, title="Renamed one"),
    "hide_post": lambda w: moderation.hide_post(w.mod_a, w.replies[1], reason="r"),
    "auto_hide_post": lambda w: [
        moderation.report_post(r, w.replies[1], reason="spam") for r in established(3)
    ],
    "restore_post": lambda w: (
        moderation.hide_post(w.staff, w.replies[1], reason="r"),
        moderation.restore_post(w.mod_a, w.replies[1]),
    ),
    "delete_post": lambda w: moderation.delete_post(w.mod_a, w.replies[1]),
    "restore_deleted_post": lambda w: (
        moderation.delete_post(w.staff, w.replies[1]),
        moderation.restore_deleted_post(w.mod_a, w.replies[1]),
    ),
    "suspend_member": lambda w: moderation.suspend_member(
        w.mod_a, w.member, until=None, reason="r"
    ),
    "lift_suspension": lambda w: (
        moderation.suspend_member(w.staff, w.member, until=timezone.now() + SOON, reason="r"),
        moderation.lift_suspension(w.mod_a, w.member),
    ),
    "silence_member": lambda w: moderation.silence_member(
        w.mod_a, w.member, until=timezone.now() + SOON, reason="r"
    ),
    "lift_silence": lambda w: (
        moderation.silence_member(w.staff, w.member, until=timezone.now() + SOON, reason="r"),
        moderation.lift_silence(w.mod_a, w.member),
    ),
}


def test_undo_cases_cover_every_undoable_action():
    assert set(UNDO_CASES) == set(moderation.UNDO)


@pytest.mark.parametrize("action", sorted(UNDO_CASES))
def test_undo_action_restores_state_before(action):
    w = make_world()
    UNDO_CASES[action](w)
    entry = last_log(action)
    after_action = _state(w)
    moderation.undo_action(w.mod_a, entry)
    entry.refresh_from_db()
    assert entry.undone_at is not None and entry.undone_by_id == w.mod_a.pk
    restored = _state(w)
    assert restored != after_action
    # The logged "before" state is back.
    for key, value in entry.before.items():
        if key in {"board_id", "title", "is_pinned", "is_locked", "is_hidden", "is_deleted"}:
            target = refreshed(w.thread) if entry.post_id is None else refreshed(w.replies[1])
            if hasattr(target, key):
                assert getattr(target, key) == value, key
        if key in {"suspended_until", "silenced_until"}:
            current = getattr(refreshed(w.member), key)
            if value is None:
                assert current is None
            else:
                assert current.isoformat() == value or current.year == 9999
    with pytest.raises(ValidationError, match="already undone"):
        moderation.undo_action(w.mod_a, entry)


def test_undo_action_refused_for_actions_without_inverse():
    w = make_world()
    moderation.merge_threads(w.mod_a, w.other_thread, w.thread)
    with pytest.raises(ValidationError, match="cannot be undone"):
        moderation.undo_action(w.mod_a, last_log("merge_threads"))


def test_undo_action_checks_permission_of_inverse():
    w = make_world()
    moderation.lock_thread(w.mod_a, w.thread)
    entry = last_log("lock_thread")
    with pytest.raises(permissions.Refused):
        moderation.undo_action(w.mod_b, entry)
    assert refreshed(entry).undone_at is None and refreshed(w.thread).is_locked
