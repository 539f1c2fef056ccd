"""What each forum change tells the live layer. Actions call these inside their transaction;
realtime.publish records the event and rings the doorbell after commit.

Where every permitted viewer sees the same thing (a new visible reply) the event carries the
rendered HTML once; where views differ (hidden for members, marked for moderators) it says
"post N changed" with the public HTML only when the post is publicly visible.
"""

from __future__ import annotations

from django.template.loader import render_to_string

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


def thread_created(thread: Thread, post: Post) -> None:
    publish_on_commit(board_stream(thread.board_id), "thread.created", _thread_row(thread))


def post_created(thread: Thread, post: Post) -> None:
    publish_on_commit(thread_stream(thread.pk), "post.created", _post_data(post))
    publish_on_commit(board_stream(thread.board_id), "thread.updated", _thread_row(thread))


def post_changed(thread: Thread, post: Post) -> None:
    publish_on_commit(thread_stream(thread.pk), "post.changed", _post_data(post))


def reactions_changed(thread: Thread, post: Post) -> None:
    publish_on_commit(
        thread_stream(thread.pk),
        "post.reactions",
        {"post_id": post.pk, "counts": post.reaction_counts},
    )


def thread_state_changed(thread: Thread, *, old_board_id: int | None = None) -> None:
    """Lock, pin, rename, hide, delete or move: every viewer of the thread and its board(s)."""
    row = _thread_row(thread)
    publish_on_commit(thread_stream(thread.pk), "thread.changed", row)
    publish_on_commit(board_stream(thread.board_id), "thread.updated", row)
    if old_board_id and old_board_id != thread.board_id:
        publish_on_commit(board_stream(old_board_id), "thread.removed", {"thread_id": thread.pk})
