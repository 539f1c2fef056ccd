"""Follow-ups of the audit of issues 3 and 5.

* The notification settings page lists only watched threads the member may still see (7.5: a
  hidden, deleted, merged or moved-away thread's title is not shown).
* One counting rule: a board's post count is the sum of the visible posts of the threads listed
  on it, as the thread rows' reply counts leave hidden and removed posts out (3.1, 5.3); the
  bench's SQL invariants (bench/checks.py) check the same rule.
"""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.urls import reverse

from bench.checks import COUNTER_CHECKS
from forum import actions, moderation, permissions
from forum.models import Board, Post, ThreadWatch, Visibility, WatchLevel
from tests.conftest import (
    client_for,
    make_board,
    make_group,
    make_member,
    make_reply,
    make_staff,
    make_thread,
)
from tests.forum.test_moderation_actions import assert_counts_exact, make_world

pytestmark = pytest.mark.django_db


def _settings_html(user) -> str:
    response = client_for(user).get(reverse("notifications:settings"))
    assert response.status_code == 200
    return response.content.decode()


# ---------------------------------------------------------------- 7.5 watched threads


def test_settings_page_lists_only_watched_threads_the_member_may_see():
    mod = make_member()
    staff = make_staff()
    watcher = make_member()
    club = make_group("Welding instructors", watcher)
    public = make_board("Open board", moderators=[mod])
    private = make_board("Directors only", visibility=Visibility.GROUPS, moderators=[mod])
    private.visible_groups.set([make_group("Directors")])
    club_board = make_board("Welding club", visibility=Visibility.GROUPS, groups=[club])
    titles = {
        "kept": "Kept thread about apprenticeships",
        "hidden": "Hidden thread about grant fraud",
        "deleted": "Deleted thread about a lawsuit",
        "moved": "Moved thread about board salaries",
        "merged": "Merged thread about welding rods",
        "left": "Club thread about safety audits",
    }
    threads = {
        key: make_thread(club_board if key == "left" else public, watcher, title=title)
        for key, title in titles.items()
    }
    target = make_thread(public, mod, title="Merge target on welding")
    # Muted threads are listed too (any level but normal): mute one that stays visible.
    muted = make_thread(public, mod, title="Muted thread about parking")
    actions.set_thread_watch(watcher, muted, WatchLevel.MUTED)
    assert ThreadWatch.objects.filter(user=watcher).exclude(level="normal").count() == 7
    html = _settings_html(watcher)
    for title in [*titles.values(), muted.title]:
        assert title in html

    moderation.hide_thread(mod, threads["hidden"], reason="Under review")
    moderation.delete_thread(mod, threads["deleted"], reason="Legal")
    moderation.move_thread(mod, threads["moved"], board=private)
    moderation.merge_threads(mod, threads["merged"], target)
    watcher.groups.remove(club)

    html = _settings_html(watcher)
    assert titles["kept"] in html and muted.title in html
    assert target.title in html  # the merged thread's watch carried over to its target
    for key in ("hidden", "deleted", "moved", "merged", "left"):
        assert titles[key] not in html, key
        assert threads[key].get_absolute_url() not in html, key
    # Still watched: seeing them again (restored, back in the group) lists them again.
    moderation.restore_thread(mod, threads["hidden"])
    watcher.groups.add(club)
    html = _settings_html(watcher)
    assert titles["hidden"] in html and titles["left"] in html
    assert titles["deleted"] not in html and titles["moved"] not in html

    # A moderator of the board still sees (marked) the hidden and deleted threads they watch,
    # as they may open them; staff too.
    for who in (mod, staff):
        actions.set_thread_watch(who, threads["deleted"], WatchLevel.WATCHING)
    moderation.hide_thread(mod, threads["kept"], reason="Checking")
    actions.set_thread_watch(mod, threads["kept"], WatchLevel.WATCHING)
    html = _settings_html(mod)
    assert re.search(
        re.escape(titles["deleted"]) + r'</a> <span class="tag tag-warn">Deleted', html
    )
    assert re.search(re.escape(titles["kept"]) + r'</a> <span class="tag tag-warn">Hidden', html)
    assert titles["deleted"] in _settings_html(staff)
    # Another board's moderator watching the thread (from before it was hidden) does not.
    other_mod = make_member()
    make_board("Elsewhere", moderators=[other_mod])
    ThreadWatch.objects.create(user=other_mod, thread=threads["deleted"], level="watching")
    assert permissions.is_moderator_anywhere(other_mod)
    assert titles["deleted"] not in _settings_html(other_mod)


def test_settings_page_watch_list_costs_the_same_queries_for_many_threads(
    django_assert_max_num_queries,
):
    from django.test.utils import CaptureQueriesContext

    watcher = make_member()
    board = make_board("Busy board")
    make_thread(board, watcher, title="Only thread")
    with CaptureQueriesContext(connection) as one:
        _settings_html(watcher)
    for i in range(8):
        make_thread(board, watcher, title=f"Thread number {i}")
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = _settings_html(watcher)
    assert "Thread number 7" in html


