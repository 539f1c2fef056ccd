"""Every write a member or moderator makes. Each action checks permission, writes in one
transaction, and registers what must be told to whom with publish_on_commit (via live.py).
Views, consumers and commands call these; nothing else writes forum data."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from functools import reduce
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from . import live, notifications, permissions, search
from .markdown import RENDER_VERSION, extract_mentions, render_markdown
from .models import (
    Board,
    BoardReadMark,
    BoardWatch,
    Post,
    PostRevision,
    Reaction,
    ReactionKind,
    ReadState,
    Thread,
    ThreadWatch,
    WatchLevel,
)

FORUM = settings.FORUM
# Beyond this many distinct @names in one post, the rest render as plain text.
MAX_MENTION_LOOKUPS = 50


@dataclass
class ReplyResult:
    post: Post
    created: bool


# ---------------------------------------------------------------- validation


def validate_title(title: str) -> str:
    title = " ".join((title or "").split())
    if len(title) < FORUM["TITLE_MIN"]:
        raise ValidationError(
            f"The title is too short: at least {FORUM['TITLE_MIN']} characters.", code="title"
        )
    if len(title) > FORUM["TITLE_MAX"]:
        raise ValidationError(
            f"The title is too long: at most {FORUM['TITLE_MAX']} characters "
            f"(this one has {len(title)}).",
            code="title",
        )
    return title


def validate_body(body: str) -> str:
    body = (body or "").replace("\r\n", "\n").strip("\n")
    if len(body.strip()) < FORUM["BODY_MIN"]:
        raise ValidationError("The post is empty: write at least a few words.", code="body")
    if len(body) > FORUM["BODY_MAX"]:
        raise ValidationError(
            f"The post is too long: at most {FORUM['BODY_MAX']:,} characters "
            f"(this one has {len(body):,}).",
            code="body",
        )
    return body


def render_post_body(body: str) -> str:
    """Render with mention links only for members the directory lists (active, approved or
    staff: a link to a sign-up awaiting approval would answer 404), in one query, none without
    mentions."""
    names = extract_mentions(body)[:MAX_MENTION_LOOKUPS]
    known: list[str] = []
    if names:
        match = reduce(operator.or_, (Q(username__iexact=name) for name in names))
        known = [
            u.lower()
            for u in get_user_model()
            .objects.filter(match, is_active=True)
            .filter(permissions.listed_members())
            .values_list("username", flat=True)
        ]
    return render_markdown(body, known_users=known)


def ensure_rendered(post: Post) -> str:
    """Cached HTML, re-rendered (and saved) when the renderer's version changed."""
    if post.render_version != RENDER_VERSION or not post.html:
        post.html = render_post_body(post.body)
        post.render_version = RENDER_VERSION
        Post.objects.filter(pk=post.pk).update(html=post.html, render_version=RENDER_VERSION)
    return post.html


# ---------------------------------------------------------------- threads and replies


def lock_thread(pk: int) -> Thread:
    """Lock a thread row (FOR NO KEY UPDATE), then read it with its board.

    The lock is taken by a query without joins: after waiting for a concurrent writer,
    PostgreSQL re-checks a locking query's joins against the rows it first saw, so a thread
    moved to another board meanwhile would drop out of a joined result. NO KEY: foreign-key
    checks of other transactions (KEY SHARE) do not wait for us, which avoids deadlocks with
    writers that insert rows pointing at this one.
    """
    list(Thread.objects.select_for_update(no_key=True).filter(pk=pk).values_list("pk"))
    return Thread.objects.select_related("board").get(pk=pk)


def lock_post(pk: int) -> Post:
    """Lock a post row (see lock_thread), then read it with its thread and board."""
    list(Post.objects.select_for_update(no_key=True).filter(pk=pk).values_list("pk"))
    return Post.objects.select_related("thread__board").get(pk=pk)


def _limits():
    from . import limits

    return limits


@transaction.atomic
def create_thread(
    user: Any, board: Board, *, title: str, body: str, client_token: str = ""
) -> Thread:
    board = Board.objects.select_for_update(no_key=True).get(pk=board.pk)
    permissions.check_start_thread(user, board)
    title = validate_title(title)
    body = validate_body(body)
    if client_token:
        existing = (
            Post.objects.filter(author=user, client_token=client_token, number=1)
            .select_related("thread")
            .first()
        )
        if existing:
            return existing.thread
    _limits().check_new_content(user, body, kind="thread")
    now = timezone.now()
    thread = Thread.objects.create(
        board=board,
        title=title,
        author=user,
        created_at=now,
        last_post_at=now,
        last_poster=user,
        post_count=1,
        reply_count=0,
    )
    post = Post.objects.create(
        thread=thread,
        number=1,
        author=user,
        body=body,
        html=render_post_body(body),
        render_version=RENDER_VERSION,
        created_at=now,
        client_token=client_token,
    )
    Thread.objects.filter(pk=thread.pk).update(last_post=post)
    thread.last_post = post
    Board.objects.filter(pk=board.pk).update(
        thread_count=F("thread_count") + 1,
        post_count=F("post_count") + 1,
        last_post=post,
        last_post_at=now,
    )
    get_user_model().objects.filter(pk=user.pk).update(
        post_count=F("post_count") + 1, thread_count=F("thread_count") + 1
    )
    ThreadWatch.objects.update_or_create(
        user=user, thread=thread, defaults={"level": WatchLevel.WATCHING}
    )
    ReadState.objects.update_or_create(user=user, thread=thread, defaults={"last_read_number": 1})
    search.index_post(post, thread=thread)
    post.mentioned_user_ids = notifications.notify_new_thread(thread, post)
    Post.objects.filter(pk=post.pk).update(mentioned_user_ids=post.mentioned_user_ids)
    live.thread_created(thread, post)
    return thread


