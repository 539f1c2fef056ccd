"""What each forum change tells the live layer. Actions call these inside their transaction;
realtime.publish records the event and rings the doorbell after commit.

Where every permitted viewer sees the same thing (a new visible reply) the event carries the
rendered HTML once; where views differ (hidden for members, marked for moderators) it says
"post N changed" with the public HTML only when the post is publicly visible.

Board streams are followed by every viewer of the board, but a hidden or deleted thread is
for the board's moderators only: its events carry, under OTHERS_KEY, what everyone else gets
instead (the removal of its row, by id, when it has just been hidden or deleted; otherwise
nothing), and the consumer sends each subscriber its own form (docs/PROTOCOL.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.template.loader import render_to_string

from realtime.consumers import OTHERS_KEY
from realtime.publish import publish_on_commit
from realtime.streams import board_stream, thread_stream

from .models import Post, Thread


def render_post_html(post: Post) -> str:
    """The post partial as every viewer sees it (per-viewer controls come from data attributes)."""
    from .models import REACTION_EMOJI, ReactionKind

    kinds = [(k, label, REACTION_EMOJI[k]) for k, label in ReactionKind.choices]
    return render_to_string(
        "forum/_post.html", {"post": post, "live": True, "reaction_kinds": kinds}
    )


def _post_data(post: Post) -> dict:
    data = {
        "post_id": post.pk,
        "number": post.number,
        "thread_id": post.thread_id,
        "author_id": post.author_id,
        "visible": post.is_visible,
    }
    if post.is_visible:
        data["html"] = render_post_html(post)
    return data


def _thread_row(thread: Thread) -> dict:
    return {
        "thread_id": thread.pk,
        "board_id": thread.board_id,
        "title": thread.title,
        "url": thread.get_absolute_url(),
        "reply_count": thread.reply_count,
        "last_post_at": thread.last_post_at.isoformat() if thread.last_post_at else None,
        "last_poster": thread.last_poster.name if thread.last_poster_id else None,
        "is_pinned": thread.is_pinned,
        "is_locked": thread.is_locked,
        "is_hidden": thread.is_hidden,
        "is_deleted": thread.is_deleted,
    }


def _listed(thread: Thread) -> bool:
    """Does every viewer of the board see this thread (not only its moderators)?"""
    return not (thread.is_hidden or thread.is_deleted)


def _publish_board(
    board_id: int, type: str, data: dict, thread: Thread, *, was_listed: bool
) -> None:
    """A board-stream event about `thread`. Unlisted (hidden or deleted): in full for the board's
    moderators only; the others get the removal of its row if they could see it until this
    change (`was_listed`), and nothing otherwise: nothing that names it, not even its id."""
    if not _listed(thread):
        others = (
            {"event": "thread.removed", "data": {"thread_id": thread.pk}} if was_listed else None
        )
        data = {**data, OTHERS_KEY: others}
    publish_on_commit(board_stream(board_id), type, data)


def thread_created(thread: Thread, post: Post) -> None:
    _publish_board(thread.board_id, "thread.created", _thread_row(thread), thread, was_listed=False)


def post_created(thread: Thread, post: Post) -> None:
    publish_on_commit(thread_stream(thread.pk), "post.created", _post_data(post))
    _publish_board(thread.board_id, "thread.updated", _thread_row(thread), thread, was_listed=False)


def post_changed(thread: Thread, post: Post) -> None:
    publish_on_commit(thread_stream(thread.pk), "post.changed", _post_data(post))


def reactions_changed(thread: Thread, post: Post) -> None:
    publish_on_commit(
        thread_stream(thread.pk),
        "post.reactions",
        {"post_id": post.pk, "counts": post.reaction_counts},
    )


def thread_state_changed(
    thread: Thread, *, old_board_id: int | None = None, was_listed: bool | None = None
) -> None:
    """Lock, pin, rename, hide, delete or move: every viewer of the thread and its board(s).

    `was_listed`: did every board viewer see the thread before this change (None: same as now,
    the change did not hide, delete or restore it)? The thread stream needs no such care: the
    hub re-checks its viewers on every thread.changed and ends the subscription of those who
    may no longer see the thread before relaying it."""
    row = _thread_row(thread)
    listed_before = _listed(thread) if was_listed is None else was_listed
    publish_on_commit(thread_stream(thread.pk), "thread.changed", row)
    moved = bool(old_board_id and old_board_id != thread.board_id)
    # Moved here: the new board's members never had its row.
    _publish_board(
        thread.board_id, "thread.updated", row, thread, was_listed=listed_before and not moved
    )
    if moved:
        _publish_board(
            old_board_id,
            "thread.removed",
            {"thread_id": thread.pk},
            thread,
            was_listed=listed_before,
        )


# ---------------------------------------------------------------- catching up

POST_EVENTS = ("post.created", "post.changed", "post.reactions")
BOARD_EVENTS = ("thread.created", "thread.updated", "thread.removed")


def replay_view(user: Any, stream: str, events: list[dict]) -> list[dict]:
    """What a subscriber catching up (a resume from last_id, or a page load's since_ms) is sent
    of the recorded `events`, oldest first: the state of each thing as it is now, never a past
    state it has since left. Live viewers saw each change as it happened; a client asking for
    the past must not read a post's text from before it was hidden, deleted or edited, a post
    since moved to a thread it may not see, or a thread row since hidden or moved away.

    Every change to a post, a thread or a board row publishes its whole new state, so the last
    recorded event of each is its state now: that one is kept (as a creation when the client
    has not had the thing yet) and the earlier ones dropped. What the database says has left
    the stream (a post moved to another thread or purged, a notification the member may no
    longer see) is dropped."""
    kind, _, ident = stream.partition(":")
    if kind == "thread":
        return _replay_thread(int(ident), events)
    if kind == "board":
        return _replay_board(events)
    if kind == "inbox":
        return _replay_inbox(user, events)
    return events


def _coalesce(events: list[dict], key: Callable[[dict], Any]) -> list[tuple[dict, bool]]:
    """The last event of each key (key None: kept as it is), in stream order, each with
    whether the replay also holds the thing's creation (`*.created`)."""
    last: dict[Any, int] = {}
    created: set[Any] = set()
    for i, event in enumerate(events):
        k = key(event)
        if k is None:
            continue
        last[k] = i
        if event["type"].endswith(".created"):
            created.add(k)
    out = []
    for i, event in enumerate(events):
        k = key(event)
        if k is None:
            out.append((event, False))
        elif last[k] == i:
            out.append((event, k in created))
    return out


def _replay_thread(thread_id: int, events: list[dict]) -> list[dict]:
    def key(event: dict) -> Any:
        if event["type"] in ("post.created", "post.changed"):
            return ("post", event["data"].get("post_id"))
        if event["type"] == "post.reactions":
            return ("reactions", event["data"].get("post_id"))
        if event["type"] == "thread.changed":
            return ("thread",)
        return None

    post_ids = {e["data"].get("post_id") for e in events if e["type"] in POST_EVENTS}
    here = set(
        Post.objects.filter(pk__in=post_ids, thread_id=thread_id).values_list("pk", flat=True)
    )
    out = []
    for event, created in _coalesce(events, key):
        if event["type"] in POST_EVENTS:
            if event["data"].get("post_id") not in here:
                continue  # purged, or moved to another thread (maybe one this viewer may not see)
            if created and event["type"] == "post.changed":
                event = {**event, "type": "post.created"}
        out.append(event)
    return out


def _replay_board(events: list[dict]) -> list[dict]:
    def key(event: dict) -> Any:
        if event["type"] in BOARD_EVENTS:
            return event["data"].get("thread_id")
        return None

    out = []
    for event, created in _coalesce(events, key):
        if created and event["type"] != "thread.created":
            if event["type"] == "thread.removed":
                continue  # came and went within the replay: the client never had its row
            data = event["data"]
            if OTHERS_KEY in data:
                data = {**data, OTHERS_KEY: None}  # unlisted: only its moderators get the row
            event = {**event, "type": "thread.created", "data": data}
        out.append(event)
    return out


def _replay_inbox(user: Any, events: list[dict]) -> list[dict]:
    from .notifications import inbox_queryset

    ids = {e["data"].get("id") for e in events if e["type"] == "notification.created"}
    seen = set(inbox_queryset(user).filter(pk__in=ids).values_list("pk", flat=True))
    return [e for e in events if e["type"] != "notification.created" or e["data"].get("id") in seen]
