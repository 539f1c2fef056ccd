"""A real browser: a moderator locks a thread; a member's open page shows it locked and the
reply box disabled, without a reload. Runs against a real daphne process (tests/servers.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.conftest import make_board, make_member, make_reply, make_thread
from tests.e2e.browser import SUBSCRIBED_JS
from tests.servers import session_cookie, start_servers

pytestmark = [pytest.mark.e2e, pytest.mark.servers]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# True when the reply form is gone or hidden, or its text box / submit button is disabled.
REPLY_BOX_DISABLED_JS = """() => {
  const form = document.getElementById('reply-form');
  if (!form || form.hidden || form.offsetParent === null) return true;
  const box = form.querySelector('textarea');
  const submit = form.querySelector('button[type=submit]');
  return Boolean((box && (box.disabled || box.readOnly)) || (submit && submit.disabled));
}"""


@pytest.mark.e2e
def test_lock_thread_reaches_open_member_page_without_reload(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    moderator = make_member("lockmod")
    member = make_member("lockreader")
    author = make_member("lockauthor")
    board = make_board("Live board", moderators=[moderator])
    thread = make_thread(board, author, title="Live lock thread")
    make_reply(thread, member, "A first reply")
    url_path = thread.get_absolute_url() + "?page=1"
    # Everything touching the database happens before Playwright starts its event loop.
    cookies = {"member": session_cookie(member), "moderator": session_cookie(moderator)}

    with start_servers(1) as [server], sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            contexts = {}
            for name, jar in cookies.items():
                context = browser.new_context()
                context.add_cookies(
                    [{"name": k, "value": v, "url": server.url} for k, v in jar.items()]
                )
                contexts[name] = context

            reader = contexts["member"].new_page()
            reader.goto(server.url + url_path)
            expect(reader.locator("#reply-form")).to_be_visible()
            expect(reader.locator("#flag-locked")).to_be_hidden()
            assert not reader.evaluate(REPLY_BOX_DISABLED_JS)
            # A marker that a reload or navigation would wipe out.
            reader.evaluate("() => { window.__stillSamePage = true; }")
            # Wait until the page's socket is subscribed to the thread (no fixed sleep).
            reader.wait_for_function(SUBSCRIBED_JS, arg=[f"thread:{thread.pk}"], timeout=10_000)

            mod_page = contexts["moderator"].new_page()
            mod_page.goto(server.url + url_path)
            mod_page.locator("#thread-mod-tools summary").click()
            with mod_page.expect_navigation():
                mod_page.locator("button[data-mod-action=lock]").click()
            expect(mod_page.locator("#flag-locked")).to_be_visible()

            expect(reader.locator("#flag-locked")).to_be_visible(timeout=15_000)
            expect(reader.locator("#locked-notice")).to_be_visible(timeout=15_000)
            reader.wait_for_function(REPLY_BOX_DISABLED_JS, timeout=15_000)
            assert reader.evaluate("() => window.__stillSamePage === true"), "page was reloaded"
        finally:
            browser.close()


# The notices in the reply box and the thread head that are visible (and their texts).
VISIBLE_NOTICES_JS = """() => Array.from(
  document.querySelectorAll('.reply-box .notice, #live-notice'))
  .filter((el) => !el.hidden && el.offsetParent !== null).map((el) => el.textContent.trim())"""


def test_locked_thread_shows_one_notice_on_load_and_after_live_unlock_and_relock(
    transactional_db,
):
    """Bug: a non-moderator's page of a locked thread said "locked" twice (the lock notice and
    the reply refusal), and after a live unlock the refusal still said "locked"."""
    from playwright.sync_api import expect

    from tests.e2e.browser import (
        SERVER_ENV,
        assert_not_reloaded,
        chromium,
        open_live,
        signed_in_context,
        watch_errors,
    )
    from tests.servers import HttpMember

    moderator = make_member("locknoticemod")
    member = make_member("locknoticereader")
    board = make_board("Notice board", moderators=[moderator])
    thread = make_thread(board, moderator, title="Locked from the start")
    thread.is_locked = True
    thread.save(update_fields=["is_locked"])
    url = thread.get_absolute_url() + "?page=1"
    lock_url = reverse("moderation:thread_lock", args=[thread.pk])
    unlock_url = reverse("moderation:thread_unlock", args=[thread.pk])
    jar = session_cookie(member)

    with start_servers(1, env=SERVER_ENV) as [server]:
        mod_http = HttpMember(server, moderator)
        with chromium() as browser:
            page = signed_in_context(browser, server, jar).new_page()
            errors = watch_errors(page)
            open_live(page, server.url + url, [f"thread:{thread.pk}"])
            assert page.evaluate(VISIBLE_NOTICES_JS) == ["This thread is locked: no new replies."]

            assert mod_http.post_form(unlock_url, {"reason": ""})[0] == 302
            expect(page.locator("#flag-locked")).to_be_hidden(timeout=10_000)
            page.wait_for_function(
                "() => (document.getElementById('live-notice') || {}).hidden === false"
            )
            notices = page.evaluate(VISIBLE_NOTICES_JS)
            assert len(notices) == 1 and "was unlocked" in notices[0], notices

            assert mod_http.post_form(lock_url, {"reason": ""})[0] == 302
            expect(page.locator("#flag-locked")).to_be_visible(timeout=10_000)
            assert page.evaluate(VISIBLE_NOTICES_JS) == ["This thread is locked: no new replies."]
            assert_not_reloaded(page)
            assert not errors, errors
