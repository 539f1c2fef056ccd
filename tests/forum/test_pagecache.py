"""Anonymous thread pages served from forum.pagecache: a change shows on the next request,
permission checks still run first, members never get a cached page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from forum import actions, moderation, pagecache
from forum.models import Visibility
from tests.conftest import client_for, make_board, make_group, make_member, make_staff

pytestmark = pytest.mark.django_db


def _get(client, url: str):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def test_second_anonymous_view_is_served_from_the_cache(thread):
    url = thread.get_absolute_url()
    _get(client_for(), url)
    assert len(pagecache._pages) == 1
    with CaptureQueriesContext(connection) as captured:
        response = client_for().get(url)
    assert response.status_code == 200
    assert "A thread about CTE pathways" in response.content.decode()
    assert response["Vary"] and "Cookie" in response["Vary"]
    # the thread (with its permission check) and its event number; nothing rendered
    assert len(captured) <= 2


def test_reply_edit_reaction_and_hiding_show_on_the_next_anonymous_view(thread, other_member):
    url = thread.get_absolute_url()
    anonymous = client_for()
    assert "Fresh reply about welding" not in _get(anonymous, url)

    result = actions.reply_to_thread(other_member, thread, body="Fresh reply about welding")
    assert "Fresh reply about welding" in _get(anonymous, url)

    actions.edit_post(other_member, result.post, body="Edited: welding and CNC", reason="")
    page = _get(anonymous, url)
    assert "Edited: welding and CNC" in page and "Fresh reply about welding" not in page

    first = thread.posts.get(number=1)
    actions.react(other_member, first, "thanks")
    assert 'data-kind="thanks" data-count="1"' in _get(anonymous, url)

    staff = make_staff("modstaff")
    moderation.hide_post(staff, result.post, reason="off topic")
    assert "Edited: welding and CNC" not in _get(anonymous, url)


def test_thread_moved_to_a_private_board_is_not_served_from_the_cache(thread, member):
    url = thread.get_absolute_url()
    _get(client_for(), url)
    private = make_board("Board room", visibility=Visibility.GROUPS, groups=[make_group("g")])
    type(thread).objects.filter(pk=thread.pk).update(board=private)
    assert client_for().get(url).status_code == 404


def test_members_never_get_the_anonymous_page(thread, other_member):
    url = thread.get_absolute_url()
    _get(client_for(), url)
    page = _get(client_for(other_member), url)
    assert 'id="reply-form"' in page
    assert "Sign in</a> to reply" not in page
    assert make_member("third") is not None


def test_other_query_parameters_bypass_the_cache(thread):
    _get(client_for(), thread.get_absolute_url() + "?page=1&utm=x")
    assert len(pagecache._pages) == 0


def test_cached_pages_expire(thread, monkeypatch):
    url = thread.get_absolute_url()
    _get(client_for(), url)
    (key,) = pagecache._pages
    monkeypatch.setattr(pagecache._pages, "ttl", -1.0)
    pagecache.put(key, b"stale", "text/html")
    assert "stale" not in _get(client_for(), url)


def test_shared_anonymous_page_holds_no_csrf_token(thread):
    """A cached page is served to every visitor: it must not carry one visitor's CSRF token."""
    first = client_for(None).get(thread.get_absolute_url())
    assert first.status_code == 200
    assert b"csrfmiddlewaretoken" not in first.content
    pagecache.clear()
    pagecache.put("k", b'<input name="csrfmiddlewaretoken" value="x">', "text/html")
    assert pagecache.get("k") is None


# ---------------------------------------------------------------- the board index


def test_second_visitor_view_of_the_board_index_is_served_from_the_cache(thread):
    first = _get(client_for(), "/")
    assert thread.board.name in first
    assert [k for k in pagecache._pages if k.startswith("index:")]
    with CaptureQueriesContext(connection) as captured:
        response = client_for().get("/")
    assert response.content.decode() == first
    assert "Cookie" in response["Vary"]
    assert len(captured) == 1  # the boards' digest; nothing rendered


def test_board_index_changes_show_on_the_next_visitor_view(thread, member, other_member):
    visitor = client_for()
    page = _get(visitor, "/")
    assert "Welding safety refresher" not in page

    actions.create_thread(member, thread.board, title="Welding safety refresher", body="Body.")
    page = _get(visitor, "/")
    assert "Welding safety refresher" in page  # the latest post and the counts moved

    actions.reply_to_thread(other_member, thread, body="A newer reply")
    assert "A thread about CTE pathways" in _get(visitor, "/")

    type(thread.board).objects.filter(pk=thread.board.pk).update(name="Networking and jobs")
    assert "Networking and jobs" in _get(visitor, "/")

    type(thread.board).objects.filter(pk=thread.board.pk).update(visibility=Visibility.MEMBERS)
    assert "Networking and jobs" not in _get(visitor, "/")


