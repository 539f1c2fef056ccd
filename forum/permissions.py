"""The single answer to "may this member do this here?".

Views, templates, search, sockets, notifications and actions all ask here. `can_*` return a bool
(for templates and lists); `check_*` raise PermissionDenied, or Http404 where even the existence
of the thing must stay hidden from this viewer (no existence oracles).
"""

from __future__ import annotations

import contextlib
import functools
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from accounts.models import MembershipStatus

from .models import Board, Post, PostingRule, Thread, Visibility

AnyUser = Any  # accounts.User or AnonymousUser


class Refused(PermissionDenied):
    """A permission refusal with a message fit to show the member."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# ---------------------------------------------------------------- who the member is


def _group_ids(user: AnyUser) -> frozenset[int]:
    """The member's group ids, fetched once per user object (with _load_access)."""
    if not user.is_authenticated:
        return frozenset()
    if getattr(user, "_forum_group_ids", None) is None:
        _load_access(user)
    return user._forum_group_ids


def _moderated_board_ids(user: AnyUser) -> frozenset[int]:
    if not user.is_authenticated:
        return frozenset()
    if getattr(user, "_forum_moderated_ids", None) is None:
        _load_access(user)
    return user._forum_moderated_ids


_GROUP, _MODERATED, _VISIBLE = 0, 1, 2


