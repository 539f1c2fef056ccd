"""A real browser on a real daphne process: what static/js/live.js does with the live layer.

Two or three members, each in their own browser context (own cookies, own socket). Every check
waits for a condition in the page (no fixed sleeps) and also checks that the page was not
reloaded, so only the live client can make these tests pass.
"""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from forum.models import Visibility
from tests.conftest import make_board, make_group, make_member, make_reply, make_staff, make_thread
from tests.e2e.browser import (
    SERVER_ENV,
    assert_not_reloaded,
    chromium,
    open_live,
    post_texts,
    signed_in_context,
    watch_errors,
)
from tests.servers import HttpMember, private_redis, session_cookie, start_servers

pytestmark = [pytest.mark.e2e, pytest.mark.servers]


def _world():
    author = make_member("rosa", display_name="Rosa Diaz")
    maria = make_member("maria", display_name="Maria Lopez")
    james = make_member("james", display_name="James Chen")
    board = make_board("Work-based learning")
    thread = make_thread(board, author, title="Advisory committee agendas", body="Agendas here.")
    make_reply(thread, author, "A first reply.")
    return author, maria, james, board, thread


def test_reply_with_mention_reaches_other_member_within_2s_and_rings_bell(transactional_db):
    from playwright.sync_api import expect

    _, maria, james, _, thread = _world()
    url = thread.get_absolute_url() + "?page=1"
    streams = [f"thread:{thread.pk}", f"inbox:{james.pk}"]
    jars = {"maria": session_cookie(maria), "james": session_cookie(james)}

    with start_servers(1, env=SERVER_ENV) as [server], chromium() as browser:
        b = signed_in_context(browser, server, jars["james"]).new_page()
        b_errors = watch_errors(b)
        open_live(b, server.url + url, streams)
        expect(b.locator("#bell-count")).to_have_text("")

        a = signed_in_context(browser, server, jars["maria"]).new_page()
        a.goto(server.url + url)
        a.get_by_role("textbox", name="Reply").fill("Thanks @james, the agenda is attached.")
        with a.expect_navigation():
            a.get_by_role("button", name="Post reply").click()
        expect(a.locator(".post").last).to_contain_text("the agenda is attached")

        # B: the reply, within 2 s of A's page coming back, without a reload, exactly once.
        new_post = b.locator("#posts article.post", has_text="the agenda is attached")
        expect(new_post).to_be_visible(timeout=2000)
        expect(new_post).to_have_count(1)
        expect(new_post.locator("a.mention")).to_have_attribute("href", "/u/james/")
        # The bell: one more unread, and a toast that links to the reply.
        expect(b.locator("#bell-count")).to_have_text("1", timeout=2000)
        expect(b.locator("#bell")).to_have_attribute("aria-label", "Notifications (1 unread)")
        toast = b.locator("#toasts .live-toast")
        expect(toast).to_contain_text("Maria Lopez")
        expect(toast.locator("a")).to_have_attribute("href", re.compile(r"/p/\d+/|/t/\d+/"))
        # Same markup as the page, with B's own controls turned on.
        expect(new_post.locator("button.reaction").first).to_be_enabled()
        expect(new_post.locator(".quote-button")).to_be_visible()
        expect(new_post.locator("a.member-control")).to_be_visible()  # Report
        expect(new_post.locator("a.owner-control")).to_be_hidden()  # not B's post to edit
        assert_not_reloaded(b)
        assert not b_errors, b_errors


