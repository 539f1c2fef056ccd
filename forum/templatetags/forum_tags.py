"""Template helpers that ask permissions.py (no queries: thread and board are already loaded)."""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from typing import Any

from django import template
from django.core.cache import cache
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .. import permissions
from ..markdown import RENDER_VERSION
from ..models import REACTION_EMOJI
from ..urlcache import fast_reverse

register = template.Library()
log = logging.getLogger(__name__)


def pk_url(name: str, pk: int) -> str:
    """reverse(name, args=[pk]) for a URL whose only argument is an integer id, from a pattern
    reversed once (forum/urlcache.py): {% url %} costs tens of microseconds and a thread page
    used ~10 per post (issue 6 point 2)."""
    return fast_reverse(name, int(pk))


def _csrf_input(context: Any) -> str:
    """What {% csrf_token %} renders, for markup built in Python."""
    token = context.get("csrf_token")
    if not token or token == "NOTPROVIDED":
        return ""
    return f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(token)}">'


@register.simple_tag(takes_context=True)
def reaction_bar(context: Any, post: Any) -> SafeString:
    """The reaction forms of one post (one per kind), as the template loop in _post.html made
    them, built in Python: 4 forms x 20 posts were the costliest part of a thread page."""
    live = bool(context.get("live"))
    kinds = context.get("reaction_kinds") or ()
    counts = post.reaction_counts or {}
    mine = getattr(post, "my_reactions", None) or ()
    reactors = getattr(post, "reactors", None) or {}
    disabled = live or not permissions.can_react(context.get("user"), post)
    # No token in a form that cannot be sent: anonymous pages then carry no CSRF token at all,
    # which lets forum.pagecache share them between visitors.
    csrf = "" if disabled else _csrf_input(context)
    action = escape(pk_url("forum:react", post.pk))
    undo_input = '<input type="hidden" name="undo" value="1">'
    out = []
    for kind, label, icon in kinds:
        count = counts.get(kind)
        is_mine = kind in mine
        names = reactors.get(kind)
        e_kind, e_label = escape(kind), escape(label)
        title = e_label + (": " + escape(", ".join(names)) if names else "")
        undo = undo_input if is_mine else ""
        mine_class = " mine" if is_mine else ""
        pressed = "true" if is_mine else "false"
        shown_count = escape(count) if count else ""
        out.append(
            f'\n      <form method="post" action="{action}" class="react-form">{csrf}'
            f'\n        <input type="hidden" name="kind" value="{e_kind}">'
            f"\n        {undo}"
            f'\n        <button type="submit" class="reaction{mine_class}" '
            f'data-kind="{e_kind}" data-count="{escape(count or 0)}"'
            f'\n          aria-pressed="{pressed}"'
            f'\n          title="{title}"'
            f"\n          {'disabled' if disabled else ''}>"
            f'\n          <span aria-hidden="true">{escape(icon)}</span> '
            f'<span class="sr-only">{e_label}</span><span class="count">{shown_count}</span>'
            "</button>\n      </form>"
        )
    return mark_safe("".join(out))  # noqa: S308 (every value above is escaped)


# Rendered posts of thread pages, in the Django cache (Redis in production, shared by every
# process; local memory on the embedded default): 20 posts through the template engine were
# ~85% of a member's thread page (issue 6 point 2). An entry is keyed by a digest of everything
# forum/_post.html reads, per-viewer decisions included, and of the post templates' own text,
# so a change to any of them is a new key: nothing is invalidated, nothing stale is served.
# In Redis rather than per process: shared by every worker (what one rendered is a hit in the
# others) and no process memory held (docs/PERFORMANCE.md, "Second pass").
FRAGMENT_TTL = 600
# After a cache failure the fragments skip the cache for this long: with Redis unreachable each
# call could wait for its timeout, once per post (the page is rendered meanwhile, as before).
PAUSE_AFTER_FAILURE = 5.0
_paused_until = 0.0
_POST_TEMPLATES = ("forum/_post.html", "moderation/_post_tools.html", "accounts/_avatar.html")
_templates_digest: str | None = None


@functools.cache
def _csrf_slot() -> str:
    """Stands in for the viewer's CSRF token in a cached post, replaced on the way out. The same
    in every process (derived from SECRET_KEY) and unguessable, so that a post's author cannot
    write it into a post to collect viewers' tokens."""
    from django.utils.crypto import salted_hmac

    return "csrf-" + salted_hmac("forum.post_fragment", "csrf-slot").hexdigest()[:32]


def _templates_version() -> str:
    """A digest of the post templates' source: a deploy that changes them changes every key."""
    global _templates_digest
    if _templates_digest is None:
        from django.template.loader import get_template

        text = "".join(get_template(name).template.source for name in _POST_TEMPLATES)
        _templates_digest = hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
    return _templates_digest


def _unwrapped(user: Any) -> Any:
    """request.user without its lazy proxy: five permission checks per post went through it
    attribute by attribute (a third of a cached thread page's time)."""
    if isinstance(user, LazyObject):
        if user._wrapped is empty:
            user._setup()
        return user._wrapped
    return user


