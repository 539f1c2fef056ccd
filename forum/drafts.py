"""Composer drafts: the browser keeps what a member is typing (static/js/forum.js, "drafts"), so
a reply, a new thread or an edit survives a closed tab, a link followed by mistake or a crash.

Drafts live in the member's own browser storage, keyed by member and form, and never reach the
server until they are posted. The server's one part is to say when a composer's post was
accepted: the answer that follows a successful post carries a short-lived cookie naming the
form's path, and the next page the browser loads deletes that draft. A refused post re-shows the
form with what was typed (the server keeps it), so its draft stays too.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse

SENT_COOKIE = "carocp_draft_sent"
SENT_COOKIE_AGE = 120


def mark_sent(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Tell the browser that the composer posted to request.path was accepted."""
    response.set_cookie(
        SENT_COOKIE,
        request.path,
        max_age=SENT_COOKIE_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=False,  # read by forum.js, which deletes the draft and then the cookie
        samesite="Lax",
    )
    return response