def test_member_offline_then_online_gets_missed_replies_once_in_order(transactional_db):
    from playwright.sync_api import expect

    author, maria, james, _, thread = _world()
    url = thread.get_absolute_url() + "?page=1"
    jar = session_cookie(james)

    with start_servers(1, env=SERVER_ENV) as [server]:
        maria_http = HttpMember(server, maria)  # signs in through the database: before chromium
        with chromium() as browser:
            context = signed_in_context(browser, server, jar)
            b = context.new_page()
            errors = watch_errors(b)
            sent: list[str] = []
            b.on("websocket", lambda ws: ws.on("framesent", lambda f: sent.append(str(f))))
            open_live(b, server.url + url, [f"thread:{thread.pk}"])
            before = post_texts(b)

            context.set_offline(True)
            status = b.locator("#live-status")
            expect(status).to_be_visible()
            expect(status).to_have_text("Live updates paused — reconnecting…")
            assert not b.evaluate("() => window.CarocpLive.isOpen()"), "the socket is still open"

            bodies = [f"Missed reply number {n}." for n in (1, 2, 3)]
            for text in bodies:
                code, _ = maria_http.reply(thread.pk, text)
                assert code == 302, code
            # Nothing can arrive while offline.
            assert post_texts(b) == before

            context.set_offline(False)
            for text in bodies:
                expect(b.locator("#posts article.post", has_text=text)).to_have_count(
                    1, timeout=10_000
                )
            expect(status).to_be_hidden()
            assert post_texts(b) == before + bodies, post_texts(b)
            # The new socket resumed from the last event id it had seen (not the page-load
            # window, which would also have covered this short outage).
            resumes = [
                json.loads(f)
                for f in sent
                if '"subscribe"' in f and f'"thread:{thread.pk}"' in f and "last_id" in f
            ]
            assert resumes and resumes[-1]["last_id"] > 0, sent
            assert_not_reloaded(b)
            assert not errors, errors


def test_edit_reaction_hide_and_new_replies_button_update_open_page(transactional_db):
    from playwright.sync_api import expect

    author, maria, james, board, thread = _world()
    moderator = make_member("mod", display_name="Mo Derator")
    board.moderators.set([moderator])
    target = make_reply(thread, maria, "Original words of the target post.")
    for n in range(6):
        make_reply(thread, author, f"Filler reply {n} " + "with enough text to take space. " * 8)
    url = thread.get_absolute_url() + "?page=1"
    edit_url = reverse("forum:edit_post", args=[target.pk])
    react_url = reverse("forum:react", args=[target.pk])
    hide_url = reverse("moderation:post_hide", args=[target.pk])
    jars = {"james": session_cookie(james), "maria": session_cookie(maria)}

    with start_servers(1, env=SERVER_ENV) as [server]:
        maria_http = HttpMember(server, maria)  # signs in through the database: before chromium
        author_http, mod_http = HttpMember(server, author), HttpMember(server, moderator)
        with chromium() as browser:
            viewport = {"width": 900, "height": 600}
            b = signed_in_context(browser, server, jars["james"], viewport=viewport).new_page()
            errors = watch_errors(b)
            open_live(b, server.url + url, [f"thread:{thread.pk}"])
            # The author's own page: after the hide she still sees her post, marked hidden.
            a = signed_in_context(browser, server, jars["maria"], viewport=viewport).new_page()
            open_live(a, server.url + url, [f"thread:{thread.pk}"])
            post_b = b.locator(f"#post-{target.pk}")

            # Edit: the body is replaced and "edited" shows.
            code, _ = maria_http.post_form(
                edit_url, {"body": "Better words after an edit.", "title": "", "reason": "typo"}
            )
            assert code == 302, code
            expect(post_b.locator(".post-body")).to_have_text("Better words after an edit.")
            expect(post_b.locator(".post-edited")).to_be_visible()

            # Reaction by someone else: the count updates.
            code, _ = author_http.post_form(react_url, {"kind": "like"})
            assert code == 302, code
            like = post_b.locator('button.reaction[data-kind="like"]')
            expect(like.locator(".count")).to_have_text("1")
            expect(like).to_have_attribute("data-count", "1")

            # Hidden by a moderator: gone from James's screen; marked on the author's.
            code, _ = mod_http.post_form(hide_url, {"reason": "Off-topic"})
            assert code == 302, code
            expect(post_b.locator(".post-body")).to_have_count(0)
            expect(post_b).to_contain_text("hidden by a moderator")
            expect(post_b).not_to_contain_text("Better words")
            post_a = a.locator(f"#post-{target.pk}")
            expect(post_a.locator(".notice-warn")).to_contain_text(
                "Hidden by a moderator: Off-topic"
            )
            expect(post_a.locator(".post-body")).to_have_text("Better words after an edit.")

            # Scrolled up: new replies do not move the page; a button says how many.
            b.evaluate("() => window.scrollTo(0, 0)")
            for n in (1, 2):
                code, _ = maria_http.reply(thread.pk, f"Fresh reply {n} while James reads the top.")
                assert code == 302, code
            button = b.locator("#new-replies button")
            expect(button).to_have_text("2 new replies")
            expect(b.locator("#posts article.post", has_text="Fresh reply 2")).to_have_count(1)
            assert b.evaluate("() => window.scrollY") == 0, "the page jumped"
            button.click()
            first_new = b.locator("#posts article.post", has_text="Fresh reply 1")
            expect(first_new).to_be_in_viewport()
            expect(b.locator("#new-replies")).to_be_hidden()
            assert_not_reloaded(b)
            assert_not_reloaded(a)
            assert not errors, errors