@transaction.atomic
def reply_to_thread(user: Any, thread: Thread, *, body: str, client_token: str = "") -> ReplyResult:
    thread = lock_thread(thread.pk)
    permissions.check_reply(user, thread)
    body = validate_body(body)
    if client_token:
        existing = Post.objects.filter(
            thread=thread, author=user, client_token=client_token
        ).first()
        if existing:
            return ReplyResult(existing, created=False)
    _limits().check_new_content(user, body, kind="reply")
    now = timezone.now()
    number = thread.post_count + 1
    post = Post.objects.create(
        thread=thread,
        number=number,
        author=user,
        body=body,
        html=render_post_body(body),
        render_version=RENDER_VERSION,
        created_at=now,
        client_token=client_token,
    )
    Thread.objects.filter(pk=thread.pk).update(
        post_count=F("post_count") + 1,
        reply_count=F("reply_count") + 1,
        last_post=post,
        last_post_at=now,
        last_poster=user,
    )
    from .moderation import thread_counts_on_board

    if thread_counts_on_board(thread):
        # A moderator's reply in a hidden or deleted thread is not counted on (or shown as the
        # latest post of) the board: the board counts the visible posts of its listed threads.
        Board.objects.filter(pk=thread.board_id).update(
            post_count=F("post_count") + 1, last_post=post, last_post_at=now
        )
    get_user_model().objects.filter(pk=user.pk).update(post_count=F("post_count") + 1)
    thread.post_count, thread.reply_count = number, thread.reply_count + 1
    thread.last_post, thread.last_post_at, thread.last_poster = post, now, user
    ThreadWatch.objects.get_or_create(
        user=user, thread=thread, defaults={"level": WatchLevel.NORMAL}
    )
    ReadState.objects.update_or_create(
        user=user, thread=thread, defaults={"last_read_number": number}
    )
    search.index_post(post, thread=thread)
    post.mentioned_user_ids = notifications.notify_reply(thread, post)
    Post.objects.filter(pk=post.pk).update(mentioned_user_ids=post.mentioned_user_ids)
    live.post_created(thread, post)
    return ReplyResult(post, created=True)


@transaction.atomic
def edit_post(
    user: Any, post: Post, *, body: str, title: str | None = None, reason: str = ""
) -> Post:
    post = lock_post(post.pk)
    permissions.check_edit_post(user, post)
    body = validate_body(body)
    thread = post.thread
    new_title = validate_title(title) if (title is not None and post.number == 1) else None
    if body == post.body and (new_title is None or new_title == thread.title):
        return post
    if user.id == post.author_id:
        _limits().check_new_content(user, body, kind="edit")
    now = timezone.now()
    last = post.revisions.order_by("-number").values_list("number", flat=True).first() or 0
    PostRevision.objects.create(
        post=post,
        number=last + 1,
        body=post.body,
        title=thread.title if post.number == 1 else "",
        editor=user,
        reason=reason[:500],
        created_at=now,
    )
    post.body = body
    post.html = render_post_body(body)
    post.render_version = RENDER_VERSION
    post.edited_at = now
    post.edit_count += 1
    post.save(update_fields=["body", "html", "render_version", "edited_at", "edit_count"])
    if new_title is not None and new_title != thread.title:
        thread.title = new_title
        thread.save(update_fields=["title", "slug"])
    search.index_post(post, thread=thread)
    post.mentioned_user_ids = notifications.notify_edit(thread, post)
    Post.objects.filter(pk=post.pk).update(mentioned_user_ids=post.mentioned_user_ids)
    if user.id != post.author_id:
        from . import moderation

        moderation.log_action(
            user,
            "edit_post",
            post=post,
            reason=reason,
            before={"revision": last + 1},
            after={"edit_count": post.edit_count},
        )
    live.post_changed(thread, post)
    return post


@transaction.atomic
def delete_own_post(user: Any, post: Post) -> Post:
    """A member removes their own post (soft: the thread shows that a post was removed)."""
    # Thread first, then the post: the order replies and moderator actions lock in.
    thread_id = Post.objects.filter(pk=post.pk).values_list("thread_id", flat=True).first()
    if thread_id is not None:
        list(Thread.objects.select_for_update(no_key=True).filter(pk=thread_id).values_list("pk"))
    post = lock_post(post.pk)
    permissions.check_delete_post(user, post)
    _soft_delete_post(user, post)
    return post


