"""Composer drafts in a real browser on a real daphne process (static/js/forum.js "drafts",
forum/drafts.py): what a member types in a reply, a new thread or an edit survives leaving the
page, survives a refused post, is deleted once the server accepts the post, can be discarded,
is never shown to another member of the same browser, and is deleted on sign-out."""

from __future__ import annotations

import re
from typing import Any

import pytest

from forum.drafts import SENT_COOKIE
from tests.conftest import make_board, make_member, make_thread
from tests.e2e.browser import chromium, signed_in_context, watch_errors
from tests.servers import session_cookie, start_servers

pytestmark = [pytest.mark.e2e, pytest.mark.servers]

DRAFTS_JS = """() => Object.keys(localStorage).filter((k) => k.startsWith('carocp-draft:'))
  .sort().map((k) => [k, JSON.parse(localStorage.getItem(k))])"""


def _drafts(page: Any) -> list[tuple[str, dict]]:
    return [(k, v) for k, v in page.evaluate(DRAFTS_JS)]


def _leave_and_return(page: Any, url: str, away: str) -> None:
    page.goto(away)
    page.goto(url)


def test_reply_and_new_thread_drafts_survive_until_posted(transactional_db):
    from playwright.sync_api import expect

    maria = make_member("maria", display_name="Maria Lopez")
    james = make_member("james", display_name="James Chen")
    board = make_board("Advocacy")
    thread = make_thread(board, james, title="AB 2345 hearing", body="The hearing is Tuesday.")
    thread_url = thread.get_absolute_url()
    maria_cookies, james_cookies = session_cookie(maria), session_cookie(james)
    reply_key = f"carocp-draft:{maria.pk}:/t/{thread.pk}/reply/"
    new_key = f"carocp-draft:{maria.pk}:/b/{board.slug}/new/"

    with start_servers(1) as [server], chromium() as browser:
        context = signed_in_context(browser, server, maria_cookies)
        page = context.new_page()
        errors = watch_errors(page)
        page.goto(server.url + thread_url)
        box = page.get_by_role("textbox", name="Reply")
        text = "I can testify on **Tuesday** about our CTE pathway."
        box.fill(text)
        # Leaving the page at once (before the save delay) still keeps the draft.
        _leave_and_return(page, server.url + thread_url, server.url + board.get_absolute_url())
        expect(box).to_have_value(text)
        notice = page.locator("#reply-form .draft-notice")
        expect(notice).to_contain_text("Restored your unsent draft")
        expect(page.locator("#reply-form .markdownx-preview strong")).to_have_text(
            "Tuesday", timeout=5000
        )
        assert [k for k, _ in _drafts(page)] == [reply_key]

        # Another member in the same browser does not get it.
        context.clear_cookies()
        context.add_cookies(
            [{"name": k, "value": v, "url": server.url} for k, v in james_cookies.items()]
        )
        page.goto(server.url + thread_url)
        expect(page.get_by_role("textbox", name="Reply")).to_have_value("")
        expect(page.locator(".draft-notice")).to_have_count(0)
        context.clear_cookies()
        context.add_cookies(
            [{"name": k, "value": v, "url": server.url} for k, v in maria_cookies.items()]
        )

        # Posted: the server's answer names the form, and the draft is gone.
        page.goto(server.url + thread_url)
        expect(box).to_have_value(text)
        page.get_by_role("button", name="Post reply").click()
        page.wait_for_url(re.compile(r".*#post-\d+$"))
        expect(page.locator("#posts .post-body strong", has_text="Tuesday")).to_be_visible()
        assert _drafts(page) == []
        assert SENT_COOKIE not in {c["name"] for c in context.cookies()}
        page.reload()
        expect(page.get_by_role("textbox", name="Reply")).to_have_value("")
        expect(page.locator(".draft-notice")).to_have_count(0)

        # New thread: title and body; a refused post keeps the draft, an accepted one ends it.
        page.goto(server.url + f"/b/{board.slug}/new/")
        page.get_by_label("Title").fill("Hi")
        page.get_by_role("textbox", name="Message").fill("Who is going to Sacramento in March?")
        page.get_by_role("button", name="Start thread").click()
        expect(page.locator(".field-error")).to_contain_text("too short")
        expect(page.get_by_role("textbox", name="Message")).to_have_value(
            "Who is going to Sacramento in March?"
        )
        assert _drafts(page)[0][0] == new_key
        assert _drafts(page)[0][1]["title"] == "Hi"
        _leave_and_return(
            page, server.url + f"/b/{board.slug}/new/", server.url + board.get_absolute_url()
        )
        expect(page.get_by_label("Title")).to_have_value("Hi")
        expect(page.get_by_role("textbox", name="Message")).to_have_value(
            "Who is going to Sacramento in March?"
        )
        page.get_by_label("Title").fill("Sacramento advocacy day")
        page.get_by_role("button", name="Start thread").click()
        expect(page.locator("#thread-title")).to_have_text("Sacramento advocacy day")
        assert _drafts(page) == []
        # The refused post's page answered 400 (as it should); nothing else went wrong.
        assert [e for e in errors if "status of 400" not in e] == []
        context.close()


