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
