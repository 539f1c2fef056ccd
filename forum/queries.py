"""The reads that pages need, shaped so that query counts stay flat whatever a page shows."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery, Value

from . import permissions
from .compiled import CompiledQuery
from .markdown import RENDER_VERSION
from .models import (
    Board,
    BoardReadMark,
    BoardWatch,
    Post,
    Reaction,
    ReadState,
    Thread,
    ThreadWatch,
)

FORUM = settings.FORUM


@dataclass
class Page:
    number: int
    count: int
    items: list = field(default_factory=list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.count

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1

    def window(self, size: int = 2) -> list[int | None]:
        """Page numbers to show: first, last, and `size` around the current one (None = gap)."""
        shown = {1, self.count, *range(self.number - size, self.number + size + 1)}
        pages = sorted(p for p in shown if 1 <= p <= self.count)
        out: list[int | None] = []
        for p in pages:
            if out and p - (out[-1] or 0) > 1:
                out.append(None)
            out.append(p)
        return out


def parse_page(value: Any) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1


# ---------------------------------------------------------------- board index


# What the board index shows of each board's last post: its thread's title and its author's
# name. Not the post's body and HTML, nor the whole member and thread rows (2.1 -> 1.4 ms for
# the bench's 8 boards); reading anything else of them from the index would cost a query per
# board, which tests/forum/test_query_counts.py would see.
_INDEX_LAST_POST = (
    "last_post__id",
    "last_post__thread__id",
    "last_post__thread__title",
    "last_post__author__id",
    "last_post__author__username",
    "last_post__author__display_name",
)


def board_index(user: Any) -> list[Board]:
    own = [f.name for f in Board._meta.concrete_fields]
    return list(
        permissions.visible_boards(user)
        .select_related("last_post__author", "last_post__thread")
        .only(*own, *_INDEX_LAST_POST)
        .order_by("position", "name")
    )


# ---------------------------------------------------------------- board page


def _board_by_slug(slug: str) -> QuerySet[Board]:
    return Board.objects.filter(slug=slug)[:1]


def _board_for_visitor(slug: str, prefix: str) -> QuerySet[Board]:
    from django.db.models import CharField
    from django.db.models.functions import Cast, Concat

    from realtime.models import StreamSequence

    stream = Concat(Value(prefix), Cast(OuterRef("pk"), CharField()))
    seq = StreamSequence.objects.filter(stream=stream).values("last_seq")[:1]
    return Board.objects.filter(slug=slug).annotate(live_seq=Subquery(seq))[:1]


def _board_for_member(slug: str, user_id: int) -> QuerySet[Board]:
    level = BoardWatch.objects.filter(board=OuterRef("pk"), user_id=user_id).values("level")[:1]
    return Board.objects.filter(slug=slug).annotate(viewer_watch_level=Subquery(level))[:1]


_BOARD_QUERY = CompiledQuery(_board_by_slug, slug="str")
_BOARD_FOR_VISITOR = CompiledQuery(_board_for_visitor, slug="str", prefix="str")
_BOARD_FOR_MEMBER = CompiledQuery(_board_for_member, slug="str", user_id="int")


def visible_board(
    user: Any, slug: str, *, live_seq: bool = False, watch_level: bool = False
) -> Board:
    """The board if this viewer may see it; Http404 otherwise (same as a missing slug). With
    live_seq, the same statement brings the board stream's event number (board.live_seq), which
    keys a visitor's shared board page (forum/pagecache.py). With watch_level (a member), it
    brings the member's own notification level for the board (board.viewer_watch_level, None
    when they never chose one). All compiled once per process."""
    from django.http import Http404

    from realtime.streams import board_stream

    if live_seq:
        prefix = board_stream(0)[:-1]  # "board:"
        board = _BOARD_FOR_VISITOR.first(slug=slug, prefix=prefix)
    elif watch_level and user.is_authenticated:
        board = _BOARD_FOR_MEMBER.first(slug=slug, user_id=user.pk)
    else:
        board = _BOARD_QUERY.first(slug=slug)
    if board is None or not permissions.can_view_board(user, board):
        raise Http404("No such board.")
    return board


def visible_threads(user: Any, board: Board) -> QuerySet[Thread]:
    threads = Thread.objects.filter(board=board, merged_into__isnull=True)
    if not permissions.can_moderate_board(user, board):
        threads = threads.filter(is_hidden=False, is_deleted=False)
    return threads


# A thread row shows its author's and last poster's names and nothing else of them: loading
# their whole rows (password hash, bio, dates, preferences) was two thirds of the board page's
# rows query on the bench dataset (6.8 -> 4.4 ms for 30 rows). Nothing else of them may be read
# from a row (it would cost a query per row; tests/forum/test_query_counts.py would see it).
_ROW_PEOPLE = ("author", "last_poster")
_ROW_PEOPLE_FIELDS = tuple(
    f"{who}__{f}" for who in _ROW_PEOPLE for f in ("username", "display_name")
)


def thread_rows(threads: QuerySet[Thread], *related: str) -> QuerySet[Thread]:
    """Threads as listed in rows (board page, new since last visit): every thread column, the
    author's and last poster's names, and `related` (e.g. "board") in full."""
    own = [f.name for f in Thread._meta.concrete_fields]
    return threads.select_related(*_ROW_PEOPLE, *related).only(
        *own, *_ROW_PEOPLE_FIELDS, *(f"{r}__{f.name}" for r in related for f in _related_fields(r))
    )


def _related_fields(name: str) -> list:
    return list(Thread._meta.get_field(name).related_model._meta.concrete_fields)


def board_page(user: Any, board: Board, page: int) -> Page:
    per = FORUM["THREADS_PER_PAGE"]
    threads = visible_threads(user, board)
    # Members see the listed threads, which the board's thread_count keeps exact on every write
    # (actions, moderation.recount_boards): counting them was the page's slowest query (~5 ms
    # on a board of 4,000 threads). Moderators also see hidden and deleted ones: counted.
    moderator = permissions.can_moderate_board(user, board)
    total = threads.count() if moderator else board.thread_count
    count = max(1, math.ceil(total / per))
    page = min(page, count)
    # Page N's ids first, from the listed threads' index alone (index-only on PostgreSQL), then
    # those rows with their people: selecting whole rows with their joins past an OFFSET made
    # PostgreSQL read and sort the board's every thread (page 139 of 4,170 threads: 13 ms in
    # the database against 0.3 ms for page 1; now ~1 ms).
    order = ("-is_pinned", "-last_post_at", "-id")
    ids = threads.order_by(*order).values("id")[(page - 1) * per : page * per]
    rows = list(thread_rows(Thread.objects.filter(id__in=ids)).order_by(*order))
    annotate_unread(user, board, rows)
    return Page(number=page, count=count, items=rows)


def annotate_unread(user: Any, board: Board | None, threads: list[Thread]) -> None:
    """Sets thread.unread_state ("new", "unread" or "") and thread.unread_count: 2 queries."""
    for t in threads:
        t.unread_state, t.unread_count, t.first_unread = "", 0, 1
    if not user.is_authenticated or not threads:
        return
    states = dict(
        ReadState.objects.filter(user=user, thread__in=[t.pk for t in threads]).values_list(
            "thread_id", "last_read_number"
        )
    )
    marks: dict[int, Any] = {}
    board_ids = {t.board_id for t in threads}
    marks = dict(
        BoardReadMark.objects.filter(user=user, board_id__in=board_ids).values_list(
            "board_id", "marked_at"
        )
    )
    for t in threads:
        mark = marks.get(t.board_id)
        if mark is not None and t.last_post_at <= mark:
            continue
        read = states.get(t.pk)
        if read is None:
            if mark is not None and t.created_at <= mark:
                # Read up to the board mark, never opened since: how many came after the mark
                # is unknown without a query per row, so the row says "new replies".
                t.unread_state, t.unread_count = "unread", None
                t.first_unread = t.post_count
            else:
                t.unread_state = "new"
        elif read < t.post_count:
            t.unread_state, t.unread_count = "unread", t.post_count - read
            t.first_unread = read + 1


# ---------------------------------------------------------------- thread page


def _thread_with_author(thread_id: int) -> QuerySet[Thread]:
    return Thread.objects.filter(pk=thread_id).select_related("board", "author")[:1]


def _thread_for_member(thread_id: int, user_id: int) -> QuerySet[Thread]:
    mine = {"user_id": user_id, "thread_id": OuterRef("pk")}
    read = ReadState.objects.filter(**mine).values("last_read_number")[:1]
    watch = ThreadWatch.objects.filter(**mine).values("level")[:1]
    return (
        Thread.objects.filter(pk=thread_id)
        .select_related("board")
        .annotate(viewer_read_number=Subquery(read), viewer_watch_level=Subquery(watch))[:1]
    )


def _thread_for_visitor(thread_id: int, stream: str) -> QuerySet[Thread]:
    from realtime.models import StreamSequence

    seq = StreamSequence.objects.filter(stream=stream).values("last_seq")[:1]
    return (
        Thread.objects.filter(pk=thread_id)
        .select_related("board")
        .annotate(live_seq=Subquery(seq))[:1]
    )


# The thread page's query, compiled once per process (forum/compiled.py): building it was most
# of a visitor's cached thread page.
_THREAD_QUERY = CompiledQuery(_thread_with_author, thread_id="int")
_THREAD_FOR_MEMBER = CompiledQuery(_thread_for_member, thread_id="int", user_id="int")
_THREAD_FOR_VISITOR = CompiledQuery(_thread_for_visitor, thread_id="int", stream="str")


def get_thread(
    user: Any, thread_id: int, *, follow_merged: bool = False, viewer_state: bool = False
) -> Thread:
    """The thread if this viewer may see it; Http404 otherwise (same as a missing id).

    With follow_merged, a thread merged into another is returned (for the redirect) when the
    viewer may see its board, whatever its own state. With viewer_state (the thread page), the
    same query brings a member's read position and watch level (read_number and watch_level then
    ask no more), or for a visitor the thread's live sequence (pagecache.anonymous_key), and not
    the thread's author, which the page does not show."""
    from django.http import Http404

    from realtime.streams import thread_stream

    thread_id = int(thread_id)
    if not viewer_state:
        thread = _THREAD_QUERY.first(thread_id=thread_id)
    elif user.is_authenticated:
        thread = _THREAD_FOR_MEMBER.first(thread_id=thread_id, user_id=user.pk)
    else:  # a visitor: the live sequence, which keys the shared page cache (forum/pagecache.py)
        thread = _THREAD_FOR_VISITOR.first(thread_id=thread_id, stream=thread_stream(thread_id))
    if thread is None:
        raise Http404("No such thread.")
    if follow_merged and thread.merged_into_id and permissions.can_view_board(user, thread.board):
        # Only towards a thread this viewer may see: else the redirect would name its id.
        target = _THREAD_QUERY.first(thread_id=thread.merged_into_id)
        if target is not None and (
            permissions.can_view_thread(user, target)
            or (target.merged_into_id and permissions.can_view_board(user, target.board))
        ):
            return thread
        raise Http404("No such thread.")
    permissions.check_view_thread(user, thread)
    return thread


