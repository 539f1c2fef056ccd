from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def forum(request: HttpRequest) -> dict[str, Any]:
    """Header data: unread notification count and moderator flags (lazy: no query unless used)."""
    from . import permissions

    user = request.user

    unread: list[int] = []

    def unread_notifications() -> int:
        # Templates call a callable at every use (base.html uses it 4 times): count once.
        if not unread:
            from .notifications import unread_count

            unread.append(unread_count(user) if user.is_authenticated else 0)
        return unread[0]

    def is_moderator() -> bool:
        return permissions.is_moderator_anywhere(user)

    cached: list[int] = []

    def open_reports() -> int:
        """Posts with open reports in the boards this member moderates (0 for others)."""
        if not cached:
            from .moderation import open_report_count

            cached.append(open_report_count(user) if user.is_authenticated else 0)
        return cached[0]

    def moderated_boards() -> str:
        """For live.js: whose open-report counts the moderator menu adds up ("all" for staff)."""
        ids = permissions.moderated_board_ids(user)
        return "all" if ids is None else ",".join(str(i) for i in sorted(ids))

    return {
        "moderated_boards": moderated_boards,
        "unread_notifications": unread_notifications,
        "is_moderator": is_moderator,
        "open_reports": open_reports,
    }