def post_state(
    post: Any,
    *,
    user: Any,
    request: Any,
    can_reply: bool,
    can_moderate: bool,
    reaction_kinds: Any,
) -> tuple:
    """Every value forum/_post.html reads for this post and viewer (live=False)."""
    user = _unwrapped(user)
    author = post.author
    can_moderate = bool(can_moderate)
    return (
        RENDER_VERSION,
        _templates_version(),
        post.pk,
        post.number,
        post.author_id,
        bool(post.is_hidden),
        bool(post.is_deleted),
        post.hidden_reason,
        post.edit_count,
        post.created_at.isoformat(),
        post.html,
        bool(getattr(post, "body_visible", True)),
        sorted((post.reaction_counts or {}).items()),
        sorted(getattr(post, "my_reactions", None) or ()),
        sorted((k, tuple(v)) for k, v in (getattr(post, "reactors", None) or {}).items()),
        author.username,
        author.display_name,
        author.job_title,
        author.organisation,
        str(author.avatar or ""),
        bool(user is not None and user.is_authenticated),
        bool(can_reply),
        can_moderate,
        permissions.can_view_history(user, post),
        permissions.can_edit_post(user, post),
        permissions.can_delete_post(user, post),
        permissions.can_report(user, post),
        permissions.can_react(user, post),
        request.get_full_path() if (can_moderate and request is not None) else "",
        timezone.get_current_timezone_name(),
        tuple(reaction_kinds or ()),
    )


def fragment_key(state: tuple) -> str:
    return "postfrag:" + hashlib.blake2b(repr(state).encode(), digest_size=20).hexdigest()


def prefetch_post_fragments(
    request: Any, posts: list[Any], *, can_reply: bool, can_moderate: bool, reaction_kinds: Any
) -> None:
    """Key every post of a page for this viewer and fetch the cached ones in one cache call
    (post._fragment_key, post._fragment_html). A cache that fails is a cache that missed."""
    for post in posts:
        post._fragment_key = fragment_key(
            post_state(
                post,
                user=request.user,
                request=request,
                can_reply=can_reply,
                can_moderate=can_moderate,
                reaction_kinds=reaction_kinds,
            )
        )
    found: dict[str, str] = {}
    if _cache_usable():
        try:
            found = cache.get_many([post._fragment_key for post in posts])
        except Exception:  # Redis down: render every post
            _cache_failed()
    for post in posts:
        post._fragment_html = found.get(post._fragment_key)


def _cache_usable() -> bool:
    return time.monotonic() >= _paused_until


def _cache_failed() -> None:
    global _paused_until
    _paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
    log.warning("post fragment cache unavailable", exc_info=True)


@register.simple_tag(takes_context=True)
def post_block(context: Any, post: Any) -> SafeString:
    """{% include "forum/_post.html" %} for a thread page, from the cache when this post was
    rendered before in the same state for a viewer who may do the same things."""
    key = getattr(post, "_fragment_key", None)
    html = getattr(post, "_fragment_html", None)
    if key is None:
        key = fragment_key(
            post_state(
                post,
                user=context.get("user"),
                request=context.get("request"),
                can_reply=bool(context.get("can_reply")),
                can_moderate=bool(context.get("can_moderate")),
                reaction_kinds=context.get("reaction_kinds"),
            )
        )
    slot = _csrf_slot()
    if html is None:
        tmpl = context.template.engine.get_template("forum/_post.html")
        with context.push(post=post, live=False, csrf_token=slot):
            html = tmpl.render(context)
        if _cache_usable():
            try:
                cache.set(key, html, FRAGMENT_TTL)
            except Exception:
                _cache_failed()
    if slot in html:
        html = html.replace(slot, str(context.get("csrf_token")))
    return mark_safe(html)  # noqa: S308 (the template's autoescaped output)


@register.filter
def can_edit(post: Any, user: Any) -> bool:
    return permissions.can_edit_post(user, post)


@register.filter
def can_delete(post: Any, user: Any) -> bool:
    return permissions.can_delete_post(user, post)


@register.filter
def can_react(post: Any, user: Any) -> bool:
    return permissions.can_react(user, post)


@register.filter
def can_report(post: Any, user: Any) -> bool:
    return permissions.can_report(user, post)


@register.filter
def can_history(post: Any, user: Any) -> bool:
    return permissions.can_view_history(user, post)


@register.filter
def can_see_body(post: Any, user: Any) -> bool:
    return permissions.can_see_post_body(user, post)


@register.filter
def can_purge(thread: Any, user: Any) -> bool:
    return permissions.can_purge_thread(user, thread)


@register.filter
def emoji(kind: str) -> str:
    return REACTION_EMOJI.get(kind, "")


@register.filter
def get_item(mapping: Any, key: Any) -> Any:
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def csv_names(names: Any) -> str:
    return ", ".join(names or [])