def test_presence_and_typing_show_for_the_other_member_and_vanish_when_they_leave(
    transactional_db,
):
    from playwright.sync_api import expect

    _, maria, james, _, thread = _world()
    url = thread.get_absolute_url() + "?page=1"
    stream = [f"thread:{thread.pk}"]
    jars = {"james": session_cookie(james), "maria": session_cookie(maria)}

    with start_servers(1, env=SERVER_ENV) as [server], chromium() as browser:
        b = signed_in_context(browser, server, jars["james"]).new_page()
        errors = watch_errors(b)
        open_live(b, server.url + url, stream)
        presence = b.locator("#presence")
        expect(presence).to_be_hidden()  # alone: nothing to say

        a = signed_in_context(browser, server, jars["maria"]).new_page()
        open_live(a, server.url + url, stream)
        expect(presence).to_have_text("2 members reading")
        expect(presence).to_have_attribute("title", re.compile("Maria Lopez"))
        expect(a.locator("#presence")).to_have_text("2 members reading")

        a.get_by_role("textbox", name="Reply").press_sequentially("I think we shou", delay=20)
        expect(b.locator("#typing")).to_have_text("Maria Lopez is replying…")
        expect(a.locator("#typing")).to_have_text("")  # not told about herself

        a.close()
        expect(b.locator("#typing")).to_have_text("")
        expect(presence).to_be_hidden()
        assert_not_reloaded(b)
        assert not errors, errors


def test_board_page_banner_rows_and_moderator_report_count_update_live(transactional_db):
    from playwright.sync_api import expect

    author, maria, james, board, thread = _world()
    moderator = make_member("boardmod", display_name="Board Mod")
    board.moderators.set([moderator])
    first_post = thread.posts.get(number=1)
    new_thread_url = reverse("forum:new_thread", args=[board.slug])
    report_url = reverse("moderation:report", args=[first_post.pk])
    lock_url = reverse("moderation:thread_lock", args=[thread.pk])
    hide_url = reverse("moderation:thread_hide", args=[thread.pk])
    jars = {"mod": session_cookie(moderator), "james": session_cookie(james)}
    streams = [f"board:{board.pk}"]

    with start_servers(1, env=SERVER_ENV) as [server]:
        maria_http, james_http = HttpMember(server, maria), HttpMember(server, james)
        mod_http = HttpMember(server, moderator)
        with chromium() as browser:
            page = signed_in_context(browser, server, jars["mod"]).new_page()
            errors = watch_errors(page)
            open_live(page, server.url + board.get_absolute_url(), [*streams, "mod:all"])
            reader = signed_in_context(browser, server, jars["james"]).new_page()
            open_live(reader, server.url + board.get_absolute_url(), streams)
            banner = page.locator("#board-new-threads")
            expect(banner).to_be_hidden()
            expect(page.locator("#mod-report-count")).to_have_text("")

            code, _ = maria_http.post_form(
                new_thread_url, {"title": "Apprenticeship grants", "body": "Who applied?"}
            )
            assert code == 302, code
            expect(banner).to_be_visible()
            expect(banner).to_contain_text("1 new thread")

            code, _ = james_http.post_form(report_url, {"reason": "spam", "text": ""})
            assert code == 302, code
            expect(page.locator("#mod-report-count")).to_have_text("1")

            # Lock and hide reach the rows: marked for the moderator, gone for the member.
            row = f'tr.thread-row[data-thread-id="{thread.pk}"]'
            assert mod_http.post_form(lock_url, {"reason": ""})[0] == 302
            expect(page.locator(row).locator("span.tag", has_text="Locked")).to_be_visible()
            expect(reader.locator(row).locator("span.tag", has_text="Locked")).to_be_visible()
            assert mod_http.post_form(hide_url, {"reason": "Duplicate"})[0] == 302
            expect(page.locator(row).locator("span.tag", has_text="Hidden")).to_be_visible()
            expect(reader.locator(row)).to_have_count(0)
            assert_not_reloaded(page)
            assert_not_reloaded(reader)
            assert not errors, errors


