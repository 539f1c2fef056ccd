"""Rate limits and anti-spam, enforced inside actions so they hold for every way in.

One small primitive (`hit`/`peek`): a fixed-window counter on Django's cache (Redis when
REDIS_URL is set, so every daphne worker shares it; the local memory cache otherwise). A window
is `seconds` long and aligned to the epoch; the key carries the window number, so counting is
one atomic `add` + `incr` and the time until the member may try again is simply the end of the
current window. A fixed window lets a burst of up to twice the limit straddle a boundary; for
abuse caps that is acceptable and keeps every check to one round trip.

Why not django-ratelimit: it is built around views and requests (keys come from the request,
the group from the view), while our limits are checked inside actions that also run from
websocket consumers and commands, where there is no request. It offers one global fail-open
switch, while we decide per limit what a cache outage means (sign-in fails closed, posting fails
open), and it would still need our own wording of "when can I try again". The whole mechanism
here is a few dozen lines.

What a cache (Redis) outage does, per limit:
- sign-in (accounts.actions.check_login_throttle): FAILS CLOSED, "sign-in is temporarily
  unavailable"; a password guesser must not get unlimited attempts while Redis is down.
- posting, reactions, reports, uploads, previews, sign-up: FAIL OPEN with a logged warning; the
  forum keeps working and the database still holds every write.
- reading never touches these limits at all.

Limits live in settings.FORUM["RATE_LIMITS"] as (count, seconds); settings.FORUM
["RATE_LIMITS_ENABLED"] switches them all (off in the test suite by default, as Discourse does,
so that factories can post freely; tests/security turns them on).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

log = logging.getLogger(__name__)


class RateLimited(Exception):
    """Refused for now; `message` says when the member can try again."""

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class LimiterUnavailable(Exception):
    """The cache behind the limits could not be reached (each caller decides what that means)."""


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


# ---------------------------------------------------------------- configuration


def enabled() -> bool:
    return bool(settings.FORUM.get("RATE_LIMITS_ENABLED", True))


def limit_for(name: str) -> Limit:
    count, seconds = settings.FORUM["RATE_LIMITS"][name]
    return Limit(int(count), int(seconds))


# ---------------------------------------------------------------- the primitive


def _now() -> float:
    return time.time()  # one seam, so tests can move the clock


def _key(scope: str, ident: str, limit: Limit, now: float) -> tuple[str, int]:
    window = int(now // limit.seconds)
    retry_after = max(1, math.ceil((window + 1) * limit.seconds - now))
    digest = hashlib.sha256(ident.encode()).hexdigest()[:24]
    return f"rl:{scope}:{limit.seconds}:{digest}:{window}", retry_after


def hit(scope: str, ident: str, limit: Limit) -> int:
    """Count one event. Returns 0 when it is within the limit, otherwise the seconds until the
    member may try again. Raises LimiterUnavailable when the cache cannot be reached."""
    key, retry_after = _key(scope, ident, limit, _now())
    try:
        cache.add(key, 0, timeout=limit.seconds + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, timeout=limit.seconds + 5)
            count = 1
    except Exception as exc:  # redis-py raises its own ConnectionError/TimeoutError
        raise LimiterUnavailable(str(exc)) from exc
    return retry_after if count > limit.count else 0


def peek(scope: str, ident: str, limit: Limit) -> int:
    """Like hit() without counting: 0 when another event would still be allowed."""
    key, retry_after = _key(scope, ident, limit, _now())
    try:
        count = cache.get(key) or 0
    except Exception as exc:
        raise LimiterUnavailable(str(exc)) from exc
    return retry_after if count >= limit.count else 0


def reset(scope: str, ident: str, limit: Limit) -> None:
    key, _ = _key(scope, ident, limit, _now())
    try:
        cache.delete(key)
    except Exception:
        log.warning("rate limit reset failed for %s (cache unavailable)", scope)


def wait_text(seconds: int) -> str:
    """'42 seconds', '3 minutes', '2 hours': rounded up, so the member is never early."""
    seconds = max(1, int(seconds))
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    if seconds < 3600:
        minutes = math.ceil(seconds / 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    hours = math.ceil(seconds / 3600)
    return f"{hours} hour{'s' if hours != 1 else ''}"


def _fail_open(scope: str, ident: str, name: str) -> int:
    """hit() for limits that let the member through (with a warning) when the cache is down."""
    try:
        return hit(scope, ident, limit_for(name))
    except LimiterUnavailable as exc:
        log.warning("rate limit %s not enforced: cache unavailable (%s)", name, exc)
        return 0


# ---------------------------------------------------------------- who is limited how


def _exempt(user: Any) -> bool:
    from . import permissions

    return permissions.is_moderator_anywhere(user)


def is_new_member(user: Any) -> bool:
    """New for the first NEW_MEMBER_DAYS days or the first NEW_MEMBER_POSTS posts."""
    forum = settings.FORUM
    joined = getattr(user, "date_joined", None)
    young = joined is not None and (timezone.now() - joined).days < forum["NEW_MEMBER_DAYS"]
    return young or (user.post_count or 0) < forum["NEW_MEMBER_POSTS"]


LINK_RE = re.compile(r"""<a\s[^>]*href="(?:https?:|mailto:)|<img\s[^>]*src="https?:""", re.I)


def count_links(body: str) -> int:
    """External links and images the post would show (mentions and /p/ links do not count)."""
    from .markdown import render_markdown

    return len(LINK_RE.findall(render_markdown(body)))


def _normalized_hash(body: str) -> str | None:
    text = " ".join(re.sub(r"[\W_]+", " ", body.lower()).split())
    if len(text) < settings.FORUM["DUPLICATE_MIN_CHARS"]:
        return None  # "Thanks!" or "+1" may be said more than once
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- what actions call


def check_new_content(user: Any, body: str, *, kind: str) -> None:
    """Raise RateLimited when this member may not post this now.

    kind: "thread", "reply" or "edit". Called by the actions, inside their transaction, so the
    limits hold for the form, the preview-and-post path and the socket alike.
    """
    if not enabled() or _exempt(user):
        return
    new = is_new_member(user)
    ident = str(user.pk)
    forum = settings.FORUM

    if new:
        max_links = forum["NEW_MEMBER_MAX_LINKS"]
        links = count_links(body)
        if links > max_links:
            raise RateLimited(
                f"New members can include at most {max_links} links or images in a post "
                f"(this one has {links}). Remove some, or add them after your first "
                f"{forum['NEW_MEMBER_POSTS']} posts and {forum['NEW_MEMBER_DAYS']} days.",
                retry_after=0,
            )

    if kind == "edit":
        wait = _fail_open("edit", ident, "edit")
        if wait:
            raise RateLimited(
                f"You are editing too fast. You can edit again in {wait_text(wait)}.", wait
            )
        return

    digest = _normalized_hash(body)
    if digest:
        _check_duplicate(user, digest)

    if kind == "thread":
        name = "thread_new" if new else "thread"
        wait = _fail_open("thread", ident, name)
        if wait:
            count, seconds = limit_for(name).count, limit_for(name).seconds
            per = "today" if seconds >= 86400 else f"in {wait_text(seconds)}"
            raise RateLimited(
                f"You have started {count} threads {per}, the most we allow"
                f"{' for new members' if new else ''}. You can start another thread in "
                f"{wait_text(wait)}.",
                wait,
            )

    name = "post_new" if new else "post"
    wait = _fail_open("post", ident, name)
    if wait:
        raise RateLimited(
            f"You are posting too fast. You can post again in {wait_text(wait)}.", wait
        )

    if digest:
        _remember_on_commit(user, digest)


def _duplicate_key(user: Any, digest: str) -> str:
    return f"dup:{user.pk}:{digest}"


def _check_duplicate(user: Any, digest: str) -> None:
    try:
        posted_at = cache.get(_duplicate_key(user, digest))
    except Exception as exc:
        log.warning("duplicate-post check not enforced: cache unavailable (%s)", exc)
        return
    if posted_at is None:
        return
    window = int(settings.FORUM["DUPLICATE_WINDOW"].total_seconds())
    wait = math.ceil(posted_at + window - _now())
    if wait <= 0:
        return
    raise RateLimited(
        "You already posted this same text recently. Write something new for this thread, "
        f"or you can post it again in {wait_text(wait)}.",
        wait,
    )


def _remember_on_commit(user: Any, digest: str) -> None:
    """Remember the text only once the post is really written (a rolled-back post may be
    retried)."""
    window = int(settings.FORUM["DUPLICATE_WINDOW"].total_seconds())

    def remember() -> None:
        try:
            cache.set(_duplicate_key(user, digest), _now(), timeout=window)
        except Exception as exc:
            log.warning("duplicate-post record skipped: cache unavailable (%s)", exc)

    transaction.on_commit(remember)


RATE_MESSAGES = {
    "react": "You are reacting too fast. You can react again in {wait}.",
    "report": "You have sent many reports in a short time. You can report again in {wait}.",
    "upload": "You have uploaded many images in a short time. You can upload again in {wait}.",
    "preview": "Previews are coming too fast. You can preview again in {wait}.",
    "edit": "You are editing too fast. You can edit again in {wait}.",
}
EXEMPT_FOR_MODERATORS = {"react", "report", "edit"}


def check_rate(user: Any, action: str) -> None:
    """Raise RateLimited when this member does `action` too often (fails open on a cache
    outage). action: one of settings.FORUM["RATE_LIMITS"] ("react", "report", "upload",
    "preview", "edit", ...)."""
    if not enabled():
        return
    if action in EXEMPT_FOR_MODERATORS and _exempt(user):
        return
    ident = str(user.pk) if getattr(user, "is_authenticated", False) else "anon"
    wait = _fail_open(action, ident, action)
    if wait:
        template = RATE_MESSAGES.get(action, "Too many requests. You can try again in {wait}.")
        raise RateLimited(template.format(wait=wait_text(wait)), wait)


# ---------------------------------------------------------------- addresses


def client_address(request: HttpRequest) -> str:
    """The client's address. Behind a proxy (FORUM["PROXY_HOPS"] > 0) it is the entry that many
    hops from the right of X-Forwarded-For, which the proxy appends and a client cannot forge;
    otherwise REMOTE_ADDR."""
    hops = int(settings.FORUM.get("PROXY_HOPS", 0))
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    if hops <= 0:
        return remote
    chain = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    chain = [p for p in chain if p]
    return chain[-hops] if len(chain) >= hops else remote


def check_address_rate(request: HttpRequest, action: str) -> None:
    """Per-address limits for anonymous ways in (sign-up); fails open with a warning."""
    if not enabled():
        return
    wait = _fail_open(action, client_address(request), action)
    if wait:
        raise RateLimited(
            f"Too many attempts from your network. You can try again in {wait_text(wait)}.", wait
        )
