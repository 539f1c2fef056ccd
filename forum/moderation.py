"""Moderator actions and the moderation log.

Every function here is one moderator action: it locks what it changes (select_for_update), asks
forum.permissions whether this moderator may do it, writes in one transaction, keeps counters
exact (recounted under the row locks), logs the state before and after, tells the live layer
(forum.live, published after commit) and notifies whoever is affected.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone

from . import limits, live, notifications, permissions, search
from .models import (
    Board,
    ModerationAction,
    Post,
    ReadState,
    Report,
    ReportReason,
    Thread,
    ThreadWatch,
)

FORUM = settings.FORUM
# "Suspended indefinitely" is stored as a date no one will reach.
INDEFINITELY = datetime(9999, 12, 31, tzinfo=UTC)
REASON_MAX = 500
# Suspensions and silences with an end date end within this many years (else: indefinitely).
UNTIL_MAX_YEARS = 100


def log_action(
    actor: Any,
    action: str,
    *,
    thread: Thread | None = None,
    post: Post | None = None,
    board_id: int | None = None,
    target_user: Any = None,
    reason: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> ModerationAction:
    if post is not None and thread is None:
        thread = post.thread
    if thread is not None:
        board_id = thread.board_id
    return ModerationAction.objects.create(
        actor=actor,
        action=action,
        thread=thread,
        post=post,
        # The board scopes the entry: who may read it in the log, and the log's board filter.
        board_id=board_id,
        target_user=target_user or (post.author if post is not None else None),
        reason=reason[:REASON_MAX],
        before=before or {},
        after=after or {},
        created_at=timezone.now(),
    )


# ---------------------------------------------------------------- helpers


def _required_reason(reason: str, what: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(f"Give a reason for {what}.", code="reason")
    return reason[:REASON_MAX]


def _clean_reason(reason: str) -> str:
    return " ".join((reason or "").split())[:REASON_MAX]


def _locked_thread(thread: Thread | int) -> Thread:
    """The thread row, locked until commit, with its board and people loaded.

    The lock is taken without joins and the row read again afterwards: on PostgreSQL a locking
    query that had to wait returns the locked row's new version but joined rows from before the
    wait (a LEFT JOIN can then come back empty), so joins are read only once the lock is held.
    """
    pk = thread if isinstance(thread, int) else thread.pk
    if not Thread.objects.select_for_update(no_key=True).filter(pk=pk).values_list("pk", flat=True):
        raise Thread.DoesNotExist(f"Thread {pk} does not exist.")
    return Thread.objects.select_related("board", "author", "last_poster").get(pk=pk)


def _locked_post(post: Post | int) -> Post:
    pk = post if isinstance(post, int) else post.pk
    # Lock the thread first (same order as reply_to_thread), then the post.
    thread_id = Post.objects.values_list("thread_id", flat=True).get(pk=pk)
    thread = _locked_thread(thread_id)
    list(Post.objects.select_for_update(no_key=True).filter(pk=pk).values_list("pk", flat=True))
    post = Post.objects.select_related("author").get(pk=pk)
    if post.thread_id != thread.pk:  # moved by a split or merge while we waited
        return _locked_post(pk)
    post.thread = thread
    return post


def _thread_state(thread: Thread) -> dict[str, Any]:
    return {
        "board_id": thread.board_id,
        "title": thread.title,
        "is_pinned": thread.is_pinned,
        "is_locked": thread.is_locked,
        "is_hidden": thread.is_hidden,
        "hidden_reason": thread.hidden_reason,
        "is_deleted": thread.is_deleted,
    }


def _post_state(post: Post) -> dict[str, Any]:
    return {
        "is_hidden": post.is_hidden,
        "hidden_reason": post.hidden_reason,
        "is_deleted": post.is_deleted,
        "number": post.number,
    }


def _member_state(member: Any) -> dict[str, Any]:
    return {
        "suspended_until": member.suspended_until.isoformat() if member.suspended_until else None,
        "suspension_reason": member.suspension_reason,
        "silenced_until": member.silenced_until.isoformat() if member.silenced_until else None,
        "silence_reason": member.silence_reason,
    }


def _notify(
    target: Any, actor: Any, text: str, *, thread: Thread | None = None, post: Post | None = None
) -> None:
    if target is None or target.pk == actor.pk:
        return
    notifications.notify_moderation(target, actor, text, thread=thread, post=post)


def recount_thread(thread: Thread) -> None:
    """Recompute a thread's counters and last post from its posts (call with the row locked).

    post_count counts every numbered post (dense numbers, so it is also the highest number);
    reply_count counts visible posts after the first; the last post is the last visible one.
    """
    posts = Post.objects.filter(thread_id=thread.pk)
    counts = posts.aggregate(
        n=Count("id"),
        replies=Count("id", filter=Q(number__gt=1, is_hidden=False, is_deleted=False)),
    )
    last = (
        posts.filter(is_hidden=False, is_deleted=False).order_by("-number").first()
        or posts.order_by("-number").first()
    )
    thread.post_count = counts["n"]
    thread.reply_count = counts["replies"]
    thread.last_post = last
    thread.last_post_at = last.created_at if last else thread.created_at
    thread.last_poster_id = last.author_id if last else thread.author_id
    Thread.objects.filter(pk=thread.pk).update(
        post_count=thread.post_count,
        reply_count=thread.reply_count,
        last_post=last,
        last_post_at=thread.last_post_at,
        last_poster_id=thread.last_poster_id,
    )


def recount_boards(*board_ids: int) -> None:
    """Recompute board counters from their listed threads, locking the boards in id order.

    The rule (what a member reads in the lists adds up): a board counts the threads members see
    in its list (not hidden, deleted or merged away), and its post count is the sum of the
    visible posts of those threads, i.e. each listed thread's reply_count plus its first post
    when that is visible. Hidden and removed posts, and every post of an unlisted thread, are
    left out, as they are from the threads' reply counts. Concurrent replies update the board
    row with F() after their post is written, so a recount under the row lock never loses one.
    """
    for board_id in sorted({b for b in board_ids if b}):
        list(
            Board.objects.select_for_update(no_key=True)
            .filter(pk=board_id)
            .values_list("id", flat=True)
        )
        listed = Thread.objects.filter(
            board_id=board_id, is_hidden=False, is_deleted=False, merged_into__isnull=True
        )
        first_visible = Exists(
            Post.objects.filter(
                thread_id=OuterRef("pk"), number=1, is_hidden=False, is_deleted=False
            )
        )
        agg = listed.aggregate(
            threads=Count("id"),
            replies=Sum("reply_count"),
            firsts=Count("id", filter=first_visible),
        )
        last = (
            listed.order_by("-last_post_at", "-id").values("last_post_id", "last_post_at").first()
        )
        Board.objects.filter(pk=board_id).update(
            thread_count=agg["threads"] or 0,
            post_count=(agg["replies"] or 0) + (agg["firsts"] or 0),
            last_post_id=last["last_post_id"] if last else None,
            last_post_at=last["last_post_at"] if last else None,
        )


def thread_counts_on_board(thread: Thread) -> bool:
    """Whether the thread is listed on its board, so that its posts count in the board's
    post count (see recount_boards)."""
    return not (thread.is_hidden or thread.is_deleted or thread.merged_into_id)


def _densify(thread_id: int) -> None:
    """Renumber a thread's posts 1..n in their current order (pages use dense numbers).

    Numbers are unique per thread, so every post first moves above the current maximum, then
    takes its final number: no two rows ever hold the same number in between.
    """
    posts = list(Post.objects.filter(thread_id=thread_id).order_by("number", "id"))
    if all(p.number == i for i, p in enumerate(posts, start=1)):
        return
    offset = max(p.number for p in posts) + 1
    Post.objects.filter(thread_id=thread_id).update(number=F("number") + offset)
    for i, post in enumerate(posts, start=1):
        post.number = i
    Post.objects.bulk_update(posts, ["number"], batch_size=500)


# ---------------------------------------------------------------- thread tools


def _unchanged(message: str) -> ValidationError:
    """The refusal of an action that would change nothing (a double click, a stale page, or an
    undo of something since reverted): nothing is written, logged or notified. Callers for
    which "already so" is fine (undo, resolving reports) catch code "unchanged"."""
    return ValidationError(message, code="unchanged")


def _already(exc: ValidationError) -> bool:
    return getattr(exc, "code", None) == "unchanged"


def _change_thread(
    user: Any,
    thread: Thread | int,
    action: str,
    changes: dict[str, Any],
    *,
    unchanged: str,
    compare: tuple[str, ...] = (),
    reason: str = "",
    notify_text: str = "",
) -> Thread:
    """Apply `changes`, unless the fields in `compare` (by default every changed field; not
    timestamps) already hold those values: then refuse with the message `unchanged`."""
    thread = _locked_thread(thread)
    permissions.check_moderate_thread(user, thread)
    if all(getattr(thread, field) == changes[field] for field in compare or changes):
        raise _unchanged(unchanged)
    before = _thread_state(thread)
    for field, value in changes.items():
        setattr(thread, field, value)
    # Thread.save() derives the slug from the title.
    thread.save(update_fields=list(changes) + (["slug"] if "title" in changes else []))
    if {"is_hidden", "is_deleted"} & set(changes):
        recount_boards(thread.board_id)
    if "title" in changes:
        first = Post.objects.filter(thread=thread, number=1, is_hidden=False).first()
        if first is not None:
            search.index_post(first, thread=thread)  # the title is indexed with post #1
    log_action(
        user,
        action,
        thread=thread,
        target_user=thread.author,
        reason=reason,
        before=before,
        after=_thread_state(thread),
    )
    live.thread_state_changed(thread, was_listed=not (before["is_hidden"] or before["is_deleted"]))
    if notify_text:
        _notify(thread.author, user, notify_text, thread=thread)
    return thread


@transaction.atomic
def pin_thread(user: Any, thread: Thread | int, *, reason: str = "") -> Thread:
    return _change_thread(
        user,
        thread,
        "pin_thread",
        {"is_pinned": True},
        unchanged="This thread is already pinned.",
        reason=_clean_reason(reason),
    )


@transaction.atomic
def unpin_thread(user: Any, thread: Thread | int, *, reason: str = "") -> Thread:
    return _change_thread(
        user,
        thread,
        "unpin_thread",
        {"is_pinned": False},
        unchanged="This thread is not pinned.",
        reason=_clean_reason(reason),
    )


@transaction.atomic
def lock_thread(user: Any, thread: Thread | int, *, reason: str = "") -> Thread:
    return _change_thread(
        user,
        thread,
        "lock_thread",
        {"is_locked": True},
        unchanged="This thread is already locked.",
        reason=_clean_reason(reason),
        notify_text="locked your thread",
    )


@transaction.atomic
def unlock_thread(user: Any, thread: Thread | int, *, reason: str = "") -> Thread:
    return _change_thread(
        user,
        thread,
        "unlock_thread",
        {"is_locked": False},
        unchanged="This thread is not locked.",
        reason=_clean_reason(reason),
        notify_text="unlocked your thread",
    )


@transaction.atomic
def hide_thread(user: Any, thread: Thread | int, *, reason: str) -> Thread:
    reason = _required_reason(reason, "hiding the thread")
    return _change_thread(
        user,
        thread,
        "hide_thread",
        {"is_hidden": True, "hidden_reason": reason},
        unchanged="This thread is already hidden, for that reason.",
        reason=reason,
        notify_text="hid your thread",
    )


@transaction.atomic
def restore_thread(user: Any, thread: Thread | int, *, reason: str = "") -> Thread:
    return _change_thread(
        user,
        thread,
        "restore_thread",
        {"is_hidden": False, "hidden_reason": ""},
        unchanged="This thread is not hidden.",
        compare=("is_hidden",),
        reason=_clean_reason(reason),
        notify_text="restored your hidden thread",
    )


@transaction.atomic
def delete_thread(user: Any, thread: Thread | int, *, reason: str = "") -> Thread:
    return _change_thread(
        user,
        thread,
        "delete_thread",
        {"is_deleted": True, "deleted_at": timezone.now()},
        unchanged="This thread is already deleted.",
        compare=("is_deleted",),
        reason=_clean_reason(reason),
        notify_text="deleted your thread",
    )


@transaction.atomic
def restore_deleted_thread(user: Any, thread: Thread | int, *, reason: str = "") -> Thread:
    return _change_thread(
        user,
        thread,
        "restore_deleted_thread",
        {"is_deleted": False, "deleted_at": None},
        unchanged="This thread is not deleted.",
        compare=("is_deleted",),
        reason=_clean_reason(reason),
        notify_text="restored your deleted thread",
    )


@transaction.atomic
def rename_thread(user: Any, thread: Thread | int, *, title: str, reason: str = "") -> Thread:
    from .actions import validate_title

    title = validate_title(title)
    return _change_thread(
        user,
        thread,
        "rename_thread",
        {"title": title},
        unchanged="The thread already has that title.",
        reason=_clean_reason(reason),
        notify_text="renamed your thread",
    )


@transaction.atomic
def move_thread(user: Any, thread: Thread | int, *, board: Board | int, reason: str = "") -> Thread:
    """Move to another board the moderator also moderates. Thread URLs do not name the board,
    so old links keep working; the new board's permissions apply from the commit on (the live
    layer re-checks open sockets on the thread.changed event carrying the old board id)."""
    thread = _locked_thread(thread)
    permissions.check_moderate_thread(user, thread)
    target = Board.objects.filter(pk=board if isinstance(board, int) else board.pk).first()
    if target is None:
        raise ValidationError("Choose a board to move the thread to.", code="board")
    if not permissions.can_moderate_board(user, target):
        raise permissions.Refused(f"You can only move threads to boards you moderate ({target}).")
    if target.pk == thread.board_id:
        raise ValidationError(f"The thread is already in {target.name}.", code="board")
    before = _thread_state(thread)
    old_board_id = thread.board_id
    thread.board = target
    thread.save(update_fields=["board"])
    recount_boards(old_board_id, target.pk)
    reason = _clean_reason(reason)
    log_action(
        user,
        "move_thread",
        thread=thread,
        target_user=thread.author,
        reason=reason,
        before=before,
        after=_thread_state(thread),
    )
    live.thread_state_changed(thread, old_board_id=old_board_id)
    # Never name a board its author may not see (the notification then links nowhere too).
    seen = thread.author is not None and permissions.can_view_board(thread.author, target)
    where = target.name if seen else "a board you cannot see"
    _notify(thread.author, user, f"moved your thread to {where}", thread=thread)
    return thread


@transaction.atomic
def purge_thread(user: Any, thread: Thread | int, *, confirm_title: str, reason: str = "") -> dict:
    """Delete a thread and its posts for good (staff only; the title must be typed to confirm).
    Returns the logged "before" state (the thread no longer exists)."""
    thread = _locked_thread(thread)
    permissions.check_purge_thread(user, thread)
    if " ".join((confirm_title or "").split()).casefold() != thread.title.casefold():
        raise ValidationError(
            "To delete this thread permanently, type its title exactly.", code="confirm"
        )
    before = _thread_state(thread) | {
        "thread_id": thread.pk,
        "post_count": thread.post_count,
        "author_id": thread.author_id,
    }
    per_author = dict(
        Post.objects.filter(thread=thread).values_list("author_id").annotate(n=Count("id"))
    )
    User = get_user_model()
    for author_id, n in per_author.items():
        User.objects.filter(pk=author_id, post_count__gte=n).update(post_count=F("post_count") - n)
    User.objects.filter(pk=thread.author_id, thread_count__gt=0).update(
        thread_count=F("thread_count") - 1
    )
    # Threads merged into this one would lose their redirect: keep them out of every list.
    Thread.objects.filter(merged_into=thread).update(is_deleted=True, deleted_at=timezone.now())
    log_action(
        user,
        "purge_thread",
        board_id=thread.board_id,  # the thread row is about to go; its board scopes the entry
        target_user=thread.author,
        reason=_clean_reason(reason),
        before=before,
        after={"purged": True},
    )
    thread.is_deleted = True
    live.thread_state_changed(thread, was_listed=not (before["is_hidden"] or before["is_deleted"]))
    for post in Post.objects.filter(thread=thread):
        search.remove_post(post)
    board_id = thread.board_id
    Post.objects.filter(thread=thread).delete()
    Thread.objects.filter(pk=thread.pk).delete()
    recount_boards(board_id)
    return before


@transaction.atomic
def split_thread(
    user: Any,
    thread: Thread | int,
    *,
    post_ids: list[int],
    title: str,
    board: Board | int | None = None,
    reason: str = "",
) -> Thread:
    """Move the selected replies, in order and with their authors, into a new thread."""
    from .actions import validate_title

    thread = _locked_thread(thread)
    permissions.check_moderate_thread(user, thread)
    title = validate_title(title)
    target = thread.board
    if board is not None:
        target = Board.objects.filter(pk=board if isinstance(board, int) else board.pk).first()
        if target is None:
            raise ValidationError("Choose a board for the new thread.", code="board")
        if not permissions.can_moderate_board(user, target):
            raise permissions.Refused("You can only create threads in boards you moderate.")
    ids = sorted({int(i) for i in post_ids})
    posts = list(
        Post.objects.select_for_update(no_key=True)
        .filter(thread=thread, pk__in=ids)
        .order_by("number")
    )
    if not posts:
        raise ValidationError("Choose at least one reply to split off.", code="posts")
    if len(posts) != len(ids):
        raise ValidationError("Some of the chosen posts are not in this thread.", code="posts")
    if posts[0].number == 1:
        raise ValidationError(
            "The first post stays with its thread: choose replies only.", code="posts"
        )
    first = posts[0]
    if first.is_hidden or first.is_deleted:
        state = "deleted" if first.is_deleted else "hidden"
        raise ValidationError(
            f"Reply #{first.number} is {state}, so it cannot start the new thread: restore it "
            "first, or choose a visible reply as the first one to move.",
            code="posts",
        )
    before = _thread_state(thread) | {"post_count": thread.post_count, "post_ids": ids}
    new = Thread.objects.create(
        board=target,
        title=title,
        author=first.author,
        created_at=first.created_at,
        last_post_at=first.created_at,
        last_poster=first.author,
    )
    Post.objects.filter(pk__in=ids).update(thread=new)  # numbers stay distinct within `new`
    _densify(new.pk)
    _densify(thread.pk)
    recount_thread(new)
    recount_thread(thread)
    recount_boards(thread.board_id, target.pk)
    get_user_model().objects.filter(pk=first.author_id).update(thread_count=F("thread_count") + 1)
    ThreadWatch.objects.bulk_create(
        [ThreadWatch(user_id=a, thread=new, level="normal") for a in {p.author_id for p in posts}],
        ignore_conflicts=True,
    )
    # Read positions past the new end of the source thread would hide its next replies.
    ReadState.objects.filter(thread=thread, last_read_number__gt=thread.post_count).update(
        last_read_number=thread.post_count
    )
    for post in Post.objects.filter(thread=new):
        search.index_post(post, thread=new)
    log_action(
        user,
        "split_thread",
        thread=thread,
        target_user=thread.author,
        reason=_clean_reason(reason),
        before=before,
        after={
            "post_count": thread.post_count,
            "new_thread_id": new.pk,
            "new_title": new.title,
            "new_board_id": target.pk,
        },
    )
    live.thread_state_changed(thread)
    live.thread_created(new, first)
    for author in {p.author for p in posts}:
        _notify(author, user, "moved your post to a new thread", thread=new)
    return new


@transaction.atomic
def merge_threads(
    user: Any, source: Thread | int, target: Thread | int, *, reason: str = ""
) -> Thread:
    """Append every post of `source` to `target`, keeping authors and order; the source thread
    then redirects to the target."""
    source_id = source if isinstance(source, int) else source.pk
    target_id = target if isinstance(target, int) else target.pk
    if source_id == target_id:
        raise ValidationError("A thread cannot be merged into itself.", code="target")
    locked = {pk: _locked_thread(pk) for pk in sorted([source_id, target_id])}
    source, target = locked[source_id], locked[target_id]
    permissions.check_moderate_thread(user, source)
    permissions.check_moderate_thread(user, target)
    if source.merged_into_id or target.merged_into_id:
        raise ValidationError("That thread was already merged into another.", code="target")
    before = _thread_state(source) | {
        "post_count": source.post_count,
        "target_id": target.pk,
        "target_post_count": target.post_count,
    }
    top = (
        Post.objects.filter(thread=target)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
        or 0
    )
    moved_ids = list(Post.objects.filter(thread=source).values_list("id", flat=True))
    Post.objects.filter(thread=source).update(thread=target, number=F("number") + top)
    _densify(target.pk)
    recount_thread(target)
    source.merged_into = target
    source.save(update_fields=["merged_into"])
    recount_thread(source)
    recount_boards(source.board_id, target.board_id)
    for watch in ThreadWatch.objects.filter(thread=source):
        ThreadWatch.objects.get_or_create(
            user_id=watch.user_id, thread=target, defaults={"level": watch.level}
        )
    for post in Post.objects.filter(pk__in=moved_ids):
        search.index_post(post, thread=target)
    log_action(
        user,
        "merge_threads",
        thread=target,
        target_user=source.author,
        reason=_clean_reason(reason),
        before=before,
        after={"merged_into": target.pk, "target_post_count": target.post_count},
    )
    live.thread_state_changed(source)
    live.thread_state_changed(target)
    _notify(source.author, user, "merged your thread into another", thread=target)
    return target


# ---------------------------------------------------------------- post tools


def _change_post(
    user: Any,
    post: Post | int,
    action: str,
    changes: dict[str, Any],
    *,
    unchanged: str,
    compare: tuple[str, ...] = (),
    reason: str = "",
    notify_text: str = "",
    check: bool = True,
) -> Post:
    """As _change_thread: refused with `unchanged` when the `compare` fields already hold."""
    post = _locked_post(post)
    if check:
        permissions.check_moderate_post(user, post)
    if all(getattr(post, field) == changes[field] for field in compare or changes):
        raise _unchanged(unchanged)
    before = _post_state(post)
    was_visible = post.is_visible
    for field, value in changes.items():
        setattr(post, field, value)
    post.save(update_fields=list(changes))
    thread = post.thread
    recount_thread(thread)
    recount_boards(thread.board_id)
    if was_visible and not post.is_visible:
        search.remove_post(post)
    elif post.is_visible and not was_visible:
        search.index_post(post, thread=thread)
    log_action(user, action, post=post, reason=reason, before=before, after=_post_state(post))
    live.post_changed(thread, post)
    live.thread_state_changed(thread)
    if notify_text:
        _notify(post.author, user, notify_text, thread=thread, post=post)
    return post


@transaction.atomic
def hide_post(user: Any, post: Post | int, *, reason: str) -> Post:
    """Hidden: the author and moderators still see it, marked, with the reason."""
    reason = _required_reason(reason, "hiding the post")
    return _change_post(
        user,
        post,
        "hide_post",
        {"is_hidden": True, "hidden_reason": reason, "hidden_by_id": user.pk},
        unchanged="This post is already hidden, for that reason.",
        reason=reason,
        notify_text="hid your post",
    )


@transaction.atomic
def restore_post(user: Any, post: Post | int, *, reason: str = "") -> Post:
    return _change_post(
        user,
        post,
        "restore_post",
        {"is_hidden": False, "hidden_reason": "", "hidden_by_id": None},
        unchanged="This post is not hidden.",
        compare=("is_hidden",),
        reason=_clean_reason(reason),
        notify_text="restored your hidden post",
    )


@transaction.atomic
def delete_post(user: Any, post: Post | int, *, reason: str = "") -> Post:
    """Soft delete by a moderator (restorable). The first post goes with its thread."""
    locked = _locked_post(post)
    permissions.check_moderate_post(user, locked)
    if locked.number == 1:
        raise ValidationError(
            "The first post cannot be deleted on its own: delete the thread instead.",
            code="first_post",
        )
    return _change_post(
        user,
        locked,
        "delete_post",
        {"is_deleted": True, "deleted_by_id": user.pk, "deleted_at": timezone.now()},
        unchanged="This post is already deleted.",
        compare=("is_deleted",),
        reason=_clean_reason(reason),
        notify_text="deleted your post",
    )


@transaction.atomic
def restore_deleted_post(user: Any, post: Post | int, *, reason: str = "") -> Post:
    return _change_post(
        user,
        post,
        "restore_deleted_post",
        {"is_deleted": False, "deleted_by_id": None, "deleted_at": None},
        unchanged="This post is not deleted.",
        compare=("is_deleted",),
        reason=_clean_reason(reason),
        notify_text="restored your deleted post",
    )


@transaction.atomic
def moderator_edit_post(
    user: Any, post: Post | int, *, body: str, reason: str, title: str | None = None
) -> Post:
    """Edit someone's post; the reason is kept in the revision history and the log (by
    actions.edit_post, which logs whenever the editor is not the author)."""
    from . import actions

    reason = _required_reason(reason, "the edit")
    locked = _locked_post(post)
    permissions.check_moderate_post(user, locked)
    edited = actions.edit_post(user, locked, body=body, title=title, reason=reason)
    if edited.edited_at and edited.author_id != user.pk:
        _notify(edited.author, user, "edited your post", thread=locked.thread, post=edited)
    return edited


# ---------------------------------------------------------------- reports


def is_established(member: Any) -> bool:
    """Established members' reports count towards hiding a post automatically."""
    if not member.is_active or not member.is_approved or member.is_suspended:
        return False
    if member.is_staff:
        return True
    joined_before = timezone.now() - timedelta(days=FORUM["NEW_MEMBER_DAYS"])
    return member.date_joined <= joined_before and member.post_count >= FORUM["NEW_MEMBER_POSTS"]


