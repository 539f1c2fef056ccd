"""Audit of issue 3 (forum core), points 1 to 6: the clauses no other test proved on its own.

Each test names the clause it proves; docs/ACCEPTANCE.md maps every clause to its tests."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from forum import actions, moderation, search
from forum.models import Post, PostingRule, ReadState, Thread, Visibility
from forum.permissions import forget_cached_permissions
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


def _html(response) -> str:
    return response.content.decode()


def _row(html: str, marker: str) -> str:
    """The table row (<tr>...</tr>) that contains `marker`."""
    for row in re.findall(r"<tr.*?</tr>", html, re.S):
        if marker in row:
            return row
    raise AssertionError(f"no row with {marker!r}")


def _search_ids(user, q: str, **params) -> list[int]:
    response = client_for(user).get("/search/", {"q": q, **params})
    assert response.status_code == 200
    return [hit.post.pk for hit in response.context["results"].hits]


# ---------------------------------------------------------------- 3.1 boards


def test_board_index_shows_thread_and_post_counts_and_latest_activity():
    """3.1: each visible board with its thread and post counts and latest activity."""
    alice = make_member("alice", display_name="Alice Nakamura")
    bruno = make_member("bruno", display_name="Bruno Ortega")
    board = make_board("Agriculture pathways")
    quiet = make_board("Quiet board")
    first = make_thread(board, alice, title="Greenhouse grant ideas")
    make_reply(first, bruno, "One idea.")
    latest = make_thread(board, alice, title="Irrigation lab schedule")
    make_reply(latest, bruno, "Tuesday works.")
    make_reply(latest, bruno, "Or Thursday.")
    html = _html(client_for().get("/"))
    row = _row(html, "Agriculture pathways")
    assert re.search(r'<td class="num">2<span class="row-label"> threads', row)
    assert re.search(r'<td class="num">5<span class="row-label"> posts', row)
    assert "Irrigation lab schedule" in row and "by Bruno Ortega" in row
    last = Post.objects.get(thread=latest, number=3)
    assert f'href="/p/{last.pk}/"' in row  # the latest activity links to the latest post
    assert "No posts yet" in _row(html, "Quiet board") and quiet.pk


def test_board_index_lists_boards_by_position_with_name_description_and_link():
    """3.1: a board has a name, slug, description and position; the index follows position."""
    later = make_board("Zeta board")
    earlier = make_board("Alpha board")
    type(later).objects.filter(pk=later.pk).update(position=1)
    type(earlier).objects.filter(pk=earlier.pk).update(position=2, description="Welding and CNC")
    html = _html(client_for().get("/"))
    assert html.index("Zeta board") < html.index("Alpha board")  # position, not name
    row = _row(html, "Alpha board")
    assert f'href="/b/{earlier.slug}/"' in row and "Welding and CNC" in row


def test_board_index_counts_and_latest_leave_out_hidden_threads():
    """3.1: counts and latest activity shown to members never include a hidden thread."""
    author, mod = make_member(), make_member()
    board = make_board("Career fairs", moderators=[mod])
    make_thread(board, author, title="Spring fair booths")
    hidden = make_thread(board, author, title="Vendor kickback rumour")
    moderation.hide_thread(mod, hidden, reason="Unverified claim")
    row = _row(_html(client_for(make_member()).get("/")), "Career fairs")
    assert "Vendor kickback rumour" not in row and "Spring fair booths" in row
    assert re.search(r'<td class="num">1<span class="row-label"> thread<', row)


def test_private_board_appears_nowhere_for_outsiders():
    """3.1: a board the viewer may not see is absent from the index, the "new" page, search
    (results and board filter), profiles, notifications, counts and links."""
    insider = make_member("insider", display_name="Ines Insider")
    outsider = make_member("outsider", display_name="Otto Outsider")
    group = make_group("Board of directors", insider)
    private = make_board(
        "Directors room",
        visibility=Visibility.GROUPS,
        start_rule=PostingRule.GROUPS,
        reply_rule=PostingRule.GROUPS,
        groups=[group],
    )
    public = make_board("Open hall")
    make_thread(public, insider, title="Welcome to the hall", body="Hello everyone.")
    secret = make_thread(
        private, insider, title="Zanzibar budget plan", body="The zanzibar numbers, @outsider."
    )
    reply = make_reply(secret, insider, "More zanzibar detail for @outsider.")
    forget_cached_permissions(insider)

    secret_words = ("Directors room", "Zanzibar budget plan", private.slug)
    for viewer in (None, outsider):
        client = client_for(viewer)
        pages = ["/", "/search/?q=zanzibar", "/search/"]
        if viewer is not None:
            pages += [
                "/new/",
                f"/u/{insider.username}/",
                "/notifications/",
                "/notifications/settings/",
            ]
        for url in pages:
            response = client.get(url)
            assert response.status_code == 200, url
            html = _html(response)
            for word in secret_words:
                assert word not in html, (viewer, url, word)
            assert f"/t/{secret.pk}/" not in html and f"/p/{reply.pk}/" not in html
        # Counts: the public board counts only its own thread; no total reveals the other.
        row = _row(_html(client.get("/")), "Open hall")
        assert re.search(r'<td class="num">1<span class="row-label"> thread<', row)
        # Links: board, thread and post addresses answer like missing ones.
        for url in (f"/b/{private.slug}/", secret.get_absolute_url(), f"/p/{reply.pk}/"):
            assert client.get(url).status_code == 404, (viewer, url)
    assert _search_ids(outsider, "zanzibar") == []
    assert len(_search_ids(insider, "zanzibar")) == 2  # the insider does find them
    assert not outsider.notifications.exists()  # mentioned, but told nothing


def test_thread_moved_to_private_board_leaves_no_trace_on_the_public_index():
    """3.1: after a move, the old board's counts and latest activity stop naming the thread."""
    mod = make_staff()
    author = make_member()
    public = make_board("Public square")
    private = make_board("Back office", visibility=Visibility.MEMBERS)
    make_thread(public, author, title="Older public thread")
    moving = make_thread(public, author, title="Soon private planning")
    make_reply(moving, make_member(), "A reply.")
    assert "Soon private planning" in _row(_html(client_for().get("/")), "Public square")
    moderation.move_thread(mod, moving, board=private)
    html = _html(client_for().get("/"))
    row = _row(html, "Public square")
    assert "Soon private planning" not in html and "Back office" not in html
    assert "Older public thread" in row
    assert re.search(r'<td class="num">1<span class="row-label"> thread<', row)
    assert re.search(r'<td class="num">1<span class="row-label"> post<', row)


