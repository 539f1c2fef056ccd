"""A real browser on a real daphne process: the editor's live preview, @mention autocomplete,
quote (whole post and selection), reactions, delete confirmation and posting a reply, all under
the site's CSP (no inline script). Screenshots at phone and desktop width go to
$DATA_DIR/screenshots for a person to look at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import make_board, make_member, make_reply, make_thread
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
# Never skipped: a missing browser is a failure (`make e2e-deps` installs Debian's chromium).
needs_chromium = pytest.mark.e2e


def _shots() -> Path:
    path = Path(settings.DATA_DIR) / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@needs_chromium
def test_thread_editor_preview_mentions_quote_reactions_and_reply(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    author = make_member("maria", display_name="Maria Lopez")
    reader = make_member("james", display_name="James Chen")
    make_member("marisol", display_name="Marisol Vega")
    board = make_board("Work-based learning")
    thread = make_thread(
        board,
        author,
        title="Advisory committee agendas",
        body="We meet **quarterly** with industry partners.\n\nSecond paragraph here.",
    )
    mine = make_reply(thread, reader, "A reply I will remove")
    first_id = thread.posts.get(number=1).pk
    url_path = thread.get_absolute_url() + "?page=1"
    cookies = session_cookie(reader)

    with start_servers(1) as [server], sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 900})
            context.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in cookies.items()]
            )
            page = context.new_page()
            csp_errors: list[str] = []
            page.on(
                "console",
                lambda m: (
                    csp_errors.append(m.text) if "Content Security Policy" in m.text else None
                ),
            )
            page.goto(server.url + url_path)

            # The reply form: labelled "Reply", button "Post reply", live markdownx preview.
            box = page.get_by_role("textbox", name="Reply")
            expect(box).to_be_visible()
            expect(page.get_by_role("button", name="Post reply")).to_be_visible()
            box.fill("Some **bold** words")
            preview = page.locator("#reply-form .markdownx-preview")
            expect(preview.locator("strong")).to_have_text("bold", timeout=5000)

            # @mention autocomplete: keyboard navigable, Enter inserts @username.
            box.fill("")
            box.press_sequentially("Thanks @mari", delay=30)
            menu = page.locator("#mention-menu[role=listbox]")
            expect(menu).to_be_visible(timeout=5000)
            expect(menu.locator("[role=option]")).to_have_count(2)
            expect(box).to_have_attribute("aria-expanded", "true")
            box.press("ArrowDown")
            expect(menu.locator("[role=option][aria-selected=true]")).to_contain_text("@marisol")
            box.press("Enter")
            expect(box).to_have_value("Thanks @marisol ")
            expect(menu).to_have_count(0)
            expect(preview.locator('a.mention[href="/u/marisol/"]')).to_be_visible(timeout=5000)

            # Quote the whole post.
            box.fill("")
            page.locator(f"#post-{first_id} .quote-button").click()
            expect(box).to_have_value(
                re.compile(rf"^> \[@maria wrote\]\(/p/{first_id}/\):\n> We meet \*\*quarterly\*\*")
            )
            expect(preview.locator("blockquote")).to_be_visible(timeout=5000)

            # Quote only the selected words.
            box.fill("")
            page.evaluate(
                """(id) => {
                  const p = document.querySelector(`#post-${id} .post-body p:nth-of-type(2)`);
                  const range = document.createRange();
                  range.selectNodeContents(p);
                  const sel = window.getSelection();
                  sel.removeAllRanges(); sel.addRange(range);
                }""",
                first_id,
            )
            page.locator(f"#post-{first_id} .quote-button").click()
            expect(box).to_have_value(
                f"> [@maria wrote](/p/{first_id}/):\n> Second paragraph here.\n\n"
            )

            # Reactions via fetch: count and pressed state change without a reload.
            like = page.locator(f'#post-{first_id} button.reaction[data-kind="like"]')
            like.click()
            expect(like).to_have_attribute("aria-pressed", "true")
            expect(like.locator(".count")).to_have_text("1")
            expect(like).to_have_attribute("title", "Like: James Chen")
            page.screenshot(path=str(_shots() / "thread-desktop.png"), full_page=True)
            like.click()
            expect(like).to_have_attribute("aria-pressed", "false")
            expect(like.locator(".count")).to_have_text("")
            like.click()
            # Wait for the answer: a reload right after the click would abort the request.
            expect(like).to_have_attribute("aria-pressed", "true")
            page.reload()
            expect(like).to_have_attribute("aria-pressed", "true")

            # Delete asks first; dismissing keeps the post, accepting removes it.
            delete = page.locator(f"#post-{mine.pk} form.confirm-form button")
            page.once("dialog", lambda d: d.dismiss())
            delete.click()
            expect(page.locator(f"#post-{mine.pk} .post-body")).to_contain_text("I will remove")
            page.once("dialog", lambda d: d.accept())
            delete.click()
            expect(page.locator(f"#post-{mine.pk}")).to_contain_text("This post was removed.")

            # Posting a reply with the button lands on the new post.
            box = page.get_by_role("textbox", name="Reply")
            box.fill("Posted from a real browser")
            page.get_by_role("button", name="Post reply").click()
            expect(page.locator(".post").last).to_contain_text("Posted from a real browser")
            assert re.search(r"#post-\d+$", page.url)

            # Phone width: no horizontal scrolling; the reply box is still usable.
            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, device_scale_factor=1
            )
            phone.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in cookies.items()]
            )
            mobile = phone.new_page()
            overflows = {}
            for path, name in [
                (url_path, "thread-phone"),
                (board.get_absolute_url(), "board-phone"),
                ("/", "index-phone"),
            ]:
                mobile.goto(server.url + path)
                overflow = mobile.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                if overflow > 0:
                    overflows[path] = overflow
                mobile.screenshot(path=str(_shots() / f"{name}.png"), full_page=True)
            assert not overflows, f"pages scroll sideways on a phone (px): {overflows}"
            assert not csp_errors, csp_errors
        finally:
            browser.close()


@needs_chromium
def test_new_thread_form_preview_works_and_keyboard_reaches_submit(transactional_db):
    from playwright.sync_api import expect, sync_playwright

    member = make_member("starter")
    board = make_board("Pathways")
    cookies = session_cookie(member)

    with start_servers(1) as [server], sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 900})
            context.add_cookies(
                [{"name": k, "value": v, "url": server.url} for k, v in cookies.items()]
            )
            page = context.new_page()
            page.goto(f"{server.url}/b/{board.slug}/new/")
            page.get_by_label("Title").fill("Welding lab safety")
            body = page.get_by_label("Message")
            body.fill("| Tool | Rule |\n|--|--|\n| Torch | ~~never~~ always gloves |")
            preview = page.locator(".markdownx-preview")
            expect(preview.locator("table td del, table td s")).to_have_text("never", timeout=5000)
            # Tab leaves the editor (markdownx would insert a tab: a keyboard trap).
            body.focus()
            page.keyboard.press("Tab")
            focused = page.evaluate("document.activeElement.textContent.trim()")
            assert focused == "Start thread"
            page.screenshot(path=str(_shots() / "new-thread-desktop.png"), full_page=True)
            page.keyboard.press("Enter")
            expect(page.locator("h1")).to_have_text("Welding lab safety")
            expect(page.locator(".post-body table")).to_be_visible()
        finally:
            browser.close()
