"""Template helpers that ask permissions.py (no queries: thread and board are already loaded)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django import template
from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils import timezone
from django.utils.functional import LazyObject, empty
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .. import pagecache, permissions
from ..markdown import RENDER_VERSION
from ..models import REACTION_EMOJI

register = template.Library()

_PK_PLACEHOLDER = 2147480011
_PK_URLS: dict[tuple[str, str, str], tuple[str, str]] = {}


def pk_url(name: str, pk: int) -> str:
    """reverse(name, args=[pk]) for a URL whose only argument is an integer id, built from a
    pattern reversed once per (name, script prefix, URLconf): {% url %} costs tens of
    microseconds and a thread page used ~10 per post (issue 6 point 2)."""
    key = (name, get_script_prefix(), str(get_urlconf() or settings.ROOT_URLCONF))
    parts = _PK_URLS.get(key)
    if parts is None:
        head, sep, tail = reverse(name, args=[_PK_PLACEHOLDER]).partition(str(_PK_PLACEHOLDER))
        if not sep:
            raise ValueError(f"{name} does not take one integer argument")
        parts = _PK_URLS[key] = (head, tail)
    return f"{parts[0]}{int(pk)}{parts[1]}"


@register.filter
def url_for_pk(pk: int, name: str) -> str:
    """{{ post.pk|url_for_pk:"forum:edit_post" }} == {% url "forum:edit_post" post.pk %}."""
    return pk_url(name, pk)


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


# Rendered posts of thread pages, per process (issue 6 point 2: 20 posts through the template
# engine were ~85% of a member's thread page). An entry is keyed by a digest of everything
# forum/_post.html reads, per-viewer decisions included, so a change to any of them is a new key
# and nothing needs invalidating; entries age out so that a bounded cache keeps what is read.
POST_FRAGMENTS = pagecache.LRU(max_entries=2000, ttl=600.0)
# Stands in for the viewer's CSRF token in a cached post and is replaced by it on the way out.
# Random per process: a post's author cannot write it into their post to receive the token.
_CSRF_SLOT = "csrf-" + secrets.token_hex(16)


def _unwrapped(user: Any) -> Any:
    """request.user without its lazy proxy: five permission checks per post went through it
    attribute by attribute (a third of a cached thread page's time)."""
    if isinstance(user, LazyObject):
        if user._wrapped is empty:
            user._setup()
        return user._wrapped
    return user


def _post_state(context: Any, post: Any) -> tuple:
    """Every value forum/_post.html reads for this post and viewer (live=False)."""
    user = _unwrapped(context.get("user"))
    request = context.get("request")
    author = post.author
    can_moderate = bool(context.get("can_moderate"))
    return (
        RENDER_VERSION,
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
        bool(context.get("can_reply")),
        can_moderate,
        permissions.can_view_history(user, post),
        permissions.can_edit_post(user, post),
        permissions.can_delete_post(user, post),
        permissions.can_report(user, post),
        permissions.can_react(user, post),
        request.get_full_path() if (can_moderate and request is not None) else "",
        timezone.get_current_timezone_name(),
        tuple(context.get("reaction_kinds") or ()),
    )


@register.simple_tag(takes_context=True)
def post_block(context: Any, post: Any) -> SafeString:
    """{% include "forum/_post.html" %} for a thread page, served from POST_FRAGMENTS when this
    post was rendered before in the same state for a viewer who may do the same things."""
    key = hashlib.blake2b(repr(_post_state(context, post)).encode(), digest_size=20).digest()
    html = POST_FRAGMENTS.get(key)
    if html is None:
        tmpl = context.template.engine.get_template("forum/_post.html")
        with context.push(post=post, live=False, csrf_token=_CSRF_SLOT):
            html = tmpl.render(context)
        POST_FRAGMENTS.put(key, html)
    if _CSRF_SLOT in html:
        html = html.replace(_CSRF_SLOT, str(context.get("csrf_token")))
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