def test_group_posting_rule_lets_only_group_members_start_and_reply():
    """3.1: posting rule "named groups" (the board itself visible to every member)."""
    teacher, parent = make_member("teacher"), make_member("parent")
    group = make_group("Teachers", teacher)
    board = make_board(
        "Teachers lounge",
        visibility=Visibility.MEMBERS,
        start_rule=PostingRule.GROUPS,
        reply_rule=PostingRule.GROUPS,
    )
    board.posting_groups.set([group])
    board_html = _html(client_for(teacher).get(board.get_absolute_url()))
    assert "Start a thread" in board_html
    assert "Start a thread" not in _html(client_for(parent).get(board.get_absolute_url()))
    response = client_for(teacher).post(
        f"/b/{board.slug}/new/", {"title": "Grading rubric swap", "body": "Share yours here."}
    )
    assert response.status_code == 302
    thread = Thread.objects.get(board=board)
    refused = client_for(parent).post(
        f"/b/{board.slug}/new/", {"title": "Parent question here", "body": "Can I post?"}
    )
    assert refused.status_code == 403
    assert "You do not have posting rights in Teachers lounge." in _html(refused)
    assert "Can I post?" in _html(refused)  # the refused form keeps the text
    page = _html(client_for(parent).get(thread.get_absolute_url()))
    assert "Share yours here." in page and 'id="reply-form"' not in page
    assert "You do not have posting rights in Teachers lounge." in page
    refused = client_for(parent).post(f"/t/{thread.pk}/reply/", {"body": "Me too please."})
    assert refused.status_code == 403 and "Me too please." in _html(refused)
    ok = client_for(teacher).post(f"/t/{thread.pk}/reply/", {"body": "Mine is attached."})
    assert ok.status_code == 302
    assert list(thread.posts.values_list("author__username", flat=True)) == ["teacher"] * 2


