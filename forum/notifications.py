"""Who is told what, and the inbox. Called by actions inside their transaction.

API for other modules (called inside the caller's transaction; nothing here raises to the
poster: a failure is logged and rolled back to a savepoint, the post still commits):

    notify_new_thread(thread, post) -> list[int]     ids of members told of a mention
    notify_reply(thread, post) -> list[int]          (stored in Post.mentioned_user_ids)
    notify_edit(thread, post) -> list[int]           old ids + newly told ones (never twice)
    notify_membership_approved(member, staff) -> None
    notify_moderation(target_user, actor, kind_text, thread=None, post=None) -> None
        kind_text completes "A moderator ...", e.g. "hid your post", "locked your thread".
    notify_report_resolved(reporter, post, resolution) -> None
        resolution: a short word or phrase, e.g. "post hidden", "no action needed".

Reads and writes for the inbox: inbox_queryset(user), mark_notification_read(user, id),
mark_all_read(user), update_preferences(user, prefs), send_daily_digests().

Rules:
- One member hears once per post, about the most specific reason: mention > quote > reply to
  my thread > new post in a thread I watch. A reason the member turned off falls through to
  the next one (except "reply to my thread": off means no news of replies to it at all).
- Muted (thread or board) means nothing at all from that thread or board.
- Only members who may see the thread are told (permissions.can_view_thread): a mention in a
  private board never reaches an outsider.
- Replies (and new threads in a watched board) collapse into one unread notification per
  (member, thread) or (member, board) until it is read: count, actor, post and text move on.
- A post tells at most FORUM["MAX_MENTIONS_NOTIFIED"] mentioned members, across all its edits.
- Daily caps (rolling 24 h): a sender causes at most NOTIFY_SENDER_DAILY_CAP mention/quote
  notifications, a member receives at most NOTIFY_RECIPIENT_DAILY_CAP new notifications.
  Over-cap notifications are dropped and logged.
- Every created or bumped notification publishes "notification.created" on the member's inbox
  stream after commit; reading publishes "notification.read". Members who chose "email" get a
  mail after commit (once per unread notification); the rest can get the daily digest.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from realtime.publish import publish_on_commit
from realtime.streams import inbox_stream

from . import permissions
from .markdown import excerpt, extract_mentions, extract_quoted_post_ids
from .models import (
    Board,
    BoardWatch,
    Notification,
    NotificationKind,
    Post,
    Thread,
    ThreadWatch,
    Visibility,
    WatchLevel,
)

log = logging.getLogger(__name__)

K = NotificationKind
PREF_APP, PREF_EMAIL, PREF_OFF = "app", "email", "off"
PREF_CHOICES = [
    (PREF_APP, "In the forum"),
    (PREF_EMAIL, "In the forum and by email"),
    (PREF_OFF, "Off"),
]
DEFAULT_PREF = PREF_APP
# Not a kind: the member's choice about the daily digest, and the day it was last sent.
DIGEST_PREF = "digest"
DIGEST_SENT_ON = "digest_sent_on"

# One notification per post and member: the first reason in this order wins.
POST_KIND_PRIORITY = (K.MENTION, K.QUOTE, K.REPLY, K.WATCHED_THREAD)
# Kinds that collapse while unread, and what they collapse on.
COLLAPSE_ON = {K.REPLY: "thread", K.WATCHED_THREAD: "thread", K.WATCHED_BOARD: "board"}
# Kinds a sender aims at chosen people: the per-sender daily cap counts these.
AIMED_KINDS = (K.MENTION, K.QUOTE)
# How many names or quoted posts of one post are even looked at (the cap applies after).
MAX_NAMES_CONSIDERED = 50
DAY = timedelta(hours=24)

T = TypeVar("T")


def _forum(key: str, default: int) -> int:
    return settings.FORUM.get(key, default)


def _never_raises(default: Callable[..., T]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Notifications must never break the action that caused them: run in a savepoint, log and
    roll back on failure, return default(*args)."""

    def wrap(func: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> T:
            try:
                with transaction.atomic():
                    return func(*args, **kwargs)
            except Exception:
                log.exception("notifications: %s failed; the action goes on", func.__name__)
                return default(*args, **kwargs)

        return inner

    return wrap


# ---------------------------------------------------------------- preferences


def preference(user: Any, kind: str) -> str:
    value = (user.notification_prefs or {}).get(kind)
    return value if value in (PREF_APP, PREF_EMAIL, PREF_OFF) else DEFAULT_PREF


def wants_digest(user: Any) -> bool:
    return (user.notification_prefs or {}).get(DIGEST_PREF) != "off"


def update_preferences(user: Any, prefs: dict[str, str], *, digest: bool | None = None) -> None:
    """Save the member's choice per kind ("app", "email" or "off"); unknown keys are refused."""
    from django.core.exceptions import ValidationError

    current = dict(user.notification_prefs or {})
    for kind, value in prefs.items():
        if kind not in K.values:
            raise ValidationError(f"Unknown notification type “{kind}”.", code="kind")
        if value not in (PREF_APP, PREF_EMAIL, PREF_OFF):
            raise ValidationError(f"Unknown choice “{value}”.", code="pref")
        current[kind] = value
    if digest is not None:
        current[DIGEST_PREF] = "on" if digest else "off"
    user.notification_prefs = current
    get_user_model().objects.filter(pk=user.pk).update(notification_prefs=current)


# ---------------------------------------------------------------- texts and links


def _title(thread: Thread | None) -> str:
    return f"“{thread.title}”" if thread is not None else "a thread"


def _others(n: int) -> str:
    return f"{n} other" if n == 1 else f"{n} others"


def build_text(n: Notification, *, distinct_actors: int = 1) -> str:
    """The one-line text of a notification (plain text; templates escape it)."""
    actor = n.actor.name if n.actor_id and n.actor else "Someone"
    others = max(0, distinct_actors - 1)
    if n.kind == K.MENTION:
        text = f"{actor} mentioned you in {_title(n.thread)}"
    elif n.kind == K.QUOTE:
        text = f"{actor} quoted you in {_title(n.thread)}"
    elif n.kind in (K.REPLY, K.WATCHED_THREAD):
        verb = "replied to" if n.kind == K.REPLY else "posted in"
        if others:
            text = f"{actor} and {_others(others)} {verb} {_title(n.thread)}"
        elif n.count > 1:
            what = "replies to" if n.kind == K.REPLY else "posts in"
            text = f"{actor} wrote {n.count} {what} {_title(n.thread)}"
        else:
            text = f"{actor} {verb} {_title(n.thread)}"
    elif n.kind == K.WATCHED_BOARD:
        board = n.board.name if n.board_id and n.board else "a board you watch"
        if n.count > 1:
            who = f"{actor} and {_others(others)}" if others else actor
            text = f"{n.count} new threads in {board}, latest {_title(n.thread)} by {who}"
        else:
            text = f"{actor} started {_title(n.thread)} in {board}"
    else:
        text = n.text
    return text[:300]


def target_url(n: Notification) -> str:
    """Where clicking the notification goes: the post, else the thread, board or forum."""
    if n.post_id:
        return reverse("forum:post", args=[n.post_id])
    if n.thread_id:
        return reverse("forum:thread_short", args=[n.thread_id])
    if n.board_id and n.board:
        return n.board.get_absolute_url()
    if n.kind == K.MEMBERSHIP:
        return reverse("forum:index")
    return reverse("notifications:inbox")


# ---------------------------------------------------------------- who is told


def _muted_user_ids(thread: Thread | None, board_id: int | None) -> set[int]:
    muted: set[int] = set()
    if thread is not None:
        muted |= set(
            ThreadWatch.objects.filter(thread=thread, level=WatchLevel.MUTED).values_list(
                "user_id", flat=True
            )
        )
    if board_id is not None:
        muted |= set(
            BoardWatch.objects.filter(board_id=board_id, level=WatchLevel.MUTED).values_list(
                "user_id", flat=True
            )
        )
    return muted


def _members(ids: Iterable[int]) -> dict[int, Any]:
    ids = set(ids)
    if not ids:
        return {}
    return {u.id: u for u in get_user_model().objects.filter(id__in=ids, is_active=True)}


def _may_see(users: Iterable[Any], thread: Thread) -> set[int]:
    """Ids of these members who may see the thread (one permission module; bulk-primed)."""
    users = list(users)
    if not users:
        return set()
    board = thread.board
    if board.visibility == Visibility.GROUPS or thread.is_hidden or thread.is_deleted:
        from django.db.models import prefetch_related_objects

        if board.visibility == Visibility.GROUPS:
            prefetch_related_objects([board], "visible_groups")
        permissions.prime_member_caches(users)
    return {u.id for u in users if permissions.can_view_thread(u, thread)}


def _mentioned_members(post: Post, exclude: set[int]) -> list[Any]:
    """Existing active members @mentioned outside code, in the order written."""
    names = extract_mentions(post.body)[:MAX_NAMES_CONSIDERED]
    if not names:
        return []
    rule = Q()
    for name in names:
        rule |= Q(username__iexact=name)
    found = {u.username.lower(): u for u in get_user_model().objects.filter(rule, is_active=True)}
    ordered = [found[n] for n in names if n in found]
    return [u for u in ordered if u.id not in exclude]


def _quoted_author_ids(post: Post) -> set[int]:
    """Authors of posts this post quotes with the quote button, if the poster may see them."""
    ids = [i for i in extract_quoted_post_ids(post.body)[:MAX_NAMES_CONSIDERED] if i != post.pk]
    if not ids:
        return set()
    quoted = Post.objects.filter(id__in=ids).select_related("thread__board")
    return {q.author_id for q in quoted if permissions.can_view_post(post.author, q)}


def _sender_budget(actor_id: int | None) -> int:
    """How many more mention/quote notifications this sender may cause today."""
    cap = _forum("NOTIFY_SENDER_DAILY_CAP", 50)
    if actor_id is None:
        return cap
    used = Notification.objects.filter(
        actor_id=actor_id, kind__in=AIMED_KINDS, created_at__gte=timezone.now() - DAY
    ).count()
    return max(0, cap - used)


def _recipient_counts(ids: Iterable[int]) -> dict[int, int]:
    since = timezone.now() - DAY
    rows = (
        Notification.objects.filter(recipient_id__in=list(ids), created_at__gte=since)
        .values("recipient_id")
        .annotate(n=Count("id"))
    )
    return {r["recipient_id"]: r["n"] for r in rows}


def _choose_kinds(
    reasons: dict[int, set[str]],
    users: dict[int, Any],
    actor_id: int | None,
    order: tuple[str, ...],
) -> dict[int, str]:
    """The one kind each member hears about: the first reason in `order` they have not turned
    off and, for mentions and quotes, that the sender's daily budget still allows."""
    chosen: dict[int, str] = {}
    budget: int | None = None
    for uid in sorted(reasons):
        user = users.get(uid)
        if user is None:
            continue
        for kind in order:
            if kind not in reasons[uid]:
                continue
            if preference(user, kind) == PREF_OFF:
                if kind == K.REPLY:
                    break  # for the thread's author, "watching" is the same news: off is off
                continue
            if kind in AIMED_KINDS:
                if budget is None:
                    budget = _sender_budget(actor_id)
                if budget <= 0:
                    log.warning(
                        "notifications: sender %s over the daily cap; %s to %s dropped",
                        actor_id,
                        kind,
                        uid,
                    )
                    continue
                budget -= 1
            chosen[uid] = kind
            break
    return chosen


def _notify_post(
    thread: Thread,
    post: Post,
    *,
    new_thread: bool,
    mention_budget: int,
    already_mentioned: set[int],
    edit: bool = False,
) -> list[int]:
    """Tell everyone concerned about one post; returns the ids told of a mention."""
    author_id = post.author_id
    skip = _muted_user_ids(thread, thread.board_id) | {author_id} | already_mentioned
    reasons: dict[int, set[str]] = defaultdict(set)

    mentioned = _mentioned_members(post, skip)
    mention_ok = _may_see(mentioned, thread)
    for user in [u for u in mentioned if u.id in mention_ok][: max(0, mention_budget)]:
        reasons[user.id].add(K.MENTION)
    users: dict[int, Any] = {u.id: u for u in mentioned}

    if edit:
        # An edit tells newly mentioned members only, and not those this post already reached.
        heard = Notification.objects.filter(post=post, recipient_id__in=list(reasons))
        for uid in heard.values_list("recipient_id", flat=True):
            reasons.pop(uid, None)
    else:
        for uid in _quoted_author_ids(post):
            reasons[uid].add(K.QUOTE)
        if new_thread:
            watchers = BoardWatch.objects.filter(
                board_id=thread.board_id, level=WatchLevel.WATCHING
            )
            for uid in watchers.values_list("user_id", flat=True):
                reasons[uid].add(K.WATCHED_BOARD)
        else:
            reasons[thread.author_id].add(K.REPLY)
            watchers = ThreadWatch.objects.filter(thread=thread, level=WatchLevel.WATCHING)
            for uid in watchers.values_list("user_id", flat=True):
                reasons[uid].add(K.WATCHED_THREAD)

    for uid in skip:
        reasons.pop(uid, None)
    if not reasons:
        return []
    users.update(_members(set(reasons) - set(users)))
    # Mentions were checked above; everyone else here (never leak a private thread).
    mentioned_ids = {u.id for u in mentioned}
    others = [users[uid] for uid in reasons if uid in users and uid not in mentioned_ids]
    allowed = mention_ok | _may_see(others, thread)
    reasons = {uid: r for uid, r in reasons.items() if uid in allowed}

    order = (K.MENTION, K.QUOTE, K.WATCHED_BOARD) if new_thread else POST_KIND_PRIORITY
    chosen = _choose_kinds(reasons, users, author_id, order)
    _deliver(chosen, users, actor=post.author, thread=thread, post=post, board=thread.board)
    return sorted(uid for uid, kind in chosen.items() if kind == K.MENTION)


def _deliver(
    chosen: dict[int, str],
    users: dict[int, Any],
    *,
    actor: Any,
    thread: Thread | None = None,
    post: Post | None = None,
    board: Board | None = None,
    text: str = "",
    when: Any = None,
) -> list[Notification]:
    """Create or bump the notifications, then publish and mail after commit."""
    if not chosen:
        return []
    when = when or (post.created_at if post is not None else timezone.now())
    actor_id = actor.id if actor is not None else None

    # Collapse: unread rows of the same kind on the same thread (or board), locked against a
    # concurrent "mark read" so a bump never lands in a notification already read.
    bumped: dict[int, Notification] = {}
    collapsing = {uid: k for uid, k in chosen.items() if k in COLLAPSE_ON}
    if collapsing:
        rows = Notification.objects.select_for_update().filter(
            recipient_id__in=list(collapsing), is_read=False, kind__in=set(collapsing.values())
        )
        by_thread = [k for k in set(collapsing.values()) if COLLAPSE_ON[k] == "thread"]
        by_board = [k for k in set(collapsing.values()) if COLLAPSE_ON[k] == "board"]
        rule = Q()
        if by_thread and thread is not None:
            rule |= Q(kind__in=by_thread, thread=thread)
        if by_board and board is not None:
            rule |= Q(kind__in=by_board, board=board)
        for row in rows.filter(rule).order_by("-updated_at"):
            if collapsing.get(row.recipient_id) == row.kind:
                bumped.setdefault(row.recipient_id, row)

    # The per-recipient daily cap counts new notifications (a bump adds none).
    fresh = [uid for uid in chosen if uid not in bumped]
    cap = _forum("NOTIFY_RECIPIENT_DAILY_CAP", 200)
    counts = _recipient_counts(fresh) if fresh else {}
    over = [uid for uid in fresh if counts.get(uid, 0) >= cap]
    if over:
        log.warning("notifications: recipients %s over daily cap; %s dropped", over, actor_id)
    fresh = [uid for uid in fresh if uid not in over]

    created = [
        Notification(
            recipient_id=uid,
            kind=chosen[uid],
            actor=actor,
            thread=thread,
            post=post,
            board=board,
            count=1,
            created_at=when,
            updated_at=when,
        )
        for uid in fresh
    ]
    for n in created:
        n.text = build_text(n) if not text else text[:300]
    created = Notification.objects.bulk_create(created)

    if bumped:
        _bump(list(bumped.values()), actor=actor, thread=thread, post=post, when=when)

    touched = created + list(bumped.values())
    _publish_created(touched)
    mail = [
        n
        for n in touched
        if n.emailed_at is None and preference(users[n.recipient_id], n.kind) == PREF_EMAIL
    ]
    if mail:
        ids = [n.id for n in mail]
        transaction.on_commit(lambda: send_notification_emails(ids))
    return touched


def _bump(
    rows: list[Notification], *, actor: Any, thread: Thread | None, post: Post | None, when: Any
) -> None:
    """Fold one more post (or thread) into unread notifications and rewrite their text."""
    since = min(r.created_at for r in rows)
    if rows[0].kind == K.WATCHED_BOARD:
        source = Thread.objects.filter(board_id=rows[0].board_id, created_at__gte=since)
    else:
        source = Post.objects.filter(thread=thread, created_at__gte=since)
    # Who wrote what since the oldest of these unread notifications began ("James and 2 others").
    recent = list(source.order_by("-created_at").values_list("author_id", "created_at")[:1000])
    for row in rows:
        row.count += 1
        row.actor = actor
        row.post = post
        row.thread = thread if thread is not None else row.thread
        row.updated_at = when
        authors = {a for a, at in recent if at >= row.created_at and a != row.recipient_id}
        row.text = build_text(row, distinct_actors=max(1, len(authors)))
    Notification.objects.bulk_update(
        rows, ["count", "actor", "post", "thread", "updated_at", "text"]
    )


def _unread_counts(recipient_ids: Iterable[int]) -> dict[int, int]:
    rows = (
        Notification.objects.filter(recipient_id__in=list(recipient_ids), is_read=False)
        .values("recipient_id")
        .annotate(n=Count("id"))
    )
    return {r["recipient_id"]: r["n"] for r in rows}


def _publish_created(rows: list[Notification]) -> None:
    if not rows:
        return
    unread = _unread_counts({n.recipient_id for n in rows})
    for n in rows:
        publish_on_commit(
            inbox_stream(n.recipient_id),
            "notification.created",
            {
                "id": n.id,
                "kind": n.kind,
                "unread_count": unread.get(n.recipient_id, 0),
                "text": n.text,
                "url": target_url(n),
            },
        )


# ---------------------------------------------------------------- entry points for actions


@_never_raises(lambda thread, post: [])
def notify_new_thread(thread: Thread, post: Post) -> list[int]:
    """Tell board watchers, quoted authors and mentioned members; returns mention ids told."""
    return _notify_post(
        thread,
        post,
        new_thread=True,
        already_mentioned=set(),
        mention_budget=_forum("MAX_MENTIONS_NOTIFIED", 10),
    )


@_never_raises(lambda thread, post: [])
def notify_reply(thread: Thread, post: Post) -> list[int]:
    """Tell the thread's author, watchers, quoted authors and mentioned members."""
    return _notify_post(
        thread,
        post,
        new_thread=False,
        already_mentioned=set(),
        mention_budget=_forum("MAX_MENTIONS_NOTIFIED", 10),
    )


@_never_raises(lambda thread, post: list(post.mentioned_user_ids or []))
def notify_edit(thread: Thread, post: Post) -> list[int]:
    """Tell members newly mentioned by an edit; a member is never told twice about one post,
    and a post never tells more than MAX_MENTIONS_NOTIFIED members across its edits."""
    already = {int(i) for i in (post.mentioned_user_ids or [])}
    budget = _forum("MAX_MENTIONS_NOTIFIED", 10) - len(already)
    told: list[int] = []
    if budget > 0 and post.is_visible:  # a hidden post's new text reaches nobody
        told = _notify_post(
            thread,
            post,
            new_thread=False,
            already_mentioned=already,
            mention_budget=budget,
            edit=True,
        )
    return sorted(already | set(told))


def _notify_one(
    recipient: Any,
    kind: str,
    *,
    actor: Any,
    text: str,
    thread: Thread | None = None,
    post: Post | None = None,
    board: Board | None = None,
) -> None:
    if recipient is None or not recipient.is_active or preference(recipient, kind) == PREF_OFF:
        return
    if thread is not None and board is None:
        board = thread.board
    if recipient.id in _muted_user_ids(thread, board.id if board is not None else None):
        return
    if thread is not None and not permissions.can_view_thread(recipient, thread):
        # The member may no longer see it: say what happened, link nowhere (no leak).
        thread = post = board = None
    elif board is not None and not permissions.can_view_board(recipient, board):
        thread = post = board = None
    _deliver(
        {recipient.id: kind},
        {recipient.id: recipient},
        actor=actor,
        thread=thread,
        post=post,
        board=board,
        text=text,
        when=timezone.now(),
    )


@_never_raises(lambda *a, **k: None)
def notify_membership_approved(member: Any, staff: Any) -> None:
    """Tell the member their membership was approved."""
    _notify_one(
        member,
        K.MEMBERSHIP,
        actor=staff,
        text="Your membership was approved: welcome! You can now start threads and reply.",
    )


@_never_raises(lambda *a, **k: None)
def notify_moderation(
    target_user: Any,
    actor: Any,
    kind_text: str,
    thread: Thread | None = None,
    post: Post | None = None,
) -> None:
    """Tell a member a moderator acted on their content: "A moderator hid your post in …".
    The notification names no moderator (no actor: the inbox shows the association's mark, the
    email and the live event no name), as its text says; the log keeps who it was."""
    if target_user is None or (actor is not None and target_user.id == actor.id):
        return
    if post is not None and thread is None:
        thread = post.thread
    # The title only when the member may see the thread now (moved into a private board,
    # merged or split there: its title, maybe renamed since, is not theirs to read).
    seen = thread is not None and permissions.can_view_thread(target_user, thread)
    where = f" in {_title(thread)}" if seen else ""
    _notify_one(
        target_user,
        K.MODERATION,
        actor=None,
        text=f"A moderator {kind_text}{where}.",
        thread=thread,
        post=post,
    )


@_never_raises(lambda *a, **k: None)
def notify_report_resolved(reporter: Any, post: Post, resolution: str) -> None:
    """Tell the reporter their report on a post was resolved, and how."""
    thread = post.thread
    _notify_one(
        reporter,
        K.REPORT_RESOLVED,
        actor=None,
        text=f"Your report on a post in {_title(thread)} was resolved: {resolution}.",
        thread=thread,
        post=post,
    )


# ---------------------------------------------------------------- the inbox


def _inbox_rule(user: Any) -> Q:
    """Which of the member's notifications they may still see: the one rule the inbox, the
    bell and every count share."""
    board_ids = permissions.visible_board_ids(user)
    moderated = permissions.moderated_board_ids(user)
    on_thread = Q(thread__board_id__in=board_ids)
    if moderated is not None:  # staff see every thread of every board
        on_thread &= Q(thread__is_hidden=False, thread__is_deleted=False)
        if moderated:
            on_thread |= Q(thread__board_id__in=moderated)
    return (
        Q(thread__isnull=True, board__isnull=True)
        | Q(thread__isnull=True, board_id__in=board_ids)
        | (Q(thread__isnull=False) & on_thread)
    )


def inbox_queryset(user: Any) -> QuerySet[Notification]:
    """The member's notifications about things they may still see, with what a list shows."""
    return (
        Notification.objects.filter(recipient=user)
        .filter(_inbox_rule(user))
        .select_related("actor", "thread", "post", "board")
        .order_by("-updated_at", "-id")
    )


def unread_count(user: Any) -> int:
    """Unread notifications the member may still see (the bell and the inbox agree).

    Every member page asks for it (the bell), so it is _inbox_rule written as one SQL statement:
    the ORM spent ~2-4 ms assembling this count for ~1 ms in the database (docs/PERFORMANCE.md,
    "Member pages"). tests/forum/test_bell_count.py checks it against the inbox's queryset
    for every kind of notification and member."""
    from django.db import connection

    board_ids = sorted(permissions.visible_board_ids(user))
    moderated = permissions.moderated_board_ids(user)
    n, t = _bell_tables()
    params: list[Any] = [user.pk, False]

    def among(column: str, ids: Any) -> str:
        if not ids:
            return "1 = 0"
        params.extend(ids)
        return f"{column} IN ({', '.join(['%s'] * len(ids))})"

    on_board = among(n["board"], board_ids)
    thread_rule = among(t["board"], board_ids)
    if moderated is not None:  # staff see every thread of every board
        params.extend([False, False])
        thread_rule = f"({thread_rule} AND {t['is_hidden']} = %s AND {t['is_deleted']} = %s)"
        if moderated:
            thread_rule = f"({thread_rule} OR {among(t['board'], sorted(moderated))})"
    sql = (
        f"SELECT COUNT(*) FROM {n['table']} LEFT OUTER JOIN {t['table']}"  # noqa: S608
        f" ON {n['thread']} = {t['id']}"
        f" WHERE {n['recipient']} = %s AND {n['is_read']} = %s AND ("
        f"({n['thread']} IS NULL AND {n['board']} IS NULL)"
        f" OR ({n['thread']} IS NULL AND {on_board})"
        f" OR ({n['thread']} IS NOT NULL AND {thread_rule}))"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@functools.cache
def _bell_tables() -> tuple[dict[str, str], dict[str, str]]:
    """Quoted, table-qualified column names for unread_count, from the models."""
    from django.db import connection

    q = connection.ops.quote_name

    def columns(model: Any, fields: tuple[str, ...]) -> dict[str, str]:
        table = q(model._meta.db_table)
        out = {"table": table}
        for name in fields:
            out[name] = f"{table}.{q(model._meta.get_field(name).column)}"
        return out

    # S608 in unread_count: only these quoted names are formatted in; every value is a parameter.
    return (
        columns(Notification, ("recipient", "is_read", "thread", "board")),
        columns(Thread, ("id", "board", "is_hidden", "is_deleted")),
    )


def _publish_read(user: Any, ids: list[int]) -> None:
    publish_on_commit(
        inbox_stream(user.id), "notification.read", {"ids": ids, "unread_count": unread_count(user)}
    )


@transaction.atomic
def mark_notification_read(user: Any, notification_id: int) -> Notification:
    """Mark one of the member's notifications read; Http404 if it is not theirs to see."""
    n = inbox_queryset(user).select_for_update(of=("self",)).filter(pk=notification_id).first()
    if n is None:
        raise Http404("No such notification.")
    if not n.is_read:
        n.is_read = True
        Notification.objects.filter(pk=n.pk).update(is_read=True)
        _publish_read(user, [n.pk])
    return n


@transaction.atomic
def mark_all_read(user: Any) -> int:
    ids = list(
        Notification.objects.select_for_update()
        .filter(recipient=user, is_read=False)
        .values_list("id", flat=True)
    )
    if ids:
        Notification.objects.filter(id__in=ids).update(is_read=True)
        _publish_read(user, ids)
    return len(ids)


# ---------------------------------------------------------------- email


def _site_url(path: str) -> str:
    return settings.SITE_URL.rstrip("/") + path


def _email_item(n: Notification) -> dict[str, str]:
    snippet = ""
    if n.post is not None and n.post.is_visible:
        snippet = excerpt(n.post.html, 300)
    return {"text": n.text, "excerpt": snippet, "url": _site_url(target_url(n))}


def _message(user: Any, subject: str, template: str, context: dict[str, Any]) -> Any:
    context = {
        **context,
        "member": user,
        "settings_url": _site_url(reverse("notifications:settings")),
        "inbox_url": _site_url(reverse("notifications:inbox")),
    }
    msg = EmailMultiAlternatives(
        # One line: a name or title with a line break (set in the admin, or older data) would
        # make the header invalid and stop the whole batch of emails.
        subject=" ".join(subject.split())[:150],
        body=render_to_string(f"notifications/{template}.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    msg.attach_alternative(render_to_string(f"notifications/{template}.html", context), "text/html")
    return msg


def send_notification_emails(notification_ids: list[int]) -> int:
    """Mail these notifications (after commit). Never raises: the inbox has them anyway."""
    try:
        rows = list(
            Notification.objects.filter(
                id__in=notification_ids, emailed_at__isnull=True
            ).select_related("recipient", "actor", "thread__board", "post", "board")
        )
        messages, sent_ids = [], []
        for n in rows:
            user = n.recipient
            if not user.is_active or not user.email:
                continue
            if not permissions.notification_visible(user, n.thread, n.board):
                continue
            messages.append(
                _message(user, f"[CAROCP Forum] {n.text}", "email", {"item": _email_item(n)})
            )
            sent_ids.append(n.id)
        if messages:
            get_connection().send_messages(messages)
            Notification.objects.filter(id__in=sent_ids).update(emailed_at=timezone.now())
        return len(messages)
    except Exception:
        log.exception("notifications: emailing %s failed", notification_ids)
        return 0


def send_daily_digests(*, limit_per_member: int = 50) -> int:
    """One email per member with unread notifications not yet emailed; marks them emailed.
    Idempotent: a member gets at most one digest per day, and an item is never mailed twice."""
    today = timezone.localdate().isoformat()
    recipient_ids = (
        Notification.objects.filter(is_read=False, emailed_at__isnull=True)
        .values_list("recipient_id", flat=True)
        .distinct()
    )
    members = (
        get_user_model().objects.filter(id__in=recipient_ids, is_active=True).exclude(email="")
    )
    sent = 0
    connection = get_connection()
    for user in members.iterator():
        prefs = user.notification_prefs or {}
        if prefs.get(DIGEST_SENT_ON) == today or not wants_digest(user):
            continue
        items = list(inbox_queryset(user).filter(is_read=False, emailed_at__isnull=True))
        if not items:
            continue
        shown = items[:limit_per_member]
        count = len(items)
        subject = f"[CAROCP Forum] {count} unread notification{'s' if count != 1 else ''}"
        msg = _message(
            user,
            subject,
            "digest",
            {
                "items": [_email_item(n) for n in shown],
                "more": count - len(shown),
                "count": count,
            },
        )
        try:
            with transaction.atomic():
                updated = dict(prefs)
                updated[DIGEST_SENT_ON] = today
                get_user_model().objects.filter(pk=user.pk).update(notification_prefs=updated)
                Notification.objects.filter(id__in=[n.id for n in items]).update(
                    emailed_at=timezone.now()
                )
                # Sent last: a failed send rolls the marks back and tomorrow tries again.
                connection.send_messages([msg])
        except Exception:
            log.exception("notifications: digest for member %s failed", user.pk)
            continue
        sent += 1
    return sent
