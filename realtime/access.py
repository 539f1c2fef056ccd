"""Who may follow which stream: every answer comes from forum.permissions, like a page view.

All functions here are synchronous (they query the database); consumers call them through
`database_sync_to_async`. A refusal never says whether the thing exists.
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user as django_get_user
from django.contrib.auth.models import AnonymousUser

from .models import StreamEvent, StreamSequence
from .streams import board_stream, inbox_stream, moderators_stream, parse_stream, thread_stream

MAX_STREAM_NAME = 64


def canonical_stream(name: Any) -> str | None:
    """Rebuild a client-given stream name from its kind and id ('thread:012' -> 'thread:12')."""
    if not isinstance(name, str) or len(name) > MAX_STREAM_NAME:
        return None
    parsed = parse_stream(name)
    if parsed is None:
        return None
    kind, ident = parsed
    if kind == "mod":
        return moderators_stream() if ident == "all" else None
    if ident == "all":
        return None
    number = int(ident)
    if number <= 0 or number > 2**62:
        return None
    return {"thread": thread_stream, "board": board_stream, "inbox": inbox_stream}[kind](number)


def may_subscribe(user: Any, stream: str) -> bool:
    """The same answer a page would give: thread and board views, own inbox, moderators."""
    from forum import permissions
    from forum.models import Board, Thread

    kind, ident = stream.split(":", 1)
    if kind == "thread":
        thread = Thread.objects.select_related("board").filter(pk=int(ident)).first()
        return thread is not None and permissions.can_view_thread(user, thread)
    if kind == "board":
        board = Board.objects.filter(pk=int(ident)).first()
        return board is not None and permissions.can_view_board(user, board)
    if kind == "inbox":
        return bool(
            permissions.is_active_member(user)
            and user.pk == int(ident)
            and not getattr(user, "is_suspended", False)
        )
    if kind == "mod":
        return permissions.is_moderator_anywhere(user)
    return False


def may_type(user: Any, stream: str) -> bool:
    """Typing indicators are offered only to members who may reply in that thread."""
    from forum import permissions
    from forum.models import Thread

    if not stream.startswith("thread:") or not user.is_authenticated:
        return False
    thread = Thread.objects.select_related("board").filter(pk=int(stream[7:])).first()
    return thread is not None and permissions.can_reply(user, thread)


def recheck_thread_viewers(thread_id: int, users: list[Any]) -> list[bool]:
    """After a thread changed (moved, hidden, deleted): may each of these users still see it?
    One query for the thread, then the permission module (its per-user caches) per user."""
    from forum import permissions
    from forum.models import Thread

    thread = Thread.objects.select_related("board").filter(pk=thread_id).first()
    if thread is None:
        return [False for _ in users]
    results = []
    for user in users:
        permissions.forget_cached_permissions(user)
        results.append(permissions.can_view_thread(user, thread))
    return results


def current_user(session_key: str | None) -> Any:
    """The user a session belongs to *now* (AnonymousUser once signed out or the password
    changed): the same verification Django does for every request."""
    if not session_key:
        return AnonymousUser()
    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore(session_key)
    user = django_get_user(SimpleNamespace(session=session))
    if user.is_authenticated and not user.is_active:
        return AnonymousUser()
    return user


def member_is_cut_off(user: Any) -> bool:
    """Signed out, deactivated or suspended: the socket must stop receiving private events."""
    return (
        not user.is_authenticated
        or not user.is_active
        or bool(getattr(user, "is_suspended", False))
    )


def member_state(user: Any) -> dict[str, Any] | None:
    """What a signed-in member's own client needs to know about their account right now: may
    they post at all (the page's data-may-post), are they suspended or silenced and until when
    (ISO 8601; null for an indefinite suspension). None for a visitor. No database query."""
    from forum import permissions

    if not getattr(user, "is_authenticated", False):
        return None
    suspended = bool(getattr(user, "is_suspended", False))
    silenced = bool(getattr(user, "is_silenced", False))
    suspended_until = user.suspended_until if suspended else None
    if suspended_until is not None and suspended_until.year >= 9000:  # "indefinitely"
        suspended_until = None
    silenced_until = user.silenced_until if silenced else None

    def text(moment: Any) -> str | None:
        return permissions.local_time(moment) if moment else None

    return {
        "may_post": permissions.posting_refusal(user) is None,
        "suspended": suspended,
        "suspended_until": suspended_until.isoformat() if suspended_until else None,
        "silenced": silenced,
        "silenced_until": silenced_until.isoformat() if silenced_until else None,
        # As the pages say it (the site's time zone), so the live notice and a reload agree.
        "suspended_until_text": text(suspended_until),
        "silenced_until_text": text(silenced_until),
    }


def last_seq(stream: str) -> int:
    rows = StreamSequence.objects.filter(stream=stream).values_list("last_seq", flat=True)
    return rows.first() or 0


def last_seqs(streams: list[str]) -> dict[str, int]:
    return dict(StreamSequence.objects.filter(stream__in=streams).values_list("stream", "last_seq"))


def events_after(stream: str, after: int, limit: int) -> list[dict]:
    """Recorded events of a stream with seq > after, oldest first, at most `limit`."""
    rows = StreamEvent.objects.filter(stream=stream, seq__gt=after).order_by("seq")[:limit]
    return [event.as_message() for event in rows]


def events_since(stream: str, seconds: float, limit: int) -> tuple[list[dict], int]:
    """Events recorded in the last `seconds` (a page being loaded may have missed them), and
    the stream's last seq. More than `limit` such events: none are returned (the page is fresh
    enough; the client resumes from the last seq)."""
    from datetime import timedelta

    from django.utils import timezone

    top = last_seq(stream)
    if seconds <= 0:
        return [], top
    cutoff = timezone.now() - timedelta(seconds=seconds)
    rows = list(
        StreamEvent.objects.filter(stream=stream, created_at__gte=cutoff, seq__lte=top).order_by(
            "-seq"
        )[: limit + 1]
    )
    if len(rows) > limit:
        return [], top
    return [event.as_message() for event in reversed(rows)], top