# ---------------------------------------------------------------- 3.2 board page


def test_board_row_shows_title_author_replies_latest_poster_time_and_unread():
    """3.2: each row shows title, author, replies, latest poster and time, new / N unread."""
    author = make_member("author", display_name="Ana Author")
    replier = make_member("replier", display_name="Rafael Replier")
    reader = make_member("reader")
    board = make_board()
    thread = make_thread(board, author, title="Shop safety signage")
    make_reply(thread, replier, "Laminated ones last longer.")
    untouched = make_thread(board, author, title="Never opened thread")
    thread.refresh_from_db()
    actions.mark_read(reader, thread, 1)
    make_reply(thread, author, "Agreed.")
    thread.refresh_from_db()
    html = _html(client_for(reader).get(board.get_absolute_url()))
    row = _row(html, f'data-thread-id="{thread.pk}"')
    assert "Shop safety signage" in row and "by Ana Author" in row
    assert '<span class="reply-count">2</span>' in row
    assert "Ana Author" in row.split('class="latest"')[1]  # the latest poster
    assert f'datetime="{timezone.localtime(thread.last_post_at).isoformat()}"' in row
    assert "2 unread" in row
    assert '<span class="tag tag-new">new</span>' in _row(html, f'data-thread-id="{untouched.pk}"')
    # A visitor sees the same facts, without unread state.
    visitor_row = _row(_html(client_for().get(board.get_absolute_url())), "Shop safety")
    assert "unread" not in visitor_row and "tag-new" not in visitor_row


# ---------------------------------------------------------------- 3.3 threads and replies


def test_deleting_own_last_reply_moves_thread_and_board_latest_back():
    """3.3 (soft delete) with 3.1/3.2: the thread row and board index stop naming a removed
    post as the latest activity, as they do for a hidden one."""
    author = make_member("author", display_name="Ana Author")
    late = make_member("late", display_name="Lorenzo Late")
    board = make_board("Robotics")
    thread = make_thread(board, author, title="Competition travel")
    kept = make_reply(thread, author, "Bus booked.")
    gone = make_reply(thread, late, "Actually, never mind this.")
    actions.delete_own_post(late, gone)
    thread.refresh_from_db()
    board.refresh_from_db()
    assert thread.reply_count == 1
    assert thread.last_post_id == kept.pk and thread.last_poster_id == author.pk
    assert board.last_post_id == kept.pk
    assert "Lorenzo Late" not in _row(_html(client_for().get("/")), "Robotics")
    row = _row(_html(client_for().get(board.get_absolute_url())), "Competition travel")
    assert "Lorenzo Late" not in row
    page = _html(client_for().get(thread.get_absolute_url()))
    assert "This post was removed." in page and "never mind" not in page


def test_permalink_of_a_merged_post_resolves_to_its_page_in_the_new_thread(settings):
    """3.3: permalinks resolve to the right page, also after a merge renumbered the post."""
    per = settings.FORUM["POSTS_PER_PAGE"]
    mod, author = make_staff(), make_member()
    board = make_board()
    target = make_thread(board, author, title="Main welding thread")
    for i in range(per):
        make_reply(target, author, f"Target reply {i}")
    source = make_thread(board, author, title="Duplicate welding thread")
    moved = make_reply(source, author, "Moved reply")
    moderation.merge_threads(mod, source, target)
    moved.refresh_from_db()
    assert moved.thread_id == target.pk and moved.number == per + 3
    target.refresh_from_db()
    location = client_for().get(f"/p/{moved.pk}/")["Location"]
    assert location == f"{target.get_absolute_url()}?page=2#post-{moved.pk}"
    assert f'id="post-{moved.pk}"' in _html(client_for().get(location.split("#")[0]))
    # The old thread address leads to the thread it was merged into.
    assert client_for().get(source.get_absolute_url())["Location"] == f"/t/{target.pk}/"