def test_pin_rename_and_move_update_the_header_and_end_the_subscription(transactional_db):
    from playwright.sync_api import expect

    _, maria, james, board, thread = _world()
    staff = make_staff("chair", display_name="Chair Person")
    private = make_board("Officers only", visibility=Visibility.GROUPS, groups=[make_group("o")])
    url = thread.get_absolute_url() + "?page=1"
    pin_url = reverse("moderation:thread_pin", args=[thread.pk])
    rename_url = reverse("moderation:thread_rename", args=[thread.pk])
    move_url = reverse("moderation:thread_move", args=[thread.pk])
    jar = session_cookie(james)

    with start_servers(1, env=SERVER_ENV) as [server]:
        staff_http = HttpMember(server, staff)  # signs in through the database: before chromium
        with chromium() as browser:
            b = signed_in_context(browser, server, jar).new_page()
            errors = watch_errors(b)
            open_live(b, server.url + url, [f"thread:{thread.pk}"])

            assert staff_http.post_form(pin_url, {"reason": ""})[0] == 302
            expect(b.locator("#flag-pinned")).to_be_visible()

            code, _ = staff_http.post_form(rename_url, {"title": "Agendas for 2027", "reason": ""})
            assert code == 302, code
            expect(b.locator("#thread-title")).to_have_text("Agendas for 2027")
            expect(b).to_have_title(re.compile("^Agendas for 2027"))

            code, _ = staff_http.post_form(move_url, {"board": str(private.pk), "reason": ""})
            assert code == 302, code
            # James may not see the new board: the server ends the subscription, the page says so
            # and the reply box closes.
            expect(b.locator("#live-notice")).to_contain_text("no longer available")
            expect(b.locator("#reply-form textarea")).to_be_disabled()
            state = b.evaluate(f"() => window.CarocpLive.streams['thread:{thread.pk}'].dead")
            assert state is True
            assert_not_reloaded(b)
            assert not errors, errors


def test_signing_out_in_another_tab_ends_live_updates_without_reconnecting(transactional_db):
    from playwright.sync_api import expect

    _, _, james, _, thread = _world()
    url = thread.get_absolute_url() + "?page=1"
    jar = session_cookie(james)

    with start_servers(1, env=SERVER_ENV) as [server], chromium() as browser:
        context = signed_in_context(browser, server, jar)
        b = context.new_page()
        errors = watch_errors(b)
        opened: list[str] = []
        b.on("websocket", lambda ws: opened.append(ws.url))
        open_live(b, server.url + url, [f"thread:{thread.pk}", f"inbox:{james.pk}"])
        assert len(opened) == 1

        other_tab = context.new_page()
        other_tab.goto(server.url + "/")
        other_tab.locator(".profile-menu summary").click()
        with other_tab.expect_navigation():
            other_tab.get_by_role("button", name="Sign out").click()

        # The server closes B's socket with 4001; the client says so and stays closed.
        status = b.locator("#live-status")
        expect(status).to_contain_text("your session ended")
        assert b.evaluate("() => window.CarocpLive.isStopped()")
        assert not b.evaluate("() => window.CarocpLive.isOpen()")
        b.wait_for_timeout(2500)  # longer than the first reconnect delay (0.5-1 s)
        assert len(opened) == 1, opened
        assert_not_reloaded(b)
        assert not errors, errors


@pytest.mark.redis
def test_redis_down_shows_paused_banner_and_page_catches_up_when_it_returns(transactional_db):
    """Issue 4 point 6 in a browser: with Redis stopped, posting still works and the page says
    live updates are paused; when Redis returns the banner goes and the reply shows."""
    from playwright.sync_api import expect

    _, maria, james, _, thread = _world()
    url = thread.get_absolute_url() + "?page=1"
    jar = session_cookie(james)

    with (
        private_redis() as redis,
        start_servers(1, redis_url=redis.url, env=SERVER_ENV) as [server],
    ):
        maria_http = HttpMember(server, maria)  # signs in through the database: before chromium
        with chromium() as browser:
            b = signed_in_context(browser, server, jar).new_page()
            errors = watch_errors(b)
            open_live(b, server.url + url, [f"thread:{thread.pk}"])
            status = b.locator("#live-status")
            expect(status).to_be_hidden()

            redis.stop()
            expect(status).to_have_text("Live updates paused — reconnecting…", timeout=15_000)
            code, _ = maria_http.reply(thread.pk, "Posted while Redis was down.")
            assert code == 302, code

            redis.start()
            expect(b.locator("#posts article.post", has_text="while Redis was down")).to_have_count(
                1, timeout=15_000
            )
            expect(status).to_be_hidden(timeout=15_000)
            assert_not_reloaded(b)
            assert not errors, errors


