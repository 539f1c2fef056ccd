"""Threads and replies as a member uses them: reply form, permalinks, edits with history, soft
delete, reactions, quotes, mentions, unread tracking and 'mark all read'."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from forum import actions
from forum.models import BoardReadMark, Post, Reaction, ReadState, Thread
from tests.conftest import (
    client_for,
    make_board,
    make_member,
    make_reply,
    make_staff,
    make_thread,
)


def _html(response) -> str:
    return response.content.decode()


def _replies(thread, author, n):
    return [make_reply(thread, author, f"Reply number {i}") for i in range(n)]


# ---------------------------------------------------------------- the reply form


@pytest.mark.django_db
def test_thread_page_reply_form_is_at_the_end_labelled_reply(member, thread):
    html = _html(client_for(member).get(thread.get_absolute_url()))
    form = re.search(r'<form method="post" action="/t/\d+/reply/".*?</form>', html, re.S).group(0)
    assert re.search(r'<label for="id_body">Reply</label>', form)
    assert '<button type="submit" class="button">Post reply</button>' in form
    assert html.index('id="reply-form"') > html.rindex('class="post')
    assert 'class="markdownx-editor"' in form and 'class="markdownx-preview"' in form
    assert "/static/markdownx/js/markdownx" in html  # the widget's JS (live preview)


@pytest.mark.django_db
def test_reply_to_thread_redirects_to_the_new_post(member, other_member, thread):
    response = client_for(other_member).post(f"/t/{thread.pk}/reply/", {"body": "Agreed!"})
    post = Post.objects.get(thread=thread, number=2)
    assert response.status_code == 302 and response["Location"] == f"/p/{post.pk}/"
    page = client_for(other_member).get(response["Location"], follow=True)
    assert "Agreed!" in _html(page)


@pytest.mark.django_db
def test_thread_titled_reply_is_still_reachable(member, board):
    thread = make_thread(board, member, title="Reply")
    assert thread.get_absolute_url() == f"/t/{thread.pk}/reply/"
    response = client_for().get(thread.get_absolute_url())
    assert response.status_code == 200 and "First post body." in _html(response)


@pytest.mark.django_db
def test_visitor_sees_sign_in_instead_of_reply_form(thread):
    html = _html(client_for().get(thread.get_absolute_url()))
    assert 'id="reply-form"' not in html and "to reply." in html


@pytest.mark.django_db
def test_locked_thread_shows_why_instead_of_the_form(member, other_member, thread):
    Thread.objects.filter(pk=thread.pk).update(is_locked=True)
    html = _html(client_for(other_member).get(thread.get_absolute_url()))
    assert 'id="reply-form"' not in html
    assert "This thread is locked: no new replies." in html


# ---------------------------------------------------------------- permalinks


@pytest.mark.django_db
def test_post_permalink_resolves_to_the_right_page(member, other_member, board, settings):
    per = settings.FORUM["POSTS_PER_PAGE"]
    thread = make_thread(board, member)
    posts = _replies(thread, other_member, per * 2 + 3)
    first = thread.posts.get(number=1)
    client = client_for()
    location = client.get(f"/p/{first.pk}/")["Location"]
    assert location == f"{thread.get_absolute_url()}?page=1#post-{first.pk}"
    for post, page in [(posts[per - 2], 1), (posts[per - 1], 2), (posts[-1], 3)]:
        assert post.number in range((page - 1) * per + 1, page * per + 1)
        location = client.get(f"/p/{post.pk}/")["Location"]
        assert location == f"{thread.get_absolute_url()}?page={page}#post-{post.pk}"
        assert f'id="post-{post.pk}"' in _html(client.get(location.split("#")[0]))


@pytest.mark.django_db
def test_short_thread_link_and_wrong_slug_redirect_to_the_canonical_url(thread):
    client = client_for()
    assert client.get(f"/t/{thread.pk}/")["Location"] == thread.get_absolute_url()
    assert client.get(f"/t/{thread.pk}/old-title/?page=1")["Location"] == (
        thread.get_absolute_url() + "?page=1"
    )


# ---------------------------------------------------------------- edits and history


@pytest.mark.django_db
def test_edit_post_keeps_revision_and_shows_edited(member, other_member, thread):
    post = thread.posts.get(number=1)
    client = client_for(member)
    response = client.post(
        f"/p/{post.pk}/edit/",
        {"title": "Pathways for welding", "body": "Second version\nsame line", "reason": "typo"},
    )
    assert response.status_code == 302
    post.refresh_from_db()
    thread.refresh_from_db()
    assert post.body == "Second version\nsame line" and post.edit_count == 1
    assert thread.title == "Pathways for welding"
    rev = post.revisions.get()
    assert rev.body == "First post body." and rev.title == "A thread about CTE pathways"
    assert rev.reason == "typo" and rev.editor == member
    page = _html(client_for(other_member).get(thread.get_absolute_url()))
    assert "· edited" in page
    assert f"/p/{post.pk}/history/" not in page  # others see "edited" but no history link
    assert f"/p/{post.pk}/history/" in _html(client.get(thread.get_absolute_url()))


@pytest.mark.django_db
def test_post_history_shows_diff_to_author_and_moderators_only(member, other_member, board):
    mod = make_member("mod")
    board.moderators.add(mod)
    thread = make_thread(board, member, body="line one\nline two")
    post = thread.posts.get(number=1)
    actions.edit_post(member, post, body="line one\nline 2, better", reason="clarity")
    url = f"/p/{post.pk}/history/"
    for viewer in (member, mod, make_member(is_staff=True)):
        response = client_for(viewer).get(url)
        assert response.status_code == 200
        html = _html(response)
        assert '<span class="diff-del">-line two</span>' in html
        assert '<span class="diff-add">+line 2, better</span>' in html
        assert "Reason: clarity" in html
    assert client_for(other_member).get(url).status_code == 404
    assert client_for().get(url).status_code == 404


@pytest.mark.django_db
def test_unedited_post_has_no_edited_marker(thread):
    html = _html(client_for().get(thread.get_absolute_url()))
    assert '<span class="post-edited muted" hidden>' in html


# ---------------------------------------------------------------- soft delete


@pytest.mark.django_db
def test_delete_own_post_leaves_a_removed_marker(member, other_member, thread):
    post = make_reply(thread, other_member, "I regret this")
    response = client_for(other_member).post(f"/p/{post.pk}/delete/")
    assert response.status_code == 302
    post.refresh_from_db()
    thread.refresh_from_db()
    assert post.is_deleted and post.deleted_by == other_member
    assert thread.reply_count == 0 and thread.post_count == 2  # numbers stay dense
    for viewer in (None, member, other_member):
        html = _html(client_for(viewer).get(thread.get_absolute_url() + "?page=1"))
        assert "This post was removed." in html
        assert "I regret this" not in html
        assert f'id="post-{post.pk}"' in html  # its permalink anchor still lands


@pytest.mark.django_db
def test_moderator_still_sees_removed_post_marked(member, other_member, board):
    mod = make_member("mod")
    board.moderators.add(mod)
    thread = make_thread(board, member)
    post = make_reply(thread, other_member, "I regret this")
    actions.delete_own_post(other_member, post)
    html = _html(client_for(mod).get(thread.get_absolute_url() + "?page=1"))
    assert "I regret this" in html and "Removed. Only moderators can see this post." in html


@pytest.mark.django_db
def test_first_post_cannot_be_deleted_by_its_author(member, thread):
    post = thread.posts.get(number=1)
    response = client_for(member).post(f"/p/{post.pk}/delete/")
    assert response.status_code == 403
    assert "only be removed by a moderator" in _html(response)


@pytest.mark.django_db
def test_delete_button_asks_for_confirmation(member, other_member, thread):
    make_reply(thread, other_member, "mine")
    html = _html(client_for(other_member).get(thread.get_absolute_url() + "?page=1"))
    assert 'class="inline-form owner-control confirm-form" data-confirm="Remove this post?"' in html


# ---------------------------------------------------------------- reactions


@pytest.mark.django_db
def test_react_json_returns_counts_mine_and_who(member, other_member, thread):
    post = thread.posts.get(number=1)
    third = make_member("ana", display_name="Ana Ruiz")
    actions.react(third, post, "like")
    response = client_for(other_member).post(
        f"/p/{post.pk}/react/", {"kind": "like"}, HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 200
    assert response.json() == {
        "counts": {"like": 2},
        "mine": True,
        "kind": "like",
        "names": ["Ana Ruiz", "James"],
    }
    undo = client_for(other_member).post(
        f"/p/{post.pk}/react/", {"kind": "like", "undo": "1"}, HTTP_ACCEPT="application/json"
    )
    assert undo.json() == {
        "counts": {"like": 1},
        "mine": False,
        "kind": "like",
        "names": ["Ana Ruiz"],
    }


@pytest.mark.django_db
def test_react_without_js_redirects_and_page_shows_counts_and_names(member, other_member, thread):
    post = thread.posts.get(number=1)
    client = client_for(other_member)
    response = client.post(f"/p/{post.pk}/react/", {"kind": "thanks"})
    assert response.status_code == 302 and response["Location"] == f"/p/{post.pk}/"
    html = _html(client.get(thread.get_absolute_url() + "?page=1"))
    button = re.search(
        r'<button type="submit" class="reaction mine" data-kind="thanks".*?</button>', html, re.S
    ).group(0)
    assert 'aria-pressed="true"' in button and 'title="Thanks: James"' in button
    assert '<span class="count">1</span>' in button
    assert 'name="undo" value="1"' in html


@pytest.mark.django_db
def test_reactions_are_disabled_for_own_posts_and_visitors(member, thread):
    for client in (client_for(member), client_for()):
        html = _html(client.get(thread.get_absolute_url() + "?page=1"))
        buttons = re.findall(r'<button type="submit" class="reaction.*?>', html, re.S)
        assert buttons and all("disabled" in b for b in buttons)


# ---------------------------------------------------------------- quote and mentions


@pytest.mark.django_db
def test_quote_source_returns_attributed_markdown(member, other_member, thread):
    post = thread.posts.get(number=1)
    actions.edit_post(member, post, body="Line one\nLine two")
    response = client_for(other_member).get(f"/p/{post.pk}/quote/")
    assert response.json() == {
        "markdown": f"> [@maria wrote](/p/{post.pk}/):\n> Line one\n> Line two\n\n",
        "author": "maria",
    }


@pytest.mark.django_db
def test_quote_source_refuses_removed_posts(member, other_member, thread):
    post = make_reply(thread, other_member, "gone soon")
    actions.delete_own_post(other_member, post)
    response = client_for(member).get(f"/p/{post.pk}/quote/")
    assert response.status_code == 403 and "cannot be quoted" in response.json()["error"]


@pytest.mark.django_db
def test_quote_button_shown_only_to_members_who_may_reply(member, other_member, thread):
    assert "quote-button" in _html(client_for(other_member).get(thread.get_absolute_url()))
    anon = _html(client_for().get(thread.get_absolute_url()))
    assert re.search(r'class="linklike quote-button"[^>]*hidden', anon)


@pytest.mark.django_db
def test_member_autocomplete_matches_active_members_for_members_only(member):
    make_member("marisol", display_name="Marisol Vega")
    make_member("mario_old", is_active=False)
    make_member("zed", display_name="Maria Zed")
    response = client_for(member).get("/api/members/", {"q": "@mari"})
    names = [r["username"] for r in response.json()["results"]]
    assert names == ["maria", "marisol", "zed"]
    assert client_for().get("/api/members/", {"q": "mari"}).status_code == 403
    assert client_for(member).get("/api/members/", {"q": ""}).json() == {"results": []}


@pytest.mark.django_db
def test_mention_in_reply_links_to_profile(member, other_member, thread):
    post = make_reply(thread, other_member, "Ask @maria, not @nobody")
    assert '<a class="mention" href="/u/maria/"' in post.html
    assert "/u/nobody/" not in post.html


# ---------------------------------------------------------------- unread tracking


@pytest.mark.django_db
def test_board_rows_show_new_and_unread_counts(member, other_member, board):
    reader = make_member("reader")
    seen = make_thread(board, member, title="Seen thread with replies")
    never = make_thread(board, member, title="Never opened thread")
    client = client_for(reader)
    client.get(seen.get_absolute_url())  # reads post 1
    _replies(seen, other_member, 3)
    html = _html(client.get(board.get_absolute_url()))
    row_seen = re.search(rf'data-thread-id="{seen.pk}".*?</tr>', html, re.S).group(0)
    row_never = re.search(rf'data-thread-id="{never.pk}".*?</tr>', html, re.S).group(0)
    assert "3 unread" in row_seen and 'class="tag tag-new"' not in row_seen
    assert '<span class="tag tag-new">new</span>' in row_never
    assert "new" not in _html(client_for().get(board.get_absolute_url())).split("<tbody>")[1]


@pytest.mark.django_db
def test_opening_a_thread_jumps_to_first_unread(member, other_member, board, settings):
    per = settings.FORUM["POSTS_PER_PAGE"]
    reader = make_member("reader")
    thread = make_thread(board, member)
    _replies(thread, other_member, per + 5)  # posts 2 .. per+6
    thread.refresh_from_db()
    actions.mark_read(reader, thread, per + 2)
    response = client_for(reader).get(thread.get_absolute_url())
    assert response["Location"] == f"{thread.get_absolute_url()}?page=2#n{per + 3}"
    page = client_for(reader).get(response["Location"].split("#")[0])
    assert 'class="unread-divider"' in _html(page)
    assert ReadState.objects.get(user=reader, thread=thread).last_read_number == per + 6
    # All read now: the next visit opens page 1 without a jump.
    assert client_for(reader).get(thread.get_absolute_url()).status_code == 200


@pytest.mark.django_db
def test_opening_a_thread_jumps_to_first_unread_on_page_one(member, other_member, thread):
    reader = make_member("reader")
    actions.mark_read(reader, thread, 1)
    make_reply(thread, other_member, "new")
    response = client_for(reader).get(thread.get_absolute_url())
    assert response["Location"] == f"{thread.get_absolute_url()}?page=1#n2"


@pytest.mark.django_db
def test_reading_a_page_never_moves_read_state_backwards(member, other_member, thread):
    _replies(thread, other_member, 30)
    reader = make_member("reader")
    thread.refresh_from_db()
    actions.mark_read(reader, thread, 31)
    client_for(reader).get(thread.get_absolute_url() + "?page=1")
    assert ReadState.objects.get(user=reader, thread=thread).last_read_number == 31


@pytest.mark.django_db
def test_mark_board_read_clears_new_and_unread(member, other_member, board):
    reader = make_member("reader")
    a = make_thread(board, member, title="Thread alpha here")
    make_thread(board, member, title="Thread beta here")
    client = client_for(reader)
    client.get(a.get_absolute_url())
    _replies(a, other_member, 2)
    before = _html(client.get(board.get_absolute_url())).split("<tbody>")[1]
    assert "2 unread" in before and "tag-new" in before
    response = client.post(f"/b/{board.slug}/mark-read/")
    assert response.status_code == 302
    assert BoardReadMark.objects.filter(user=reader, board=board).exists()
    after = _html(client.get(board.get_absolute_url())).split("<tbody>")[1]
    assert "unread" not in after and "tag-new" not in after
    # A reply after the mark makes that thread unread again.
    BoardReadMark.objects.filter(user=reader).update(
        marked_at=timezone.now() - timedelta(seconds=5)
    )
    make_reply(a, other_member, "later")
    again = _html(client.get(board.get_absolute_url())).split("<tbody>")[1]
    assert "1 unread" in again


@pytest.mark.django_db
def test_never_opened_thread_with_replies_after_board_mark_shows_new_replies(member, board):
    reader = make_member("reader")
    thread = make_thread(board, member)
    actions.mark_board_read(reader, board)
    BoardReadMark.objects.filter(user=reader).update(
        marked_at=timezone.now() - timedelta(seconds=5)
    )
    Thread.objects.filter(pk=thread.pk).update(created_at=timezone.now() - timedelta(seconds=9))
    make_reply(thread, make_member(), "after the mark")
    row = _html(client_for(reader).get(board.get_absolute_url())).split("<tbody>")[1]
    assert ">new replies</a>" in row and "tag-new" not in row


@pytest.mark.django_db
def test_board_index_lists_only_visible_boards_with_counts(member, other_member):
    open_board = make_board("Open board")
    hidden = make_board("Board room", visibility="members")
    make_thread(open_board, member)
    html = _html(client_for().get("/"))
    assert "Open board" in html and "Board room" not in html
    assert "Board room" in _html(client_for(member).get("/"))
    assert hidden.pk


@pytest.mark.django_db
def test_board_page_orders_pinned_first_then_latest(member, other_member, board):
    old = make_thread(board, member, title="Old but pinned thread")
    mid = make_thread(board, member, title="Middle thread here")
    new = make_thread(board, member, title="Newest thread here")
    Thread.objects.filter(pk=old.pk).update(is_pinned=True)
    make_reply(mid, other_member, "bump")  # mid now has the latest activity
    html = _html(client_for().get(board.get_absolute_url()))
    order = [int(x) for x in re.findall(r'data-thread-id="(\d+)"', html)]
    assert order == [old.pk, mid.pk, new.pk]


@pytest.mark.django_db
def test_reaction_rows_are_removed_with_unreact(member, other_member, thread):
    post = thread.posts.get(number=1)
    actions.react(other_member, post, "insightful")
    actions.unreact(other_member, post, "insightful")
    post.refresh_from_db()
    assert post.reaction_counts == {} and not Reaction.objects.exists()


@pytest.mark.django_db
def test_board_pages_count_listed_threads_for_members_and_all_for_moderators(
    member, other_member, board, monkeypatch
):
    """A member's page count comes from the board's thread_count (no COUNT over the board); it
    must agree with what the member is listed, through hiding, deleting and new threads."""
    from django.conf import settings

    from forum import moderation, queries

    monkeypatch.setitem(settings.FORUM, "THREADS_PER_PAGE", 2)
    threads = [make_thread(board, member, title=f"Listed thread {i}") for i in range(5)]
    staff = make_staff("pagemod")
    moderation.hide_thread(staff, threads[0], reason="spam")
    moderation.delete_thread(staff, threads[1], reason="")

    def pages(user):
        board.refresh_from_db()
        first = queries.board_page(user, board, 1)
        listed = [
            t for n in range(1, first.count + 1) for t in queries.board_page(user, board, n).items
        ]
        return first.count, listed

    count, listed = pages(other_member)
    assert (count, len(listed)) == (2, 3)
    assert threads[0] not in listed and threads[1] not in listed
    assert pages(staff)[0] == 3  # moderators also page through the hidden and deleted ones
    make_thread(board, other_member, title="Listed thread 5")
    assert pages(other_member)[0] == 2 and len(pages(other_member)[1]) == 4
    make_thread(board, other_member, title="Listed thread 6")
    assert pages(other_member)[0] == 3 and len(pages(other_member)[1]) == 5
    assert pages(other_member)[1][-1].title == "Listed thread 2"  # the oldest listed, last


@pytest.mark.django_db
def test_board_pages_list_every_thread_once_in_order_for_every_viewer(
    member, other_member, board, monkeypatch
):
    """Page N's ids are read first, then their rows (queries.board_page): every page, for a
    visitor, a member and a moderator, lists the board's threads pinned first, then by latest
    post, each exactly once, with their people loaded."""
    from django.conf import settings
    from django.contrib.auth.models import AnonymousUser

    from forum import moderation, queries

    monkeypatch.setitem(settings.FORUM, "THREADS_PER_PAGE", 4)
    threads = [make_thread(board, member, title=f"Ordered thread {i}") for i in range(11)]
    staff = make_staff("ordermod")
    actions.reply_to_thread(other_member, threads[3], body="Bumps thread 3 to the top.")
    moderation.pin_thread(staff, threads[7])
    moderation.pin_thread(staff, threads[1])
    moderation.hide_thread(staff, threads[5], reason="spam")
    moderation.delete_thread(staff, threads[9], reason="")
    board.refresh_from_db()

    def listed(user):
        first = queries.board_page(user, board, 1)
        return [
            t for n in range(1, first.count + 1) for t in queries.board_page(user, board, n).items
        ]

    everything = Thread.objects.filter(board=board).order_by("-is_pinned", "-last_post_at", "-id")
    for user, expect in (
        (AnonymousUser(), [t for t in everything if not (t.is_hidden or t.is_deleted)]),
        (other_member, [t for t in everything if not (t.is_hidden or t.is_deleted)]),
        (staff, list(everything)),
    ):
        got = listed(user)
        assert [t.pk for t in got] == [t.pk for t in expect]
        assert got[0].pk in (threads[1].pk, threads[7].pk) and got[2].pk == threads[3].pk
        assert got[2].last_poster.name == other_member.name and got[2].author.name == member.name