# ---------------------------------------------------------------- 3.4 one renderer


def test_email_excerpt_comes_from_the_sanitized_rendering(django_capture_on_commit_callbacks):
    """3.4: the same rendering serves posts and notification/email excerpts: the email carries
    the rendered words, never Markdown syntax, a raw HTML tag or a javascript: link."""
    from django.core import mail

    from forum import notifications
    from forum.markdown import excerpt
    from forum.models import NotificationKind

    author, replier = make_member(), make_member()
    thread = make_thread(make_board(), author)
    notifications.update_preferences(author, {NotificationKind.REPLY: "email"})
    body = "**Welding** grant ~~closed~~ <img src=x onerror=alert(1)> [go](javascript:alert(1))"
    with django_capture_on_commit_callbacks(execute=True):
        post = make_reply(thread, replier, body)
    [message] = mail.outbox
    html = message.alternatives[0][0]
    assert excerpt(post.html, 300) in message.body
    assert "Welding grant closed" in message.body  # the rendered words, not the Markdown
    assert "**" not in message.body and "~~" not in message.body
    # Raw HTML in a post is text, in the post and in the email alike; nothing becomes a tag.
    assert "&lt;img src=x onerror=alert(1)&gt;" in post.html
    assert "<img" not in html and "&lt;img" in html
    assert 'href="javascript' not in html and '<a href="javascript' not in post.html


def test_rerender_posts_command_renders_every_stale_post_and_reindexes_it():
    """3.4: re-rendered when the renderer's version changes: every stale post at once (after an
    upgrade, a sanitizer fix above all), not only in threads someone opens; search follows."""
    from io import StringIO

    from django.core.management import call_command

    from forum.markdown import RENDER_VERSION

    author = make_member()
    thread = make_thread(make_board(), author, body="Platypus **grant** for the lab.")
    reply = make_reply(thread, author, "A second platypus note.")
    fresh = make_reply(thread, author, "Fresh one.")
    stale = [thread.posts.get(number=1), reply]
    old = '<p>old <img src="x" onerror="alert(1)"></p>'
    Post.objects.filter(pk__in=[p.pk for p in stale]).update(html=old, render_version=0)
    Post.objects.filter(pk=fresh.pk).update(html="<p>cached</p>")
    for post in stale:
        search.remove_post(post)  # as an index built from the old HTML would be
    assert _search_ids(author, "platypus") == []
    out = StringIO()
    call_command("rerender_posts", "--batch-size", "1", stdout=out)
    assert "Re-rendered 2 posts" in out.getvalue()
    for post in stale:
        post.refresh_from_db()
        assert post.render_version == RENDER_VERSION
        assert "onerror" not in post.html and "platypus" in post.html.lower()
    assert "<strong>grant</strong>" in stale[0].html
    assert Post.objects.get(pk=fresh.pk).html == "<p>cached</p>"  # current version: untouched
    assert sorted(_search_ids(author, "platypus")) == sorted(p.pk for p in stale)
    out = StringIO()
    call_command("rerender_posts", stdout=out)
    assert "Re-rendered 0 posts" in out.getvalue()


# ---------------------------------------------------------------- 3.5 unread tracking


