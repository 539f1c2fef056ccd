"""forum.compiled: a queryset compiled once per process gives the instances the ORM gives.

get_thread's three queries (plain, a member's with their read position and watch level, a
visitor's with the thread's event number) are checked field by field against the same
querysets run through the ORM, over threads in every state, on both databases CI runs."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from forum import actions, moderation, queries
from forum.compiled import CompiledQuery
from forum.models import Thread, Visibility
from realtime.streams import thread_stream
from tests.conftest import client_for, make_board, make_group, make_member, make_staff

pytestmark = pytest.mark.django_db


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _same(compiled, orm, related: tuple[str, ...], annotations: tuple[str, ...]) -> None:
    assert type(compiled) is type(orm)
    assert _fields(compiled) == _fields(orm)
    assert compiled._state.db == orm._state.db and compiled._state.adding is False
    for name in annotations:
        assert getattr(compiled, name) == getattr(orm, name), name
    for name in related:
        field = Thread._meta.get_field(name)
        assert field.is_cached(compiled), name  # select_related: no query to reach it
        assert _fields(getattr(compiled, name)) == _fields(getattr(orm, name))


@pytest.fixture
def threads(db):
    author, other = make_member("compiled_a"), make_member("compiled_b")
    staff = make_staff("compiled_staff")
    board = make_board("Open")
    private = make_board("Private", visibility=Visibility.GROUPS, groups=[make_group("g", author)])
    plain = actions.create_thread(author, board, title="Plain", body="Body.")
    actions.reply_to_thread(other, plain, body="A reply.")
    actions.react(other, plain.posts.get(number=1), "thanks")
    locked = moderation.lock_thread(
        staff, actions.create_thread(author, board, title="Locked one", body="The body text.")
    )
    hidden = moderation.hide_thread(
        staff,
        actions.create_thread(author, board, title="Hidden one", body="The body text."),
        reason="spam",
    )
    merged = actions.create_thread(other, board, title="Merged", body="Body.")
    moderation.merge_threads(staff, merged, plain)
    secret = actions.create_thread(author, private, title="Secret", body="Body.")
    actions.mark_read(other, plain, 2)
    actions.set_thread_watch(other, plain, "watching")
    return {"author": author, "other": other, "threads": [plain, locked, hidden, merged, secret]}


def test_get_thread_queries_give_what_the_orm_gives(threads):
    for thread in threads["threads"]:
        thread = Thread.objects.get(pk=thread.pk)
        pk = thread.pk
        _same(
            queries._THREAD_QUERY.first(thread_id=pk),
            queries._thread_with_author(pk).get(),
            ("board", "author"),
            (),
        )
        for user in (threads["author"], threads["other"]):
            _same(
                queries._THREAD_FOR_MEMBER.first(thread_id=pk, user_id=user.pk),
                queries._thread_for_member(pk, user.pk).get(),
                ("board",),
                ("viewer_read_number", "viewer_watch_level"),
            )
        stream = thread_stream(pk)
        _same(
            queries._THREAD_FOR_VISITOR.first(thread_id=pk, stream=stream),
            queries._thread_for_visitor(pk, stream).get(),
            ("board",),
            ("live_seq",),
        )
    # the annotations are the member's own rows, not someone else's
    plain = threads["threads"][0]
    mine = queries._THREAD_FOR_MEMBER.first(thread_id=plain.pk, user_id=threads["other"].pk)
    assert (mine.viewer_read_number, mine.viewer_watch_level) == (2, "watching")
    stranger = make_member("compiled_c")
    theirs = queries._THREAD_FOR_MEMBER.first(thread_id=plain.pk, user_id=stranger.pk)
    assert (theirs.viewer_read_number, theirs.viewer_watch_level) == (None, None)
    seq = queries._THREAD_FOR_VISITOR.first(thread_id=plain.pk, stream=thread_stream(plain.pk))
    assert seq.live_seq and seq.live_seq > 0


def test_get_thread_is_one_query_and_keeps_its_permission_checks(threads):
    plain, _, hidden, merged, secret = threads["threads"]
    with CaptureQueriesContext(connection) as captured:
        thread = queries.get_thread(AnonymousUser(), plain.pk, viewer_state=True)
        assert thread.board.name == "Open"
    assert len(captured) == 1
    for thread in (hidden, secret):
        with pytest.raises(Http404):
            queries.get_thread(AnonymousUser(), thread.pk, viewer_state=True)
    assert queries.get_thread(threads["author"], secret.pk).title == "Secret"
    with pytest.raises(Http404):
        queries.get_thread(threads["other"], secret.pk, viewer_state=True)
    followed = queries.get_thread(AnonymousUser(), merged.pk, follow_merged=True)
    assert followed.merged_into_id == plain.pk


def test_ids_no_thread_has_are_404_without_a_database_error(threads):
    for thread_id in (0, 987_654_321, 2**63 - 1, 2**63, 10**30):
        with pytest.raises(Http404):
            queries.get_thread(AnonymousUser(), thread_id, viewer_state=True)
    assert client_for().get(f"/t/{10**30}/x/").status_code == 404
    assert client_for(make_member("huge_id")).get(f"/t/{2**64}/x/").status_code == 404


def test_a_query_that_is_not_the_same_for_every_value_fails_loudly(threads):
    pk = threads["threads"][0].pk
    constant = CompiledQuery(
        lambda thread_id: Thread.objects.filter(pk=thread_id, title="Plain")[:1], thread_id="int"
    )
    assert constant.first(thread_id=pk).title == "Plain"  # a constant parameter is kept
    derived = CompiledQuery(
        lambda thread_id: Thread.objects.filter(pk=thread_id, post_count__lt=thread_id + 1)[:1],
        thread_id="int",
    )
    with pytest.raises(ImproperlyConfigured, match="neither a placeholder"):
        derived.first(thread_id=pk)
    shape = CompiledQuery(
        lambda thread_id: Thread.objects.filter(
            pk__in=range(thread_id, thread_id + thread_id % 3 + 1)
        )[:1],
        thread_id="int",
    )
    with pytest.raises(ImproperlyConfigured, match="changes with the placeholder values"):
        shape.first(thread_id=pk)


def test_page_queries_give_what_the_orm_gives(threads):
    plain = threads["threads"][0]
    extra = make_member("compiled_d")
    for i in range(4):
        post = actions.reply_to_thread(extra, plain, body=f"Reply number {i} here.").post
        actions.react(threads["author"], post, "thanks")
        actions.react(threads["other"] if i % 2 else threads["author"], post, "insightful")
    for first, last in ((1, 20), (2, 4), (3, 3), (50, 60)):
        values = {"thread_id": plain.pk, "first": first, "last": last}
        compiled = queries._PAGE_POSTS.fetch(**values)
        orm = list(queries._page_posts(**values))
        assert [p.pk for p in compiled] == [p.pk for p in orm]
        for c, o in zip(compiled, orm, strict=True):
            assert _fields(c) == _fields(o) and _fields(c.author) == _fields(o.author)
        rows = queries._PAGE_REACTIONS.fetch(**values)
        assert rows == list(queries._page_reactions(**values))
        assert all(type(row) is tuple and len(row) == 5 for row in rows)
    assert len(queries._PAGE_REACTIONS.fetch(thread_id=plain.pk, first=1, last=20)) == 9


def test_a_thread_page_reads_reactions_for_its_posts_only(threads):
    plain = threads["threads"][0]
    other = actions.create_thread(threads["author"], plain.board, title="Other one", body="Body.")
    actions.react(threads["other"], other.posts.get(number=1), "thanks")
    page = queries.thread_page(threads["other"], Thread.objects.get(pk=plain.pk), 1)
    first = page.items[0]
    assert first.reactors == {"thanks": [threads["other"].name]}
    assert first.my_reactions == {"thanks"}
    assert queries.thread_page(threads["author"], plain, 1).items[0].my_reactions == set()


def test_board_queries_give_what_the_orm_gives(threads):
    from forum.models import Board
    from realtime.streams import board_stream

    prefix = board_stream(0)[:-1]
    for board in Board.objects.all():
        _fields_equal = _fields(queries._BOARD_QUERY.first(slug=board.slug)) == _fields(board)
        assert _fields_equal
        compiled = queries._BOARD_FOR_VISITOR.first(slug=board.slug, prefix=prefix)
        orm = queries._board_for_visitor(board.slug, prefix).get()
        assert _fields(compiled) == _fields(orm)
        assert compiled.live_seq == orm.live_seq and compiled.live_seq
    member = threads["other"]
    boards = list(Board.objects.all())
    actions.set_board_watch(member, boards[0], "watching")
    actions.set_board_watch(threads["author"], boards[-1], "muted")
    for board in boards:
        compiled = queries._BOARD_FOR_MEMBER.first(slug=board.slug, user_id=member.pk)
        orm = queries._board_for_member(board.slug, member.pk).get()
        assert _fields(compiled) == _fields(orm)
        assert compiled.viewer_watch_level == orm.viewer_watch_level
        assert compiled.viewer_watch_level == ("watching" if board == boards[0] else None)
    assert queries._BOARD_QUERY.first(slug="no-such-board") is None
    with pytest.raises(Http404):
        queries.visible_board(AnonymousUser(), "no-such-board", live_seq=True)
