"""reverse() for the URLs pages print many times (a thread's, a board's, a post's).

`reverse()` costs ~20-30 us; a board page printed 30-60 thread URLs, a thread page ~10 per
post (issue 6 point 2). `fast_reverse(name, *args)` reverses each URL name once per (argument
types, script prefix, URLconf) with placeholder arguments and then only fills the real ones in.
An argument that reverse() would have to quote (anything but an int or a slug of ASCII letters,
digits, hyphens and underscores) goes through reverse() itself. The `{% url %}` tag of every
template uses it too (forum/templatetags/fast_url.py, a builtin in settings.TEMPLATES).
tests/forum/test_urlcache.py compares both with reverse() and Django's own tag.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.urls import get_script_prefix, get_urlconf, reverse

_SLUG = re.compile(r"[-a-zA-Z0-9_]+")
_INT_PLACEHOLDER = 2147480011
_patterns: dict[tuple, tuple[str, ...] | None] = {}


def _placeholder(i: int, arg: int | str) -> str:
    return str(_INT_PLACEHOLDER + i) if isinstance(arg, int) else f"zq{i}placeholderqz"


def fast_reverse(name: str, *args: Any, current_app: str | None = None) -> str:
    """reverse(name, args=args, current_app=current_app), from a cached pattern when every
    argument is an int or a slug."""
    kinds = []
    for arg in args:
        if (
            isinstance(arg, bool)
            or not isinstance(arg, int | str)
            or (isinstance(arg, str) and not _SLUG.fullmatch(arg))
            or (isinstance(arg, int) and arg < 0)  # <int:> takes none: let reverse() refuse it
        ):
            return reverse(name, args=args, current_app=current_app)
        kinds.append(int if isinstance(arg, int) else str)
    key = (
        name,
        tuple(kinds),
        current_app,
        get_script_prefix(),
        str(get_urlconf() or settings.ROOT_URLCONF),
    )
    parts = _patterns.get(key, ())
    if parts == ():
        parts = _patterns[key] = _split(name, args, current_app)
    if parts is None:  # a pattern the placeholders do not fit (e.g. a slug with a length limit)
        return reverse(name, args=args, current_app=current_app)
    out = [parts[0]]
    for arg, part in zip(args, parts[1:], strict=True):
        out.append(str(arg))
        out.append(part)
    return "".join(out)


def _split(name: str, args: tuple, current_app: str | None) -> tuple[str, ...] | None:
    placeholders = [_placeholder(i, arg) for i, arg in enumerate(args)]
    try:
        url = reverse(name, args=placeholders, current_app=current_app)
    except Exception:  # noqa: BLE001 (NoReverseMatch and converters' own errors: use reverse())
        return None
    parts = []
    for placeholder in placeholders:
        head, sep, url = url.partition(placeholder)
        if not sep:
            return None
        parts.append(head)
    parts.append(url)
    return tuple(parts)
