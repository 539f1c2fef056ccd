"""Flat query counts (issue 3, point 7): a page costs the same number of SQL queries whatever
it shows: more boards, threads, posts, reactions or authors, page 1 or page N.

Each test measures one page twice (a small and a large data set) for a visitor and for a
member and asserts both that the counts are equal and that they stay under the ceiling
measured when the test was written (CEILING below; a rise means a new query on every view of
that page: find it before raising the number)."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from forum import actions
from forum.markdown import RENDER_VERSION
from forum.models import Board, Post, Reaction, ReadState, Thread
from forum.permissions import forget_cached_permissions
from tests.conftest import client_for, make_board, make_group, make_member, make_thread

# Queries measured on SQLite and PostgreSQL (Nov 2026). Member pages include the session, the
# user, group/moderator lookups for permissions and the header's notification count.
CEILING = {
    # A member's groups, moderated and visible boards are one query (permissions._load_access);
    # the thread's query brings the member's read position and watch level.
    "index": {"anon": 1, "member": 5},
    # the page count is the board's thread_count; a visitor: the board with its event number,
    # then the shared page cache (a miss adds the threads: 2)
    "board": {"anon": 1, "member": 8},
    "thread": {"anon": 1, "member": 7},  # a visitor: the thread, then the shared page cache
    "profile": {"anon": 1, "member": 6},
}

_names = itertools.count(1)


def _count(client, url: str, expect: int = 200) -> int:
    """Queries of a steady-state view: a first view may write once (visit time, read state)."""
    client.get(url)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == expect, (url, response.status_code)
    return len(captured)


def _clients(member):
    return {"anon": client_for(), "member": client_for(member)}


def _react_to(posts: list[Post], reactors: list, kinds=("like", "thanks", "insightful")) -> None:
    rows, counts = [], {}
    for post in posts:
        for who, kind in zip(reactors, itertools.cycle(kinds), strict=False):
            rows.append(Reaction(post=post, user=who, kind=kind))
            counts.setdefault(post.pk, {}).setdefault(kind, 0)
            counts[post.pk][kind] += 1
    Reaction.objects.bulk_create(rows, batch_size=500)
    for post_id, value in counts.items():
        Post.objects.filter(pk=post_id).update(reaction_counts=value)


def build_thread(board: Board, author, repliers: list, n_posts: int) -> Thread:
    """A thread of n_posts with dense numbers and exact counters, written with bulk_create."""
    thread = make_thread(board, author, title=f"Thread number {next(_names)}")
    start = timezone.now()
    posts = [
        Post(
            thread=thread,
            number=i,
            author=repliers[i % len(repliers)],
            body=f"Reply {i} with **bold**",
            html=f"<p>Reply {i} with <strong>bold</strong></p>",
            render_version=RENDER_VERSION,
            created_at=start + timedelta(seconds=i),
        )
        for i in range(2, n_posts + 1)
    ]
    Post.objects.bulk_create(posts, batch_size=500)
    last = Post.objects.get(thread=thread, number=n_posts)
    Thread.objects.filter(pk=thread.pk).update(
        post_count=n_posts,
        reply_count=n_posts - 1,
        last_post=last,
        last_post_at=last.created_at,
        last_poster=last.author,
    )
    Board.objects.filter(pk=board.pk).update(
        post_count=board.post_count + n_posts - 1, last_post=last, last_post_at=last.created_at
    )
    thread.refresh_from_db()
    return thread


def build_threads(board: Board, authors: list, n: int) -> None:
    """n more threads (each with one post) in bulk, with varied authors and pins."""
    now = timezone.now()
    threads = Thread.objects.bulk_create(
        [
            Thread(
                board=board,
                title=f"Bulk thread {i}",
                slug=f"bulk-thread-{i}",
                author=authors[i % len(authors)],
                created_at=now,
                last_post_at=now,
                last_poster=authors[(i + 1) % len(authors)],
                post_count=1,
                is_pinned=(i % 17 == 0),
            )
            for i in range(n)
        ]
    )
    Post.objects.bulk_create(
        [
            Post(
                thread=t,
                number=1,
                author=t.author,
                body="x",
                html="<p>x</p>",
                render_version=RENDER_VERSION,
                created_at=now,
            )
            for t in threads
        ]
    )
    Board.objects.filter(pk=board.pk).update(thread_count=board.thread_count + n)


@pytest.fixture
def people(db):
    return {
        "author": make_member("author"),
        "reader": make_member("reader"),
        "repliers": [make_member() for _ in range(12)],
    }


def _pair(measure) -> tuple[dict, dict]:
    """Counts per viewer for the small data set, then (after measure grows it) the large one."""
    small = measure("small")
    large = measure("large")
    return small, large


@pytest.mark.django_db
def test_board_index_query_count_is_flat(people):
    author, reader = people["author"], people["reader"]
    first = make_board("First board")
    make_thread(first, author)
    clients = _clients(reader)
    small = {who: _count(c, "/") for who, c in clients.items()}
    for _ in range(8):  # more boards, each with threads, posts and a different latest poster
        board = make_board()
        build_thread(board, author, people["repliers"], 30)
        build_threads(board, people["repliers"], 5)
    ReadState.objects.create(user=reader, thread=Thread.objects.first(), last_read_number=3)
    large = {who: _count(c, "/") for who, c in clients.items()}
    assert small == large
    for who, n in large.items():
        assert n <= CEILING["index"][who], (who, n)


@pytest.mark.django_db
def test_board_page_query_count_is_flat_for_page_1_and_page_n(people):
    author, reader = people["author"], people["reader"]
    board = make_board()
    thread = make_thread(board, author)
    clients = _clients(reader)
    url = board.get_absolute_url()
    small = {who: _count(c, url) for who, c in clients.items()}
    build_threads(board, people["repliers"], 100)
    actions.mark_read(reader, thread, 1)
    actions.mark_board_read(reader, board)
    build_threads(board, people["repliers"], 3)  # newer than the mark: "new" rows
    page_1 = {who: _count(c, url) for who, c in clients.items()}
    page_n = {who: _count(c, url + "?page=4") for who, c in clients.items()}
    past_end = {who: _count(c, url + "?page=999") for who, c in clients.items()}
    assert small == page_1 == page_n == past_end
    for who, n in page_n.items():
        assert n <= CEILING["board"][who], (who, n)


@pytest.mark.django_db
def test_thread_page_query_count_is_flat_from_25_to_2000_posts(people):
    author, reader, repliers = people["author"], people["reader"], people["repliers"]
    board = make_board()
    clients = _clients(reader)
    small_thread = build_thread(board, author, repliers[:2], 25)
    _react_to(list(Post.objects.filter(thread=small_thread, number__in=[2, 21])), repliers[:1])
    small = {}
    for who, c in clients.items():
        small[who] = [
            _count(c, small_thread.get_absolute_url() + "?page=1"),
            _count(c, small_thread.get_absolute_url() + "?page=2"),
        ]

    big = build_thread(board, author, repliers, 2000)
    assert big.post_count == 2000 and big.reply_count == 1999
    numbers = list(
        Post.objects.filter(thread=big).order_by("number").values_list("number", flat=True)
    )
    assert numbers == list(range(1, 2001))
    first_and_last = list(Post.objects.filter(thread=big, number__lte=20)) + list(
        Post.objects.filter(thread=big, number__gt=1980)
    )
    _react_to(first_and_last, repliers)  # 12 reactions on every post shown
    ReadState.objects.create(user=reader, thread=big, last_read_number=1500)
    large = {}
    for who, c in clients.items():
        large[who] = [
            _count(c, big.get_absolute_url() + "?page=1"),
            _count(c, big.get_absolute_url() + "?page=100"),
        ]
    assert small == large
    for who, counts in large.items():
        assert max(counts) <= CEILING["thread"][who], (who, counts)


@pytest.mark.django_db
def test_thread_last_page_of_2000_posts_shows_the_last_posts(people):
    big = build_thread(make_board(), people["author"], people["repliers"], 2000)
    response = client_for().get(big.get_absolute_url() + "?page=100")
    html = response.content.decode()
    assert 'id="n2000"' in html and 'id="n1981"' in html and 'id="n1980"' not in html


@pytest.mark.django_db
def test_profile_page_query_count_is_flat(people):
    author, reader = people["author"], people["reader"]
    board = make_board()
    make_thread(board, author)
    clients = _clients(reader)
    url = f"/u/{author.username}/"
    small = {
        "anon": _count(clients["anon"], url, expect=302),
        "member": _count(clients["member"], url),
    }
    for _ in range(5):
        build_thread(board, author, [author], 40)
    hidden_board = make_board(visibility="groups", groups=[make_group("Board room", author)])
    forget_cached_permissions(author)
    build_thread(hidden_board, author, [author], 40)
    large = {
        "anon": _count(clients["anon"], url, expect=302),
        "member": _count(clients["member"], url),
    }
    assert small == large
    for who, n in large.items():
        assert n <= CEILING["profile"][who], (who, n)