def test_edit_draft_discard_and_sign_out(transactional_db):
    from playwright.sync_api import expect

    maria = make_member("maria", display_name="Maria Lopez")
    board = make_board("Professional development")
    thread = make_thread(board, maria, title="Summer institute", body="Original words.")
    post = thread.posts.get(number=1)
    edit_url = f"/p/{post.pk}/edit/"
    cookies = session_cookie(maria)
    second_session = session_cookie(maria)  # signing out ends the first

    with start_servers(1) as [server], chromium() as browser:
        context = signed_in_context(browser, server, cookies)
        page = context.new_page()
        errors = watch_errors(page)
        page.goto(server.url + edit_url)
        body = page.get_by_role("textbox", name="Message")
        expect(body).to_have_value("Original words.")
        body.fill("Original words, and the dates: June 22-26.")
        _leave_and_return(page, server.url + edit_url, server.url + thread.get_absolute_url())
        expect(body).to_have_value("Original words, and the dates: June 22-26.")

        # Discard puts back the post as it is and forgets the draft.
        page.locator(".draft-notice").get_by_role("button", name="Discard draft").click()
        expect(body).to_have_value("Original words.")
        expect(page.locator(".draft-notice")).to_have_count(0)
        assert _drafts(page) == []
        page.reload()
        expect(body).to_have_value("Original words.")
        expect(page.locator(".draft-notice")).to_have_count(0)

        # Typing back to the original text is no draft either.
        body.fill("Original words?")
        body.fill("Original words.")
        page.wait_for_timeout(700)
        assert _drafts(page) == []

        # Sign-out deletes every draft this browser holds, the one on the page signed out
        # from too (its leaving the page must not write it back).
        body.fill("A draft I will not finish.")
        page.goto(server.url + thread.get_absolute_url())
        assert len(_drafts(page)) == 1
        page.goto(server.url + edit_url)
        body.fill("Typed right before signing out.")
        page.locator("details.profile-menu summary").click()
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r".*/$"))
        page.wait_for_timeout(300)
        assert _drafts(page) == []

        # Saved edits end the draft like a reply does.
        context.add_cookies(
            [{"name": k, "value": v, "url": server.url} for k, v in second_session.items()]
        )
        page.goto(server.url + edit_url)
        body.fill("Original words, revised.")
        page.get_by_role("button", name="Save changes").click()
        expect(page.locator("#posts .post-body", has_text="revised")).to_be_visible()
        assert _drafts(page) == []
        assert errors == []
        context.close()


def test_drafts_across_tabs(transactional_db):
    """Two tabs on one form: a tab that only shows the form never deletes the other's draft,
    and text posted from one tab does not come back as a draft from the other."""
    from playwright.sync_api import expect

    maria = make_member("maria")
    thread = make_thread(make_board("Networking"), make_member("james"), title="Meetups")
    url = thread.get_absolute_url()
    cookies = session_cookie(maria)

    with start_servers(1) as [server], chromium() as browser:
        context = signed_in_context(browser, server, cookies)
        idle, typing = context.new_page(), context.new_page()
        errors = watch_errors(idle) + watch_errors(typing)
        idle.goto(server.url + url)
        typing.goto(server.url + url)
        typing.get_by_role("textbox", name="Reply").fill("Typed in the other tab")
        typing.wait_for_timeout(700)
        typing.close()
        idle.goto(server.url + "/")  # leaving a blank, untouched composer
        assert [v["body"] for _, v in _drafts(idle)] == ["Typed in the other tab"]
        idle.goto(server.url + url)
        expect(idle.locator("#reply-form .draft-notice")).to_be_visible()

        # Posted from one tab while another still holds the same text.
        other = context.new_page()
        other.goto(server.url + url)
        other.get_by_role("textbox", name="Reply").fill("Posted from one tab, held in two")
        other.wait_for_timeout(700)
        idle.goto(server.url + url)
        box = idle.get_by_role("textbox", name="Reply")
        expect(box).to_have_value("Posted from one tab, held in two")
        idle.get_by_role("button", name="Post reply").click()
        idle.wait_for_url(re.compile(r".*#post-\d+$"))
        assert _drafts(idle) == []
        other.goto(server.url + "/")  # its leaving would have saved the posted text again
        idle.goto(server.url + url)
        expect(idle.get_by_role("textbox", name="Reply")).to_have_value("")
        expect(idle.locator(".draft-notice")).to_have_count(0)
        assert _drafts(idle) == []
        # Typing again in that other tab afterwards is a new draft, kept as usual.
        other.goto(server.url + url)
        other.get_by_role("textbox", name="Reply").fill("A second, new reply")
        other.wait_for_timeout(700)
        assert [v["body"] for _, v in _drafts(other)] == ["A second, new reply"]
        assert [e for e in errors if "status of 400" not in e] == []
        context.close()
