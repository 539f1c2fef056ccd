"""Rendered thread pages for anonymous visitors, kept in each server process's memory.

Anonymous visitors all see the same page of a thread, and rendering 20 posts through the
template engine is most of a thread page's cost (issue 6 point 2). The page is cached under
the thread's event number (realtime.StreamSequence: every change a thread page shows - a reply,
an edit, a reaction, hiding, moving, locking - is an event on the thread's stream and bumps
it), so a change is visible on the next request, in every process, with no invalidation step.
What is not an event on the thread (a member renaming themselves, a board renamed) shows
after at most TTL seconds. Permission checks run before the cache is asked, on every request.

Per process rather than in Redis: no network hop for ~90 KB, and nothing to fail when Redis is
down. Bounded by entry count (LRU).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

from django.http import HttpRequest

from .markdown import RENDER_VERSION

TTL = 60.0
MAX_ENTRIES = 200

_lock = threading.Lock()
_pages: OrderedDict[str, tuple[float, bytes, str]] = OrderedDict()


def anonymous_key(request: HttpRequest, thread: Any) -> str | None:
    """The cache key of this request's thread page, or None when it must be rendered (a member,
    pending flash messages, or query parameters other than page)."""
    if request.user.is_authenticated or set(request.GET) - {"page"}:
        return None
    from django.contrib.messages import get_messages

    if len(get_messages(request)):  # a render shows (and consumes) them
        return None
    from realtime.models import StreamSequence
    from realtime.streams import thread_stream

    seq = (
        StreamSequence.objects.filter(stream=thread_stream(thread.pk))
        .values_list("last_seq", flat=True)
        .first()
    ) or 0
    path = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:20]
    return f"{thread.pk}:{seq}:{RENDER_VERSION}:{path}"


def get(key: str) -> tuple[bytes, str] | None:
    with _lock:
        entry = _pages.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            del _pages[key]
            return None
        _pages.move_to_end(key)
        return entry[1], entry[2]


def put(key: str, content: bytes, content_type: str) -> None:
    if b"csrfmiddlewaretoken" in content:
        # A CSRF token belongs to one visitor: a page holding one is never shared.
        return
    with _lock:
        _pages[key] = (time.monotonic() + TTL, content, content_type)
        _pages.move_to_end(key)
        while len(_pages) > MAX_ENTRIES:
            _pages.popitem(last=False)


def clear() -> None:
    with _lock:
        _pages.clear()