def open_reports(user: Any):  # noqa: ANN201 (a QuerySet of Report)
    """Open reports on posts in the boards this moderator moderates."""
    reports = Report.objects.filter(resolved_at__isnull=True)
    board_ids = permissions.moderated_board_ids(user)
    if board_ids is not None:
        reports = reports.filter(post__thread__board_id__in=board_ids)
    return reports


def open_report_count(user: Any) -> int:
    """Posts with open reports (queue items) that this moderator can act on."""
    if not permissions.is_moderator_anywhere(user):
        return 0
    return open_reports(user).values("post_id").distinct().count()


def _publish_report_count_after_commit() -> None:
    def publish() -> None:
        from realtime.publish import publish_on_commit
        from realtime.streams import moderators_stream

        open_ = Report.objects.filter(resolved_at__isnull=True)
        by_board = {
            str(row["post__thread__board_id"]): row["n"]
            for row in open_.values("post__thread__board_id").annotate(
                n=Count("post_id", distinct=True)
            )
        }
        with transaction.atomic():
            publish_on_commit(
                moderators_stream(),
                "reports.count",
                {"open": sum(by_board.values()), "by_board": by_board},
            )

    # Counted after commit, so two reports committing together never publish a stale number.
    transaction.on_commit(publish)


@transaction.atomic
def report_post(user: Any, post: Post | int, *, reason: str, text: str = "") -> Report:
    post = _locked_post(post)
    permissions.check_report(user, post)
    if reason not in ReportReason.values:
        raise ValidationError("Choose why you are reporting this post.", code="reason")
    text = " ".join((text or "").split())[:REASON_MAX]
    if reason == ReportReason.OTHER and not text:
        raise ValidationError("Tell the moderators what is wrong with this post.", code="text")
    refusal = "You already reported this post; the moderators will look at it."
    if Report.objects.filter(post=post, reporter=user).exists():
        raise ValidationError(refusal, code="already_reported")
    # After the refusals above, so that only reports that would be filed count (fails open).
    limits.check_rate(user, "report")
    try:
        with transaction.atomic():
            report = Report.objects.create(
                post=post, reporter=user, reason=reason, text=text, created_at=timezone.now()
            )
    except IntegrityError:
        raise ValidationError(refusal, code="already_reported")
    _auto_hide_if_reported(user, post)
    _publish_report_count_after_commit()
    return report


