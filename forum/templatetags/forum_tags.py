"""Template helpers that ask permissions.py (no queries: thread and board are already loaded)."""

from __future__ import annotations

from typing import Any

from django import template

from .. import permissions
from ..models import REACTION_EMOJI

register = template.Library()


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