# ---------------------------------------------------------------- one counting rule


def _index_count(user, board: Board) -> int:
    """The post count the board index shows a member for this board."""
    html = client_for(user).get(reverse("forum:index")).content.decode()
    row = html[html.index(board.get_absolute_url()) :]
    return int(re.search(r'<td class="num">([\d,]+)<span class="row-label"> post', row)[1])


def test_board_post_count_is_the_sum_of_visible_posts_of_listed_threads():
    w = make_world()
    board = w.board_a
    first = w.thread.posts.get(number=1)

    def check(expected: int) -> None:
        assert_counts_exact(board)
        assert board.post_count == expected
        assert _index_count(w.member, board) == expected

    check(5 + 1)  # the thread's 5 posts and the other thread's first post
    moderation.hide_post(w.mod_a, w.replies[0], reason="Off topic")
    check(4 + 1)
    actions.delete_own_post(w.author, w.replies[1])
    check(3 + 1)
    moderation.hide_post(w.mod_a, first, reason="Personal details")
    check(2 + 1)
    moderation.hide_thread(w.mod_a, w.thread, reason="Under review")
    check(1)
    # A moderator's reply in the hidden thread counts nowhere a member looks, and does not
    # become the board's latest post either.
    before = Board.objects.get(pk=board.pk).last_post_id
    note = make_reply(w.thread, w.mod_a, "Moderator note while hidden")
    check(1)
    assert board.last_post_id == before == w.other_thread.last_post_id
    moderation.restore_thread(w.mod_a, w.thread)
    check(3 + 1)  # replies 3 and 4, and the moderator's note
    assert board.last_post_id == note.pk
    moderation.restore_post(w.mod_a, first)
    moderation.restore_post(w.mod_a, w.replies[0])
    check(5 + 1)  # reply 2 stays removed by its author
    # Split a visible and a hidden reply off: both boards add up. (A hidden reply cannot
    # start the new thread, so the hidden one is the second.)
    moderation.hide_post(w.mod_a, w.replies[3], reason="Spam")
    check(4 + 1)
    new = moderation.split_thread(
        w.mod_a,
        w.thread,
        post_ids=[w.replies[2].pk, w.replies[3].pk],
        title="Split off with a hidden reply",
        board=w.board_c,
    )
    check(3 + 1)
    assert_counts_exact(w.board_c)
    # The new thread opens with the visible reply 3; reply 4 follows it, hidden.
    assert w.board_c.post_count == 1 and w.board_c.thread_count == 1
    new.refresh_from_db()
    assert new.reply_count == 0 and new.post_count == 2
    assert _index_count(w.member, w.board_c) == 1
    # Merge: the target counts what it received; the source is no longer listed.
    moderation.merge_threads(w.mod_a, w.other_thread, w.thread)
    check(4)
    moderation.delete_thread(w.mod_a, w.thread, reason="Spam")
    check(0)
    assert board.thread_count == 0 and board.last_post_id is None


def test_reply_in_a_listed_thread_still_counts_at_once():
    member = make_member()
    board = make_board()
    thread = make_thread(board, member, title="Counting replies")
    make_reply(thread, make_member(), "One")
    make_reply(thread, make_member(), "Two")
    assert_counts_exact(board)
    assert board.post_count == 3 and board.last_post_id == Post.objects.get(body="Two").pk


def test_bench_counter_checks_follow_the_same_rule():
    """bench/checks.py's SQL invariants agree with the actions after hides, deletes, splits and
    merges (the jsonb reaction check only runs on PostgreSQL), and catch a wrong board count."""
    w = make_world()
    moderation.hide_post(w.mod_a, w.thread.posts.get(number=1), reason="Personal details")
    moderation.hide_post(w.mod_a, w.replies[3], reason="Off topic")  # the last post
    actions.delete_own_post(w.member, w.replies[0])
    moderation.hide_thread(w.mod_a, w.other_thread, reason="Review")
    make_reply(w.other_thread, w.mod_a, "Note in a hidden thread")
    moderation.split_thread(w.mod_a, w.thread, post_ids=[w.replies[2].pk], title="Split thread")
    assert_counts_exact(w.board_a)

    def broken() -> dict[str, int]:
        out = {}
        with connection.cursor() as cursor:
            for name, sql in COUNTER_CHECKS.items():
                if "jsonb" in sql and connection.vendor != "postgresql":
                    continue
                cursor.execute(sql)
                out[name] = cursor.fetchone()[0]
        return out

    assert set(broken().values()) == {0}, broken()
    Board.objects.filter(pk=w.board_a.pk).update(post_count=7)  # all the posts, as before
    wrong = broken()
    assert [n for n, v in wrong.items() if v] == [
        "board thread_count and post_count (listed threads, their visible posts)"
    ]
