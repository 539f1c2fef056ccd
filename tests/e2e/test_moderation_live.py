"""A real browser: a moderator locks a thread; a member's open page shows it locked and the
reply box disabled, without a reload. Runs against a real daphne process (tests/servers.py)."""

from __future__ import annotations

import pytest

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