def test_a_hidden_last_post_leaves_the_visitor_index_at_once(thread, member):
    actions.create_thread(member, thread.board, title="Quiet thread", body="Body.")
    latest = actions.reply_to_thread(member, thread, body="Latest words").post
    page = _get(client_for(), "/")
    assert "A thread about CTE pathways" in page and "Quiet thread" not in page
    moderation.hide_post(make_staff("hider"), latest, reason="off topic")
    page = _get(client_for(), "/")
    assert "Quiet thread" in page  # the board's last visible post is now the other thread's


def test_members_never_get_the_visitor_board_index(thread, member):
    _get(client_for(), "/")
    page = _get(client_for(member), "/")
    assert "What is new since your last visit" in page
    assert member.username in page or member.name in page


def test_board_index_with_query_parameters_is_not_shared(thread):
    _get(client_for(), "/?utm=x")
    assert not [k for k in pagecache._pages if k.startswith("index:")]


# ---------------------------------------------------------------- board pages


def test_second_visitor_view_of_a_board_page_is_served_from_the_cache(thread):
    url = thread.board.get_absolute_url()
    first = _get(client_for(), url)
    assert "A thread about CTE pathways" in first
    assert [k for k in pagecache._pages if k.startswith(f"board:{thread.board.pk}:")]
    with CaptureQueriesContext(connection) as captured:
        response = client_for().get(url)
    assert response.content.decode() == first
    assert "Cookie" in response["Vary"]
    assert len(captured) == 1  # the board with its permission data and event number


def test_board_page_changes_show_on_the_next_visitor_view(thread, member, other_member):
    url = thread.board.get_absolute_url()
    visitor = client_for()
    staff = make_staff("boardmod")
    assert "Welding safety refresher" not in _get(visitor, url)

    new = actions.create_thread(member, thread.board, title="Welding safety refresher", body="B.")
    assert "Welding safety refresher" in _get(visitor, url)

    reply = actions.reply_to_thread(other_member, thread, body="A reply").post
    page = _get(visitor, url)
    row = page.split(f'data-thread-id="{thread.pk}"')[1].split("</tr>")[0]
    assert '<span class="reply-count">1</span>' in row and other_member.name in row

    moderation.pin_thread(staff, thread)
    assert "📌 Pinned" in _get(visitor, url)
    moderation.lock_thread(staff, new)
    assert "🔒 Locked" in _get(visitor, url)
    moderation.rename_thread(staff, new, title="Welding safety, revised")
    assert "Welding safety, revised" in _get(visitor, url)

    moderation.hide_post(staff, reply, reason="off topic")
    row = _get(visitor, url).split(f'data-thread-id="{thread.pk}"')[1].split("</tr>")[0]
    assert '<span class="reply-count">0</span>' in row

    moderation.hide_thread(staff, new, reason="duplicate")
    assert "Welding safety, revised" not in _get(visitor, url)

    elsewhere = make_board("Advocacy")
    moderation.move_thread(staff, thread, board=elsewhere)
    assert "A thread about CTE pathways" not in _get(visitor, url)

    type(thread.board).objects.filter(pk=thread.board.pk).update(description="Jobs and people")
    assert "Jobs and people" in _get(visitor, url)


def test_board_made_private_is_not_served_from_the_cache(thread):
    url = thread.board.get_absolute_url()
    _get(client_for(), url)
    type(thread.board).objects.filter(pk=thread.board.pk).update(visibility=Visibility.MEMBERS)
    assert client_for().get(url).status_code == 404


def test_members_never_get_the_visitor_board_page(thread, member):
    url = thread.board.get_absolute_url()
    _get(client_for(), url)
    page = _get(client_for(member), url)
    assert "Mark all read" in page


def test_board_page_numbers_are_cached_apart_and_other_parameters_not_at_all(thread, member):
    from django.conf import settings

    per = settings.FORUM["THREADS_PER_PAGE"]
    for i in range(per):
        actions.create_thread(member, thread.board, title=f"Filler thread {i}", body="Body.")
    url = thread.board.get_absolute_url()
    first, second = _get(client_for(), url), _get(client_for(), url + "?page=2")
    assert "A thread about CTE pathways" not in first and "A thread about CTE pathways" in second
    assert _get(client_for(), url + "?page=2") == second
    assert len([k for k in pagecache._pages if k.startswith("board:")]) == 2
    _get(client_for(), url + "?utm=x")
    assert len([k for k in pagecache._pages if k.startswith("board:")]) == 2
