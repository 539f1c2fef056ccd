"""A real browser: a moderator suspends or silences a member who has a thread open with a
reply typed. The page says so plainly, closes the reply box (keeping the text), and keeps
following the thread as a reader; lifting it opens the reply box again. Only a real sign-out
says "your session ended" (tests/e2e/test_live_thread.py)."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from tests.conftest import make_board, make_member, make_reply, make_staff, make_thread
from tests.e2e.browser import (
    SERVER_ENV,
    SUBSCRIBED_JS,
    assert_not_reloaded,
    chromium,
    open_live,
    signed_in_context,
    watch_errors,
)
from tests.servers import HttpMember, session_cookie, start_servers

pytestmark = [pytest.mark.e2e, pytest.mark.servers]

TYPED = "A reply I was still writing when it happened."


def test_live_suspension_and_silence_close_the_reply_box_and_keep_the_page_live(
    transactional_db,
):
    from playwright.sync_api import expect

    author = make_member("rosa", display_name="Rosa Diaz")
    maria = make_member("maria", display_name="Maria Lopez")
    james = make_member("james", display_name="James Chen")
    staff = make_staff("chair", display_name="Chair Person")
    board = make_board("Work-based learning")
    thread = make_thread(board, author, title="Advisory committee agendas", body="Agendas.")
    make_reply(thread, author, "A first reply.")
    url = thread.get_absolute_url() + "?page=1"
    until = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
    urls = {
        name: reverse(f"moderation:member_{name}", args=["maria"])
        for name in ("suspend", "lift_suspension", "silence", "lift_silence")
    }
    jar = session_cookie(maria)
    thread_stream, inbox = f"thread:{thread.pk}", f"inbox:{maria.pk}"

    with start_servers(1, env=SERVER_ENV) as [server]:
        staff_http, james_http = HttpMember(server, staff), HttpMember(server, james)
        with chromium() as browser:
            page = signed_in_context(browser, server, jar).new_page()
            errors = watch_errors(page)
            open_live(page, server.url + url, [thread_stream, inbox])
            box = page.get_by_role("textbox", name="Reply")
            box.fill(TYPED)
            # The preview of the typed text is done (a suspended member's would be refused).
            expect(page.locator(".markdownx-preview")).to_contain_text(TYPED, timeout=10_000)
            status = page.locator("#live-status")
            notice = page.locator("#member-notice")

            # Suspended: said plainly, with the end date; the box closes, its text stays.
            code, _ = staff_http.post_form(urls["suspend"], {"until": until, "reason": "Spam"})
            assert code == 302, code
            expect(notice).to_contain_text("Your account is suspended until", timeout=10_000)
            expect(notice).to_contain_text("you can read but not post")
            expect(box).to_be_disabled()
            expect(box).to_have_value(TYPED)
            expect(page.locator("#reply-form button[type=submit]")).to_be_disabled()
            # A reader again: the socket comes back and the thread stays live.
            page.wait_for_function(SUBSCRIBED_JS, arg=[thread_stream], timeout=10_000)
            assert not page.evaluate("() => window.CarocpLive.isStopped()")
            expect(status).not_to_contain_text("session ended")
            code, _ = james_http.reply(thread.pk, "James replies while Maria is suspended.")
            assert code == 302, code
            expect(page.locator("#posts article.post", has_text="while Maria is")).to_have_count(
                1, timeout=10_000
            )

            # Lifted: the box opens again with the text, and the inbox is followed again.
            code, _ = staff_http.post_form(urls["lift_suspension"], {"reason": ""})
            assert code == 302, code
            expect(box).to_be_enabled(timeout=10_000)
            expect(box).to_have_value(TYPED)
            expect(notice).to_have_count(0)
            page.wait_for_function(SUBSCRIBED_JS, arg=[thread_stream, inbox], timeout=10_000)

            # Silenced: the socket stays open; the box closes until the silence is lifted.
            code, _ = staff_http.post_form(urls["silence"], {"until": until, "reason": "Heat"})
            assert code == 302, code
            expect(notice).to_contain_text("You are silenced until", timeout=10_000)
            expect(box).to_be_disabled()
            code, _ = staff_http.post_form(urls["lift_silence"], {"reason": ""})
            assert code == 302, code
            expect(box).to_be_enabled(timeout=10_000)
            expect(notice).to_have_count(0)
            expect(box).to_have_value(TYPED)

            assert not page.evaluate("() => window.CarocpLive.isStopped()")
            expect(status).not_to_contain_text("session ended")
            assert_not_reloaded(page)
            assert not errors, errors