@functools.cache
def _access_sql(with_visible: bool) -> str:
    """The SQL of _load_access (one statement, the member's id as its only parameter).

    Written as SQL rather than assembled by the ORM on each call: the ORM spent ~5 ms building
    this four-part union for ~0.8 ms in the database, on every member page and socket
    subscription (docs/PERFORMANCE.md, "Member pages"). Table and column names come from the
    models, so a rename cannot leave it behind. Only those quoted names and constants are
    formatted in (hence the S608 waivers); the member's id is the parameter."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    q = connection.ops.quote_name

    def m2m(through: Any, column: str, where: str, kind: int | None = None) -> str:
        """SELECT [kind,] column FROM through WHERE where ({field} in where: its column)."""
        meta = through._meta
        names = {f.name: q(f.column) for f in meta.get_fields() if hasattr(f, "column")}
        tag = "" if kind is None else f"{kind}, "
        where = where.format(**names)
        return f"SELECT {tag}{names[column]} FROM {q(meta.db_table)} WHERE {where}"  # noqa: S608

    user_groups = get_user_model().groups.through
    my_groups = m2m(user_groups, "group", "{user} = %(user)s")
    by_me = m2m(Board.moderators.through, "board", "{user} = %(user)s")
    by_my_groups = m2m(Board.moderator_groups.through, "board", f"{{group}} IN ({my_groups})")
    parts = [
        m2m(user_groups, "group", "{user} = %(user)s", _GROUP),
        m2m(Board.moderators.through, "board", "{user} = %(user)s", _MODERATED),
        m2m(Board.moderator_groups.through, "board", f"{{group}} IN ({my_groups})", _MODERATED),
    ]
    if with_visible:  # visible_boards' rule for an active member who is not staff
        in_my_groups = m2m(Board.visible_groups.through, "board", f"{{group}} IN ({my_groups})")
        board, pk = q(Board._meta.db_table), q(Board._meta.pk.column)
        vis = q(Board._meta.get_field("visibility").column)
        anyone, members, groups = (
            v.value for v in (Visibility.ANYONE, Visibility.MEMBERS, Visibility.GROUPS)
        )
        parts.append(
            f"SELECT {_VISIBLE}, {pk} FROM {board} WHERE {vis} IN ('{anyone}', '{members}')"  # noqa: S608
            f" OR ({vis} = '{groups}' AND {pk} IN ({in_my_groups}))"
            f" OR {pk} IN ({by_me}) OR {pk} IN ({by_my_groups})"
        )
    return " UNION ALL ".join(parts)


def _load_access(user: AnyUser) -> None:
    """Fill the member's group ids, the boards they moderate and (for an active member who is not
    staff) the boards they may see, in one query: every member page needs all three.

    The visible part is visible_boards' rule for such a member, with the member's groups and
    moderated boards as subqueries instead of id lists (tests/forum/test_permission_access.py
    checks the two agree)."""
    from django.db import connection

    see_all_or_public = is_staff(user) or not reads_as_member(user)
    found: dict[int, set[int]] = {_GROUP: set(), _MODERATED: set(), _VISIBLE: set()}
    with connection.cursor() as cursor:
        cursor.execute(_access_sql(not see_all_or_public), {"user": user.pk})
        for kind, value in cursor.fetchall():
            found[kind].add(value)
    user._forum_group_ids = frozenset(found[_GROUP])
    user._forum_moderated_ids = frozenset(found[_MODERATED])
    if not see_all_or_public:
        with contextlib.suppress(AttributeError):
            user._forum_board_cache = frozenset(found[_VISIBLE])


def prime_member_caches(users: list[Any]) -> None:
    """Fill the group and moderated-board caches of many members in three queries, so that
    checking one thread against many members (notifications) costs no query per member."""
    from collections import defaultdict

    from django.contrib.auth import get_user_model

    todo = {u.id: u for u in users if u.is_authenticated and not hasattr(u, "_forum_group_ids")}
    if not todo:
        return
    groups: dict[int, set[int]] = defaultdict(set)
    through = get_user_model().groups.through
    for uid, gid in through.objects.filter(user_id__in=todo).values_list("user_id", "group_id"):
        groups[uid].add(gid)
    moderated: dict[int, set[int]] = defaultdict(set)
    for bid, uid in Board.moderators.through.objects.filter(user_id__in=todo).values_list(
        "board_id", "user_id"
    ):
        moderated[uid].add(bid)
    all_groups = set().union(*groups.values()) if groups else set()
    by_group: dict[int, set[int]] = defaultdict(set)
    if all_groups:
        for bid, gid in Board.moderator_groups.through.objects.filter(
            group_id__in=all_groups
        ).values_list("board_id", "group_id"):
            by_group[gid].add(bid)
    for uid, user in todo.items():
        user._forum_group_ids = frozenset(groups[uid])
        boards = set(moderated[uid])
        for gid in groups[uid]:
            boards |= by_group[gid]
        user._forum_moderated_ids = frozenset(boards)


def forget_cached_permissions(user: AnyUser) -> None:
    for attr in ("_forum_group_ids", "_forum_moderated_ids", "_forum_board_cache"):
        if hasattr(user, attr):
            delattr(user, attr)


def is_staff(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff)


def is_active_member(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active)


def reads_as_member(user: AnyUser) -> bool:
    """May read what members read (members-only boards, their groups' boards, the directory,
    profiles): signed in, active and approved, or staff. A sign-up awaiting approval, or
    declined, reads what a visitor reads (issue 2 point 4: "can read public boards")."""
    return bool(is_active_member(user) and user.is_approved)


def posting_refusal(user: AnyUser) -> str | None:
    """Why this member may not write anything at all right now, or None."""
    if not user.is_authenticated:
        return "Sign in to take part."
    if not user.is_active:
        return "This account is deactivated."
    if user.is_suspended:
        until = user.suspended_until
        when = "indefinitely" if until.year >= 9000 else f"until {local_time(until)}"
        reason = f" Reason: {user.suspension_reason}" if user.suspension_reason else ""
        return f"Your account is suspended {when}.{reason}"
    if not user.is_approved:
        if user.membership_status == MembershipStatus.DECLINED:
            return (
                "Your membership request was declined by staff; you can read but not post. "
                "Contact the association if you think this is a mistake."
            )
        return "Your membership is awaiting approval by staff; you can read but not post yet."
    return None


def silence_refusal(user: AnyUser) -> str | None:
    if user.is_authenticated and user.is_silenced:
        reason = f" Reason: {user.silence_reason}" if user.silence_reason else ""
        return f"You are silenced until {local_time(user.silenced_until)}.{reason}"
    return None


def listed_members() -> Q:
    """Which members the directory lists and @mention suggests (among active ones): approved
    members and staff, not sign-ups awaiting approval or declined."""
    return Q(membership_status=MembershipStatus.APPROVED) | Q(is_staff=True)


def local_time(moment: datetime) -> str:
    """A moment as the site's members read it: in the site's time zone (settings.TIME_ZONE),
    e.g. "December 25, 2026 11:59 PM PST", as the moderator who chose it saw it."""
    return timezone.localtime(moment).strftime("%B %-d, %Y %-I:%M %p %Z")


# ---------------------------------------------------------------- boards


def visible_boards(user: AnyUser) -> QuerySet[Board]:
    """Every board this viewer may see; the one filter used by lists, search and counts.

    For a member who is neither staff nor deactivated, the rule is _access_sql's (their groups,
    the boards they moderate), loaded once per request with the rest of their access: the
    queryset filters on those ids, so a list of boards needs no join and no DISTINCT over its
    rows (the board index selects each board's last post, body and all)."""
    boards = Board.objects.all()
    if is_staff(user):
        return boards
    if not reads_as_member(user):
        return boards.filter(visibility=Visibility.ANYONE)
    return boards.filter(id__in=visible_board_ids(user))


def visible_board_ids(user: AnyUser) -> frozenset[int]:
    cached = getattr(user, "_forum_board_cache", None)
    if cached is None and reads_as_member(user) and not is_staff(user):
        _load_access(user)  # fills this cache too, in the same query
        cached = user._forum_board_cache
    if cached is None:
        cached = frozenset(visible_boards(user).values_list("id", flat=True))
        with contextlib.suppress(AttributeError):
            user._forum_board_cache = cached
    return cached


def _board_group_ids(board: Board, field: str) -> set[int]:
    prefetched = getattr(board, "_prefetched_objects_cache", {}).get(field)
    if prefetched is not None:
        return {g.id for g in prefetched}
    return set(getattr(board, field).values_list("id", flat=True))


def can_view_board(user: AnyUser, board: Board) -> bool:
    if is_staff(user):
        return True
    if board.visibility == Visibility.ANYONE:
        return True
    if not reads_as_member(user):
        return False
    if board.visibility == Visibility.MEMBERS:
        return True
    if board.id in _moderated_board_ids(user):
        return True
    return bool(_board_group_ids(board, "visible_groups") & _group_ids(user))


def can_moderate_board(user: AnyUser, board: Board | int) -> bool:
    if is_staff(user):
        return True
    if not is_active_member(user) or user.is_suspended:
        return False
    board_id = board if isinstance(board, int) else board.id
    return board_id in _moderated_board_ids(user)


def is_moderator_anywhere(user: AnyUser) -> bool:
    """Staff, or a moderator of some board who is not suspended: a suspension takes every
    moderator power (the queue, the log, member tools, undo), as it does the board tools."""
    return is_staff(user) or bool(moderated_board_ids(user))


def moderated_board_ids(user: AnyUser) -> frozenset[int] | None:
    """Board ids this member moderates; None means every board (staff). Empty for a suspended
    or deactivated moderator, who still reads what they could read before."""
    if is_staff(user):
        return None
    if not is_active_member(user) or user.is_suspended:
        return frozenset()
    return _moderated_board_ids(user)


def _passes_rule(user: AnyUser, board: Board, rule: str) -> bool:
    if rule == PostingRule.MEMBERS:
        return True
    if rule == PostingRule.STAFF:
        return is_staff(user)
    return is_staff(user) or bool(_board_group_ids(board, "posting_groups") & _group_ids(user))


def can_start_thread(user: AnyUser, board: Board) -> bool:
    if posting_refusal(user) or silence_refusal(user) or not can_view_board(user, board):
        return False
    return can_moderate_board(user, board) or _passes_rule(user, board, board.start_rule)


def check_start_thread(user: AnyUser, board: Board) -> None:
    if not can_view_board(user, board):
        raise Http404("No such board.")
    refusal = posting_refusal(user) or silence_refusal(user)
    if refusal:
        raise Refused(refusal)
    if not can_start_thread(user, board):
        if board.start_rule == PostingRule.STAFF:
            raise Refused(f"Only staff start threads in {board.name}.")
        raise Refused(f"You do not have posting rights in {board.name}.")


# ---------------------------------------------------------------- threads


def can_view_thread(user: AnyUser, thread: Thread) -> bool:
    if not can_view_board(user, thread.board):
        return False
    if thread.is_deleted or thread.is_hidden:
        return can_moderate_board(user, thread.board_id)
    return True


def check_view_thread(user: AnyUser, thread: Thread) -> None:
    if not can_view_thread(user, thread):
        raise Http404("No such thread.")


def reply_refusal(user: AnyUser, thread: Thread) -> str | None:
    """Why this member may not reply here (None: they may). Assumes the thread is visible."""
    refusal = posting_refusal(user) or silence_refusal(user)
    if refusal:
        return refusal
    moderator = can_moderate_board(user, thread.board_id)
    if thread.is_locked and not moderator:
        return "This thread is locked: no new replies."
    if not moderator and not _passes_rule(user, thread.board, thread.board.reply_rule):
        return f"You do not have posting rights in {thread.board.name}."
    return None


def can_reply(user: AnyUser, thread: Thread) -> bool:
    return can_view_thread(user, thread) and reply_refusal(user, thread) is None


def check_reply(user: AnyUser, thread: Thread) -> None:
    check_view_thread(user, thread)
    refusal = reply_refusal(user, thread)
    if refusal:
        raise Refused(refusal)


def can_moderate_thread(user: AnyUser, thread: Thread) -> bool:
    return can_moderate_board(user, thread.board_id)


def check_moderate_thread(user: AnyUser, thread: Thread) -> None:
    check_view_thread(user, thread)
    if not can_moderate_thread(user, thread):
        raise Refused("Only moderators of this board can do that.")


# ---------------------------------------------------------------- posts


def can_view_post(user: AnyUser, post: Post) -> bool:
    """May this viewer know the post exists (it may still be shown as hidden/removed)?"""
    return can_view_thread(user, post.thread)


def check_view_post(user: AnyUser, post: Post) -> None:
    if not can_view_post(user, post):
        raise Http404("No such post.")


def can_see_post_body(user: AnyUser, post: Post) -> bool:
    """Hidden posts stay readable (marked) to their author and moderators; removed ones too."""
    if post.is_visible:
        return True
    if can_moderate_board(user, post.thread.board_id):
        return True
    return (
        post.is_hidden
        and not post.is_deleted
        and user.is_authenticated
        and (post.author_id == user.id)
    )


def can_edit_post(user: AnyUser, post: Post) -> bool:
    if not can_view_post(user, post) or post.is_deleted:
        return False
    if can_moderate_board(user, post.thread.board_id):
        return True
    if posting_refusal(user) or silence_refusal(user) or post.author_id != user.id:
        return False
    return not post.thread.is_locked


def check_edit_post(user: AnyUser, post: Post) -> None:
    check_view_post(user, post)
    if not can_edit_post(user, post):
        refusal = posting_refusal(user) or silence_refusal(user)
        if refusal:
            raise Refused(refusal)
        if post.thread.is_locked:
            raise Refused("This thread is locked: posts can no longer be edited.")
        raise Refused("You can only edit your own posts.")


def can_delete_post(user: AnyUser, post: Post) -> bool:
    if not can_view_post(user, post) or post.is_deleted:
        return False
    if can_moderate_board(user, post.thread.board_id):
        return True
    return bool(
        user.is_authenticated
        and user.id == post.author_id
        and not posting_refusal(user)
        and post.number != 1
    )


def check_delete_post(user: AnyUser, post: Post) -> None:
    check_view_post(user, post)
    if not can_delete_post(user, post):
        if post.is_deleted:
            raise Refused("This post was already removed.")
        if post.number == 1 and user.is_authenticated and user.id == post.author_id:
            raise Refused("The first post of a thread can only be removed by a moderator.")
        raise Refused("You can only remove your own posts.")


def can_view_history(user: AnyUser, post: Post) -> bool:
    """Moderators of the board; the author while they may still read the post itself (not
    once it is removed: the history would show its text again)."""
    if not can_view_post(user, post):
        return False
    if can_moderate_board(user, post.thread.board_id):
        return True
    return user.is_authenticated and user.id == post.author_id and can_see_post_body(user, post)


def can_react(user: AnyUser, post: Post) -> bool:
    return (
        can_view_post(user, post)
        and post.is_visible
        and posting_refusal(user) is None
        and user.id != post.author_id
    )


def check_react(user: AnyUser, post: Post) -> None:
    check_view_post(user, post)
    refusal = posting_refusal(user)
    if refusal:
        raise Refused(refusal)
    if not post.is_visible:
        raise Refused("You cannot react to a hidden or removed post.")
    if user.id == post.author_id:
        raise Refused("You cannot react to your own post.")


def can_report(user: AnyUser, post: Post) -> bool:
    return (
        can_view_post(user, post)
        and posting_refusal(user) is None
        and user.id != post.author_id
        and not post.is_deleted
    )


def check_report(user: AnyUser, post: Post) -> None:
    check_view_post(user, post)
    refusal = posting_refusal(user)
    if refusal:
        raise Refused(refusal)
    if user.id == post.author_id:
        raise Refused("You cannot report your own post.")
    if post.is_deleted:
        raise Refused("This post was already removed.")


def can_moderate_post(user: AnyUser, post: Post) -> bool:
    return can_moderate_board(user, post.thread.board_id)


def check_moderate_post(user: AnyUser, post: Post) -> None:
    check_view_post(user, post)
    if not can_moderate_post(user, post):
        raise Refused("Only moderators of this board can do that.")


# ---------------------------------------------------------------- members


def can_view_directory(user: AnyUser) -> bool:
    return reads_as_member(user)


def can_view_profile(user: AnyUser, member: Any) -> bool:
    """Profiles are for members (approved, or staff). A profile the directory does not list (a
    deactivated member, a sign-up awaiting approval or declined) is for staff, and for its
    owner, only."""
    if is_staff(user) or (user.is_authenticated and user.pk == member.pk):
        return True
    if not reads_as_member(user):
        return False
    return member.is_active and member.is_approved


def can_manage_members(user: AnyUser) -> bool:
    """Suspend and silence members: staff and board moderators (approving sign-ups is
    can_approve_members: staff only, issue 2 point 4)."""
    return is_moderator_anywhere(user)


def can_moderate_member(user: AnyUser, member: Any) -> bool:
    """Suspend or silence this member: moderators, never themselves, staff only by staff."""
    if not can_manage_members(user) or member.pk == user.pk:
        return False
    return is_staff(user) or not member.is_staff


def check_moderate_member(user: AnyUser, member: Any) -> None:
    if not can_moderate_member(user, member):
        if is_moderator_anywhere(user) and member.pk == user.pk:
            raise Refused("You cannot suspend or silence yourself.")
        if is_moderator_anywhere(user):
            raise Refused("Only staff can suspend or silence a staff member.")
        raise Refused("Only moderators can suspend or silence members.")


def check_moderator_anywhere(user: AnyUser) -> None:
    """Moderator pages (queue, log, member pages): moderators of any board and staff."""
    if not is_moderator_anywhere(user):
        raise Refused("Only moderators can see this page.")


def can_purge_thread(user: AnyUser, thread: Thread) -> bool:
    """Permanent deletion: staff only (moderators delete softly, restorably)."""
    return is_staff(user)


def check_purge_thread(user: AnyUser, thread: Thread) -> None:
    check_view_thread(user, thread)
    if not can_purge_thread(user, thread):
        raise Refused("Only staff can delete a thread permanently.")


def can_approve_members(user: AnyUser) -> bool:
    return is_staff(user)


def can_upload(user: AnyUser) -> bool:
    return posting_refusal(user) is None and silence_refusal(user) is None


def check_upload(user: AnyUser) -> None:
    refusal = posting_refusal(user) or silence_refusal(user)
    if refusal:
        raise Refused(refusal)


def can_preview(user: AnyUser) -> bool:
    return can_upload(user)


def notification_visible(user: AnyUser, thread: Thread | None, board: Board | None) -> bool:
    """Notifications about things the member may no longer see are not shown or sent."""
    if thread is not None:
        return can_view_thread(user, thread)
    if board is not None:
        return can_view_board(user, board)
    return True


def anonymous() -> AnonymousUser:
    return AnonymousUser()