def test_reading_a_page_updates_read_state_with_the_same_queries_for_any_page(settings):
    """3.5: reading a page records the last post read, in queries that do not depend on how
    many posts the page shows or whether the member had read the thread before."""
    per = settings.FORUM["POSTS_PER_PAGE"]
    author, reader = make_member(), make_member()
    board = make_board()
    short = make_thread(board, author, title="Short thread")
    make_reply(short, author, "Only reply")
    long = make_thread(board, author, title="Long thread")
    for i in range(per * 2 + 4):
        make_reply(long, author, f"Reply {i}")
    long.refresh_from_db()
    client = client_for(reader)
    client.get("/")  # the first request of a visit records the visit

    def first_view(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    never_read_short = first_view(short.get_absolute_url() + "?page=1")
    never_read_long = first_view(long.get_absolute_url() + "?page=1")
    assert never_read_short == never_read_long
    assert ReadState.objects.get(user=reader, thread=short).last_read_number == 2
    assert ReadState.objects.get(user=reader, thread=long).last_read_number == per
    read_before = first_view(long.get_absolute_url() + "?page=2")
    assert ReadState.objects.get(user=reader, thread=long).last_read_number == per * 2
    last_page = first_view(long.get_absolute_url() + "?page=3")
    assert ReadState.objects.get(user=reader, thread=long).last_read_number == long.post_count
    assert read_before == last_page
    # Writing the state costs a fixed few statements (an INSERT in a savepoint for a thread
    # never read, one forward-only UPDATE otherwise) over a page already read.
    steady = first_view(long.get_absolute_url() + "?page=3")
    assert never_read_long - steady <= 3 and read_before - steady <= 1


# ---------------------------------------------------------------- 3.6 search


def test_search_index_follows_every_action_that_writes_posts():
    """3.6: the index is kept in sync by the actions that write posts (on both engines)."""
    mod, author, other = make_staff(), make_member(), make_member()
    board = make_board()
    thread = make_thread(board, author, title="Quokka field trip", body="Permission slips due.")
    reply = make_reply(thread, other, "The quokka enclosure opens at nine.")
    extra = make_reply(thread, author, "Bring a quokka sketchbook.")
    assert len(_search_ids(other, "quokka")) == 3
    moderation.hide_post(mod, reply, reason="Off-topic")
    assert reply.pk not in _search_ids(other, "quokka")
    moderation.restore_post(mod, reply)
    assert reply.pk in _search_ids(other, "quokka")
    moderation.delete_post(mod, reply)
    assert reply.pk not in _search_ids(other, "quokka")
    moderation.restore_deleted_post(mod, reply)
    assert reply.pk in _search_ids(other, "quokka")
    moderation.hide_thread(mod, thread, reason="Checking")
    assert _search_ids(other, "quokka") == []
    moderation.restore_thread(mod, thread)
    new = moderation.split_thread(mod, thread, post_ids=[extra.pk], title="Sketchbook wombat")
    assert _search_ids(other, "wombat") == [extra.pk]  # found by its new thread's title
    assert _search_ids(other, "quokka", board=board.slug) != []
    moderation.merge_threads(mod, new, thread)
    assert extra.pk in _search_ids(other, "sketchbook")
    actions.edit_post(other, reply, body="The enclosure opens at ten.")
    assert reply.pk not in _search_ids(other, "quokka")
    moderation.rename_thread(mod, thread, title="Koala field trip")
    assert _search_ids(other, "koala") == [thread.posts.get(number=1).pk]


def test_search_engine_has_its_full_text_index():
    """3.6: PostgreSQL full-text search with a GIN index; SQLite FTS5 on the embedded default."""
    with connection.cursor() as cursor:
        if search.is_postgres():
            cursor.execute(
                "SELECT indexdef FROM pg_indexes WHERE tablename = %s", [search.PG_TABLE]
            )
            definitions = [row[0] for row in cursor.fetchall()]
            assert any("USING gin (document)" in d for d in definitions), definitions
        else:
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = %s", [search.FTS_TABLE])
            [(sql,)] = cursor.fetchall()
            assert "USING fts5" in sql.replace("USING FTS5", "USING fts5")
