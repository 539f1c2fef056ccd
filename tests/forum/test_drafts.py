"""The server's part of composer drafts (forum/drafts.py): an accepted post's answer names the
form's path in a short-lived cookie readable by forum.js; a refused post's answer does not, so
the browser keeps the draft. The browser's part is tests/forum/test_drafts_browser.py."""

from __future__ import annotations

import pytest

from forum.drafts import SENT_COOKIE, SENT_COOKIE_AGE
from tests.conftest import client_for, make_board, make_member, make_staff, make_thread

pytestmark = pytest.mark.django_db


def _sent(response) -> str | None:
    cookie = response.cookies.get(SENT_COOKIE)
    if cookie is None:
        return None
    assert not cookie["httponly"], "forum.js must be able to read it"
    assert cookie["max-age"] == SENT_COOKIE_AGE and cookie["path"] == "/"
    assert cookie["samesite"] == "Lax"
    return cookie.value


def test_accepted_posts_name_their_form_and_refused_ones_do_not():
    maria = make_member("maria")
    board = make_board("Networking")
    thread = make_thread(board, maria, title="Regional meetups", body="Who is in the Bay Area?")
    client = client_for(maria)

    reply = f"/t/{thread.pk}/reply/"
    assert _sent(client.post(reply, {"body": ""})) is None  # refused: empty
    response = client.post(reply, {"body": "Oakland, every second Tuesday."})
    assert response.status_code == 302 and _sent(response) == reply

    new = f"/b/{board.slug}/new/"
    assert _sent(client.post(new, {"title": "Hi", "body": "Too short a title."})) is None
    response = client.post(new, {"title": "Spring conference carpool", "body": "From Fresno."})
    assert response.status_code == 302 and _sent(response) == new

    edit = f"/p/{thread.posts.get(number=1).pk}/edit/"
    assert _sent(client.post(edit, {"title": thread.title, "body": ""})) is None
    response = client.post(edit, {"title": thread.title, "body": "Who is in the Bay Area? DM me."})
    assert response.status_code == 302 and _sent(response) == edit

    moderator = make_staff("admin")
    mod_edit = f"/p/{thread.posts.get(number=1).pk}/mod/edit/"
    staff = client_for(moderator)
    assert _sent(staff.post(mod_edit, {"body": "x", "reason": ""})) is None  # reason required
    response = staff.post(mod_edit, {"body": "Edited by staff.", "reason": "Contact details"})
    assert response.status_code == 302 and _sent(response) == mod_edit
