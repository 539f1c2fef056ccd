"""Rendered thread pages, board pages and the board index for anonymous visitors, kept in each
server process's memory.

Anonymous visitors all see the same page of a thread, and rendering 20 posts through the
template engine is most of a thread page's cost (issue 6 point 2). The page is cached under
the thread's event number (realtime.StreamSequence: every change a thread page shows - a reply,
an edit, a reaction, hiding, moving, locking - is an event on the thread's stream and bumps
it), so a change is visible on the next request, in every process, with no invalidation step.
What is not an event on the thread (a member renaming themselves, a board renamed) shows
after at most TTL seconds. Permission checks run before the cache is asked, on every request.
A board page is keyed the same way on its board's event number (a new thread, a reply, a pin,
lock, rename, hide, move or delete of one of its threads is an event on the board's stream)
and on the board's own columns that the page shows.

Per process rather than in Redis: no network hop for ~90 KB, and nothing to fail when Redis is
down. Bounded by entry count (LRU).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest

from .markdown import RENDER_VERSION

TTL = 60.0
MAX_ENTRIES = 200


class LRU:
    """A thread-safe, per-process, entry-bounded LRU map with an age limit per entry."""

    def __init__(self, max_entries: int, ttl: float) -> None:
        self.max_entries, self.ttl = max_entries, ttl
        self._lock = threading.Lock()
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def get(self, key: Any) -> Any:
        with self._lock:
            entry = self._items.get(key)
            if entry is None:
                return None
            if entry[0] < time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return entry[1]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + self.ttl, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Any]:
        with self._lock:
            return iter(list(self._items))


_pages = LRU(MAX_ENTRIES, TTL)


def _shareable(request: HttpRequest, params: frozenset[str]) -> bool:
    """May this request get (and fill) a page shared by every visitor? Not for a member, not
    with flash messages pending (a render shows and consumes them), not with query parameters
    other than `params`."""
    if request.user.is_authenticated or set(request.GET) - params:
        return False
    from django.contrib.messages import get_messages

    return not len(get_messages(request))


def anonymous_key(request: HttpRequest, thread: Any) -> str | None:
    """The cache key of this request's thread page, or None when it must be rendered (a member,
    pending flash messages, or query parameters other than page)."""
    if not _shareable(request, frozenset({"page"})):
        return None
    if hasattr(thread, "live_seq"):  # queries.get_thread(viewer_state=True): the same snapshot
        seq = thread.live_seq or 0
    else:
        from realtime.models import StreamSequence
        from realtime.streams import thread_stream

        seq = (
            StreamSequence.objects.filter(stream=thread_stream(thread.pk))
            .values_list("last_seq", flat=True)
            .first()
        ) or 0
    path = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:20]
    return f"{thread.pk}:{seq}:{RENDER_VERSION}:{path}"


def anonymous_board_key(request: HttpRequest, board: Any) -> str | None:
    """The cache key of a visitor's board page, or None when it must be rendered. `board` comes
    from queries.visible_board(..., live_seq=True): its row and its event number were read in
    one statement, before the page's threads, so the page is never older than its key."""
    if not _shareable(request, frozenset({"page"})) or not hasattr(board, "live_seq"):
        return None
    shown = (board.name, board.slug, board.description, board.start_rule, board.thread_count)
    digest = hashlib.blake2b(repr(shown).encode(), digest_size=12).hexdigest()
    path = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:20]
    return f"board:{board.pk}:{board.live_seq or 0}:{digest}:{RENDER_VERSION}:{path}"


def anonymous_index_key(request: HttpRequest) -> str | None:
    """The cache key of a visitor's board index, or None when it must be rendered.

    The key is a digest of every column the index shows from the boards a visitor may see
    (counts, last post and its time, names, order), read in one small query: a reply, a new
    thread, a hidden post that moves a count or the last post, a renamed, reordered, added or
    closed board each change the key, so the next visitor sees it. What comes through the last
    post (its thread's title, its author's name) and the "5 minutes ago" wording show after at
    most TTL seconds, as on the thread page."""
    if not _shareable(request, frozenset()):
        return None
    from .models import Board, Visibility

    rows = Board.objects.filter(visibility=Visibility.ANYONE).values_list(
        "pk",
        "name",
        "slug",
        "description",
        "position",
        "thread_count",
        "post_count",
        "last_post_id",
        "last_post_at",
    )
    digest = hashlib.blake2b(repr(sorted(rows)).encode(), digest_size=16).hexdigest()
    return f"index:{digest}:{RENDER_VERSION}"


def get(key: str) -> tuple[bytes, str] | None:
    return _pages.get(key)


def put(key: str, content: bytes, content_type: str) -> None:
    if b"csrfmiddlewaretoken" in content:
        # A CSRF token belongs to one visitor: a page holding one is never shared.
        return
    _pages.put(key, (content, content_type))


def clear() -> None:
    _pages.clear()