def page_of_number(number: int) -> int:
    return max(1, math.ceil(number / FORUM["POSTS_PER_PAGE"]))


def _page_posts(thread_id: int, first: int, last: int) -> QuerySet[Post]:
    return (
        Post.objects.filter(thread_id=thread_id, number__gte=first, number__lte=last)
        .select_related("author")
        .order_by("number")
    )


_REACTION_COLUMNS = ("post_id", "kind", "user_id", "user__username", "user__display_name")


def _page_reactions(thread_id: int, first: int, last: int) -> QuerySet:
    return (
        Reaction.objects.filter(
            post__thread_id=thread_id, post__number__gte=first, post__number__lte=last
        )
        .order_by("created_at")
        .values_list(*_REACTION_COLUMNS)
    )


# A page of a thread: posts by number range (keyset on (thread, number): page 500 costs what
# page 1 costs) and their reactions by the same range, each compiled once per process.
_PAGE_POSTS = CompiledQuery(_page_posts, thread_id="int", first="int", last="int")
_PAGE_REACTIONS = CompiledQuery(_page_reactions, thread_id="int", first="int", last="int")


def thread_page(user: Any, thread: Thread, page: int) -> Page:
    per = FORUM["POSTS_PER_PAGE"]
    count = page_of_number(max(thread.post_count, 1))
    page = min(page, count)
    first, last = (page - 1) * per + 1, page * per
    posts = _PAGE_POSTS.fetch(thread_id=thread.pk, first=first, last=last)
    for post in posts:
        post.thread = thread  # no query per post for post.thread
    stale = [p for p in posts if p.render_version != RENDER_VERSION or not p.html]
    if stale:
        from .actions import ensure_rendered  # lazy re-render after a renderer upgrade

        for post in stale:
            ensure_rendered(post)
    reacted = any(p.reaction_counts for p in posts)  # none: no query
    rows = _PAGE_REACTIONS.fetch(thread_id=thread.pk, first=first, last=last) if reacted else []
    _attach(user, posts, rows)
    return Page(number=page, count=count, items=posts)