def _soft_delete_post(user: Any, post: Post) -> None:
    thread = Thread.objects.select_for_update(no_key=True).get(pk=post.thread_id)
    was_visible = post.is_visible
    post.is_deleted = True
    post.deleted_by = user
    post.deleted_at = timezone.now()
    post.save(update_fields=["is_deleted", "deleted_by", "deleted_at"])
    if was_visible:
        # Recount under the thread lock, as a moderator's hide does: the reply count, and the
        # latest post and poster of the thread and its board, move back to the last visible post.
        from .moderation import recount_boards, recount_thread

        recount_thread(thread)
        recount_boards(thread.board_id)
    search.remove_post(post)
    live.post_changed(thread, post)


# ---------------------------------------------------------------- reactions


@transaction.atomic
def react(user: Any, post: Post, kind: str) -> dict[str, int]:
    """Add a reaction (once per member and kind). Returns the post's new counts."""
    if kind not in ReactionKind.values:
        raise ValidationError(f"Unknown reaction '{kind}'.", code="reaction")
    post = lock_post(post.pk)
    permissions.check_react(user, post)
    _limits().check_rate(user, "react")
    try:
        with transaction.atomic():
            Reaction.objects.create(post=post, user=user, kind=kind)
    except IntegrityError:
        raise ValidationError("You already reacted with that.", code="reaction_twice")
    counts = dict(post.reaction_counts or {})
    counts[kind] = counts.get(kind, 0) + 1
    post.reaction_counts = counts
    post.save(update_fields=["reaction_counts"])
    live.reactions_changed(post.thread, post)
    return counts


@transaction.atomic
def unreact(user: Any, post: Post, kind: str) -> dict[str, int]:
    post = lock_post(post.pk)
    permissions.check_view_post(user, post)
    deleted, _ = Reaction.objects.filter(post=post, user=user, kind=kind).delete()
    if not deleted:
        raise ValidationError("You had not reacted with that.", code="reaction_missing")
    counts = dict(post.reaction_counts or {})
    counts[kind] = max(0, counts.get(kind, 0) - 1)
    if not counts[kind]:
        del counts[kind]
    post.reaction_counts = counts
    post.save(update_fields=["reaction_counts"])
    live.reactions_changed(post.thread, post)
    return counts


# ---------------------------------------------------------------- reading and watching


_UNKNOWN = object()


def mark_read(user: Any, thread: Thread, number: int, *, known: Any = _UNKNOWN) -> None:
    """Record that the member has read up to post `number` (never moves backwards).

    `known` is the member's last read number when the caller already fetched it (None: no
    state yet); it saves the queries that would find out again."""
    if not user.is_authenticated:
        return
    number = min(number, thread.post_count)
    if known is not _UNKNOWN and known is not None and known >= number:
        return
    if known is None:
        try:
            with transaction.atomic():
                ReadState.objects.create(user=user, thread=thread, last_read_number=number)
            return
        except IntegrityError:
            pass  # created meanwhile (another tab): fall through to the forward-only update
    updated = ReadState.objects.filter(
        user=user, thread=thread, last_read_number__lt=number
    ).update(last_read_number=number, updated_at=timezone.now())
    if not updated and known is _UNKNOWN:
        try:
            with transaction.atomic():
                ReadState.objects.get_or_create(
                    user=user, thread=thread, defaults={"last_read_number": number}
                )
        except IntegrityError:
            pass


def mark_board_read(user: Any, board: Board) -> None:
    if not permissions.can_view_board(user, board):
        from django.http import Http404

        raise Http404("No such board.")
    with transaction.atomic():
        BoardReadMark.objects.update_or_create(
            user=user, board=board, defaults={"marked_at": timezone.now()}
        )
        # Threads the member had opened count as read to their last post (one UPDATE), so a
        # later reply shows as exactly "1 unread"; unopened ones are covered by the mark.
        ReadState.objects.filter(user=user, thread__board=board).update(
            last_read_number=Subquery(
                Thread.objects.filter(pk=OuterRef("thread_id")).values("post_count")[:1]
            ),
            updated_at=timezone.now(),
        )


def set_thread_watch(user: Any, thread: Thread, level: str) -> None:
    permissions.check_view_thread(user, thread)
    if level not in WatchLevel.values:
        raise ValidationError("Unknown watch level.", code="watch")
    ThreadWatch.objects.update_or_create(user=user, thread=thread, defaults={"level": level})


def set_board_watch(user: Any, board: Board, level: str) -> None:
    if not permissions.can_view_board(user, board):
        from django.http import Http404

        raise Http404("No such board.")
    if level not in WatchLevel.values:
        raise ValidationError("Unknown watch level.", code="watch")
    BoardWatch.objects.update_or_create(user=user, board=board, defaults={"level": level})