def test_reply_posted_between_page_render_and_socket_open_is_caught_up(transactional_db):
    """The page-load gap: the thread page is rendered, then (before live.js has even loaded)
    a reply is posted. The first subscribe asks for the page-load window (since_ms), so the
    reply still appears, once."""
    from playwright.sync_api import expect

    _, maria, james, _, thread = _world()
    url = thread.get_absolute_url() + "?page=1"
    jar = session_cookie(james)

    with start_servers(1, env=SERVER_ENV) as [server]:
        maria_http = HttpMember(server, maria)  # signs in through the database: before chromium
        with chromium() as browser:
            b = signed_in_context(browser, server, jar).new_page()
            errors = watch_errors(b)
            posted: list[int] = []

            def reply_before_live_js(route) -> None:
                # The HTML is already in the browser; post before the socket exists.
                posted.append(maria_http.reply(thread.pk, "Posted while the page loaded.")[0])
                route.continue_()

            b.route("**/static/js/live.js*", reply_before_live_js)
            open_live(b, server.url + url, [f"thread:{thread.pk}"])
            assert posted == [302], posted
            expect(
                b.locator("#posts article.post", has_text="while the page loaded")
            ).to_have_count(1)
            assert post_texts(b)[-1] == "Posted while the page loaded."
            assert not errors, errors


# Installed before any page script: every title and live notice the page shows, in order.
RECORD_HEADER_JS = """
window.__titles = []; window.__notices = [];
new MutationObserver(() => {
  const title = document.getElementById('thread-title');
  const notice = document.getElementById('live-notice');
  const t = title ? title.textContent : null;
  if (t !== null && window.__titles[window.__titles.length - 1] !== t) window.__titles.push(t);
  if (notice && !notice.hidden && notice.textContent) window.__notices.push(notice.textContent);
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""


def test_page_loaded_right_after_moderator_actions_does_not_replay_them(transactional_db):
    """The page-load window (since_ms covers 1.5 s before navigation) holds events the page's
    HTML already shows: two renames and a move made just before loading must not flash the old
    titles, nor claim that the thread was moved."""
    from playwright.sync_api import expect

    _, _, james, _, thread = _world()
    elsewhere = make_board("Dual enrollment")
    url = thread.get_absolute_url() + "?page=1"
    rename_url = reverse("moderation:thread_rename", args=[thread.pk])
    move_url = reverse("moderation:thread_move", args=[thread.pk])
    staff = make_staff("chair", display_name="Chair Person")
    jar = session_cookie(james)

    with start_servers(1, env=SERVER_ENV) as [server]:
        staff_http = HttpMember(server, staff)  # signs in through the database: before chromium
        with chromium() as browser:
            b = signed_in_context(browser, server, jar).new_page()
            errors = watch_errors(b)
            b.add_init_script(RECORD_HEADER_JS)
            b.goto(server.url + "/")  # the browser is warm: the thread page loads at once

            for title in ("Agendas, first rename", "Agendas, second rename"):
                code, _ = staff_http.post_form(rename_url, {"title": title, "reason": ""})
                assert code == 302, code
            code, _ = staff_http.post_form(move_url, {"board": str(elsewhere.pk), "reason": ""})
            assert code == 302, code
            open_live(b, server.url + url, [f"thread:{thread.pk}"])
            stream = b.evaluate(f"() => window.CarocpLive.streams['thread:{thread.pk}']")
            assert stream["lastId"] >= 3, stream  # the page-load window held the three events

            expect(b.locator("#thread-title")).to_have_text("Agendas, second rename")
            b.wait_for_timeout(300)  # anything still being applied would show by now
            assert b.evaluate("() => window.__titles") == ["Agendas, second rename"]
            assert b.evaluate("() => window.__notices") == []
            expect(b.locator("#live-notice")).to_have_count(0)
            assert not errors, errors