def attach_reactions(user: Any, posts: list[Post]) -> None:
    """post.reactors = {kind: [names]} and post.my_reactions = {kinds}: one query for the page."""
    ids = [p.pk for p in posts if p.reaction_counts]
    rows = []
    if ids:
        rows = list(
            Reaction.objects.filter(post_id__in=ids)
            .order_by("created_at")
            .values_list(*_REACTION_COLUMNS)
        )
    _attach(user, posts, rows)


def _attach(user: Any, posts: list[Post], rows: list[tuple]) -> None:
    by_post: dict[int, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    mine: dict[int, set[str]] = defaultdict(set)
    me = user.id if user.is_authenticated else None
    for post_id, kind, user_id, username, display_name in rows:
        by_post[post_id][kind].append(display_name or username)
        if user_id == me:
            mine[post_id].add(kind)
    for post in posts:
        post.reactors = {k: v for k, v in by_post.get(post.pk, {}).items()}
        post.my_reactions = mine.get(post.pk, set())


def reactor_names(post: Post, kind: str) -> list[str]:
    """Who reacted to this post with this kind, oldest first (for the button's tooltip)."""
    rows = (
        Reaction.objects.filter(post=post, kind=kind)
        .order_by("created_at")
        .values_list("user__username", "user__display_name")
    )
    return [display_name or username for username, display_name in rows]


def _viewer_row(user: Any, thread: Thread, annotated: str, model: Any, field: str) -> Any:
    """One value of the member's own row for this thread (read state, watch), from the thread
    query when get_thread(viewer_state=True) brought it, else from its table; None if none."""
    if not user.is_authenticated:
        return None
    if hasattr(thread, annotated):
        return getattr(thread, annotated)
    return model.objects.filter(user=user, thread=thread).values_list(field, flat=True).first()


def read_number(user: Any, thread: Thread) -> int | None:
    return _viewer_row(user, thread, "viewer_read_number", ReadState, "last_read_number")


def watch_level(user: Any, thread: Thread) -> str | None:
    """The member's watch level on this thread (None: the default for their role in it)."""
    return _viewer_row(user, thread, "viewer_watch_level", ThreadWatch, "level")


def get_post(user: Any, post_id: int) -> Post:
    from django.http import Http404

    post = Post.objects.select_related("thread__board", "author").filter(pk=post_id).first()
    if post is None:
        raise Http404("No such post.")
    permissions.check_view_post(user, post)
    return post


def recent_posts_by(user: Any, member: Any, limit: int = 10) -> list[Post]:
    board_ids = permissions.visible_board_ids(user)
    return list(
        Post.objects.filter(
            author=member,
            thread__board_id__in=board_ids,
            is_hidden=False,
            is_deleted=False,
            thread__is_hidden=False,
            thread__is_deleted=False,
        )
        .select_related("thread")
        .order_by("-created_at")[:limit]
    )


def new_since(user: Any, since: Any, limit: int = 30) -> list[Thread]:
    board_ids = permissions.visible_board_ids(user)
    threads = list(
        thread_rows(
            Thread.objects.filter(
                Q(last_post_at__gt=since),
                board_id__in=board_ids,
                is_hidden=False,
                is_deleted=False,
                merged_into__isnull=True,
            ),
            "board",
        ).order_by("-last_post_at")[:limit]
    )
    annotate_unread(user, None, threads)
    return threads