def _auto_hide_if_reported(reporter: Any, post: Post) -> None:
    threshold = FORUM["AUTO_HIDE_REPORTS"]
    if post.is_hidden or post.is_deleted or threshold <= 0:
        return
    reporters = [
        r.reporter
        for r in Report.objects.filter(post=post, resolved_at__isnull=True).select_related(
            "reporter"
        )
    ]
    established = [r for r in reporters if is_established(r)]
    if len(established) < threshold:
        return
    reason = (
        f"Hidden automatically after {len(established)} member reports, until a moderator looks."
    )
    _change_post(
        reporter,
        post,
        "auto_hide_post",
        {"is_hidden": True, "hidden_reason": reason[:REASON_MAX], "hidden_by_id": None},
        unchanged="This post is already hidden.",
        compare=("is_hidden",),
        reason=reason,
        notify_text="",
        check=False,
    )


def _auto_hidden(post: Post) -> bool:
    return post.is_hidden and post.hidden_by_id is None


def _unless_already(action: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Run an action for which "already so" is fine (e.g. resolving reports on a post that is
    already hidden or deleted): nothing is logged for it then."""
    try:
        action(*args, **kwargs)
    except ValidationError as exc:
        if not _already(exc):
            raise


RESOLUTIONS = {"hide": "hidden", "edit": "edited", "dismiss": "dismissed", "delete": "removed"}


@transaction.atomic
def resolve_report(
    user: Any,
    post: Post | int,
    *,
    resolution: str,
    reason: str = "",
    body: str | None = None,
    title: str | None = None,
) -> int:
    """Close every open report of a post: hide it, edit it, delete it or dismiss the reports.
    Editing post #1 may also change the thread's title. Reporters are told. Returns how many
    reports were closed."""
    post = _locked_post(post)
    permissions.check_moderate_post(user, post)
    if resolution not in RESOLUTIONS:
        raise ValidationError("Choose how to resolve the reports.", code="resolution")
    reports = list(
        Report.objects.select_for_update(of=("self",))
        .filter(post=post, resolved_at__isnull=True)
        .select_related("reporter")
    )
    if not reports:
        raise ValidationError("There are no open reports on this post.", code="no_reports")
    before = _post_state(post) | {
        "open_reports": len(reports),
        "reasons": sorted({r.reason for r in reports}),
    }
    if resolution == "hide":
        reason = _required_reason(reason, "hiding the post")
        # Also takes over an automatic hide: the moderator's reason and name replace it.
        _unless_already(hide_post, user, post, reason=reason)
    elif resolution == "edit":
        moderator_edit_post(user, post, body=body or "", reason=reason, title=title)
        if _auto_hidden(post):
            restore_post(user, post, reason="Edited after reports")
    elif resolution == "delete":
        _unless_already(delete_post, user, post, reason=reason)
    elif _auto_hidden(post):
        restore_post(user, post, reason="Reports dismissed")
    now = timezone.now()
    Report.objects.filter(pk__in=[r.pk for r in reports]).update(
        resolved_at=now, resolved_by=user, resolution=resolution
    )
    post.refresh_from_db()
    log_action(
        user,
        "resolve_reports",
        post=post,
        reason=_clean_reason(reason),
        before=before,
        after=_post_state(post) | {"resolution": resolution},
    )
    for report in reports:
        notifications.notify_report_resolved(report.reporter, post, RESOLUTIONS[resolution])
    _publish_report_count_after_commit()
    return len(reports)


# ---------------------------------------------------------------- members


def _locked_member(member: Any) -> Any:
    return get_user_model().objects.select_for_update(no_key=True).get(pk=member.pk)


def _change_member(
    user: Any,
    member: Any,
    action: str,
    changes: dict[str, Any],
    *,
    reason: str,
    notify_text: str,
    unchanged: str,
    in_effect: Callable[[Any], bool] | None = None,
) -> Any:
    """Apply `changes` to a member. Refused with `unchanged` (a format string given the
    member's name) when they change nothing, or, for a lift, when `in_effect(member)` says
    there is nothing in effect to lift (an expired suspension is not lifted again)."""
    member = _locked_member(member)
    permissions.check_moderate_member(user, member)
    if (in_effect is not None and not in_effect(member)) or all(
        getattr(member, field) == value for field, value in changes.items()
    ):
        raise _unchanged(unchanged.format(name=member.name))
    before = _member_state(member)
    for field, value in changes.items():
        setattr(member, field, value)
    member.save(update_fields=list(changes))
    log_action(
        user, action, target_user=member, reason=reason, before=before, after=_member_state(member)
    )
    _notify(member, user, notify_text)
    return member


def _future(until: datetime | None, what: str) -> datetime:
    if until is None:
        raise ValidationError(f"Choose until when the member is {what}.", code="until")
    if timezone.is_naive(until):
        until = timezone.make_aware(until)
    now = timezone.now()
    if until <= now:
        raise ValidationError("Choose a date in the future.", code="until")
    if until > now + timedelta(days=366 * UNTIL_MAX_YEARS):
        # Also keeps dates the database cannot hold in UTC (9999-12-31 in Los Angeles) out.
        raise ValidationError(
            f"Choose a date within the next {UNTIL_MAX_YEARS} years.", code="until"
        )
    return until


@transaction.atomic
def suspend_member(user: Any, member: Any, *, until: datetime | None, reason: str) -> Any:
    """Suspend until a date, or indefinitely when `until` is None. A suspended member reads but
    cannot post, react, report or message; their open sockets are told to re-check at commit."""
    reason = _required_reason(reason, "the suspension")
    until = INDEFINITELY if until is None else _future(until, "suspended")
    member = _change_member(
        user,
        member,
        "suspend_member",
        {"suspended_until": until, "suspension_reason": reason},
        unchanged="{name} is already suspended until then, for that reason.",
        reason=reason,
        notify_text="suspended your account",
    )
    _disconnect_after_commit(member.pk, "suspended")
    return member


@transaction.atomic
def lift_suspension(user: Any, member: Any, *, reason: str = "") -> Any:
    member = _change_member(
        user,
        member,
        "lift_suspension",
        {"suspended_until": None, "suspension_reason": ""},
        unchanged="{name} is not suspended.",
        in_effect=lambda m: m.is_suspended,
        reason=_clean_reason(reason),
        notify_text="lifted your suspension",
    )
    _disconnect_after_commit(member.pk, "unsuspended")
    return member


@transaction.atomic
def silence_member(user: Any, member: Any, *, until: datetime | None, reason: str) -> Any:
    """Silenced: cannot start threads or reply until the given time."""
    reason = _required_reason(reason, "silencing")
    until = _future(until, "silenced")
    member = _change_member(
        user,
        member,
        "silence_member",
        {"silenced_until": until, "silence_reason": reason},
        unchanged="{name} is already silenced until then, for that reason.",
        reason=reason,
        notify_text="silenced you",
    )
    _disconnect_after_commit(member.pk, "silenced")
    return member


@transaction.atomic
def lift_silence(user: Any, member: Any, *, reason: str = "") -> Any:
    member = _change_member(
        user,
        member,
        "lift_silence",
        {"silenced_until": None, "silence_reason": ""},
        unchanged="{name} is not silenced.",
        in_effect=lambda m: m.is_silenced,
        reason=_clean_reason(reason),
        notify_text="lifted your silence",
    )
    _disconnect_after_commit(member.pk, "unsilenced")
    return member


def _disconnect_after_commit(user_id: int, reason: str) -> None:
    from realtime.publish import disconnect_member

    transaction.on_commit(lambda: disconnect_member(user_id, reason=reason))


# ---------------------------------------------------------------- undo


def _undo_member(user: Any, entry: ModerationAction, kind: str) -> None:
    member = entry.target_user
    if member is None:
        raise ValidationError("That member no longer exists.", code="gone")
    until_raw = entry.before.get(f"{kind}_until")
    until = datetime.fromisoformat(until_raw) if until_raw else None
    reason_key = "suspension_reason" if kind == "suspended" else "silence_reason"
    reason = entry.before.get(reason_key) or f"Restored by undo of log entry {entry.pk}"
    if until is None or until <= timezone.now():
        (lift_suspension if kind == "suspended" else lift_silence)(
            user, member, reason=f"Undo of log entry {entry.pk}"
        )
    elif kind == "suspended":
        suspend_member(user, member, until=None if until >= INDEFINITELY else until, reason=reason)
    else:
        silence_member(user, member, until=until, reason=reason)


def _thread_of(entry: ModerationAction) -> Thread:
    if entry.thread_id is None:
        raise ValidationError("That thread no longer exists.", code="gone")
    return entry.thread


def _post_of(entry: ModerationAction) -> Post:
    if entry.post_id is None:
        raise ValidationError("That post no longer exists.", code="gone")
    return entry.post


def _note(entry: ModerationAction) -> str:
    return f"Undo of log entry {entry.pk}"


UNDO: dict[str, Callable[[Any, ModerationAction], Any]] = {
    "pin_thread": lambda u, e: unpin_thread(u, _thread_of(e), reason=_note(e)),
    "unpin_thread": lambda u, e: pin_thread(u, _thread_of(e), reason=_note(e)),
    "lock_thread": lambda u, e: unlock_thread(u, _thread_of(e), reason=_note(e)),
    "unlock_thread": lambda u, e: lock_thread(u, _thread_of(e), reason=_note(e)),
    "hide_thread": lambda u, e: restore_thread(u, _thread_of(e), reason=_note(e)),
    "restore_thread": lambda u, e: hide_thread(
        u, _thread_of(e), reason=e.before.get("hidden_reason") or _note(e)
    ),
    "delete_thread": lambda u, e: restore_deleted_thread(u, _thread_of(e), reason=_note(e)),
    "restore_deleted_thread": lambda u, e: delete_thread(u, _thread_of(e), reason=_note(e)),
    "move_thread": lambda u, e: move_thread(
        u, _thread_of(e), board=int(e.before["board_id"]), reason=_note(e)
    ),
    "rename_thread": lambda u, e: rename_thread(
        u, _thread_of(e), title=e.before["title"], reason=_note(e)
    ),
    "hide_post": lambda u, e: restore_post(u, _post_of(e), reason=_note(e)),
    "auto_hide_post": lambda u, e: restore_post(u, _post_of(e), reason=_note(e)),
    "restore_post": lambda u, e: hide_post(
        u, _post_of(e), reason=e.before.get("hidden_reason") or _note(e)
    ),
    "delete_post": lambda u, e: restore_deleted_post(u, _post_of(e), reason=_note(e)),
    "restore_deleted_post": lambda u, e: delete_post(u, _post_of(e), reason=_note(e)),
    "suspend_member": lambda u, e: _undo_member(u, e, "suspended"),
    "lift_suspension": lambda u, e: _undo_member(u, e, "suspended"),
    "silence_member": lambda u, e: _undo_member(u, e, "silenced"),
    "lift_silence": lambda u, e: _undo_member(u, e, "silenced"),
}


def _undo_target_exists(entry: ModerationAction) -> bool:
    """What the inverse acts on is still there (a purged thread takes its posts with it)."""
    if entry.action.endswith("_post"):
        return entry.post_id is not None
    if entry.action.endswith("_thread"):
        return entry.thread_id is not None
    return entry.target_user_id is not None  # member actions


def can_undo(entry: ModerationAction) -> bool:
    return entry.action in UNDO and entry.undone_at is None and _undo_target_exists(entry)


@transaction.atomic
def undo_action(user: Any, entry: ModerationAction | int) -> ModerationAction:
    """Apply the inverse of a logged action through the same action functions (which check
    permission and log the inverse themselves), then mark the entry undone."""
    pk = entry if isinstance(entry, int) else entry.pk
    list(ModerationAction.objects.select_for_update().filter(pk=pk).values_list("pk"))
    entry = ModerationAction.objects.select_related("thread", "post", "target_user").get(pk=pk)
    if not permissions.is_moderator_anywhere(user):
        raise permissions.Refused("Only moderators can undo moderation actions.")
    if entry.undone_at is not None:
        raise ValidationError("That action was already undone.", code="undone")
    if entry.action not in UNDO:
        raise ValidationError("That action cannot be undone from the log.", code="not_undoable")
    try:
        UNDO[entry.action](user, entry)
    except ValidationError as exc:
        if not _already(exc):
            raise
        # Already as before the action (reverted since): nothing to apply or log.
    entry.undone_at = timezone.now()
    entry.undone_by = user
    entry.save(update_fields=["undone_at", "undone_by"])
    return entry
