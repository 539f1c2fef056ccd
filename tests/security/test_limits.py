"""Rate limits and anti-spam (issue 5 point 7, issue 7 point 7): enforced in actions."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from forum import actions, limits
from forum.limits import RateLimited
from forum.models import Post, Thread
from tests.conftest import client_for, make_board, make_member, make_staff, make_thread

pytestmark = pytest.mark.django_db


def _established(username: str | None = None):
    member = make_member(username)
    member.date_joined = timezone.now() - timedelta(days=30)
    member.post_count = 50
    member.save(update_fields=["date_joined", "post_count"])
    return member


def _seconds(message: str) -> int:
    match = re.search(r"again in (\d+) second", message)
    assert match, message
    return int(match.group(1))


def test_wait_text_rounds_up_and_pluralizes():
    assert limits.wait_text(1) == "1 second"
    assert limits.wait_text(42) == "42 seconds"
    assert limits.wait_text(61) == "2 minutes"
    assert limits.wait_text(3600) == "1 hour"
    assert limits.wait_text(3601) == "2 hours"


def test_hit_refuses_over_limit_until_window_ends(clock):
    limit = limits.Limit(2, 60)
    assert limits.hit("t", "x", limit) == 0
    assert limits.hit("t", "x", limit) == 0
    assert limits.hit("t", "x", limit) == 30  # the clock is 30 s into the minute
    assert limits.hit("t", "other", limit) == 0
    clock.advance(30)
    assert limits.hit("t", "x", limit) == 0


def test_reply_to_thread_new_member_refused_with_time_to_retry(limits_on, clock):
    board = make_board()
    thread = make_thread(board, _established())
    newcomer = make_member()
    for n in range(3):
        actions.reply_to_thread(newcomer, thread, body=f"Reply number {n}")
    with pytest.raises(RateLimited) as refused:
        actions.reply_to_thread(newcomer, thread, body="One more reply")
    assert "You can post again in 30 seconds." in refused.value.message
    assert refused.value.retry_after == 30
    assert Post.objects.filter(author=newcomer).count() == 3
    clock.advance(30)
    actions.reply_to_thread(newcomer, thread, body="After the wait")


def test_reply_to_thread_established_member_gets_more_room(limits_on, clock):
    thread = make_thread(make_board(), _established())
    regular = _established()
    for n in range(6):
        actions.reply_to_thread(regular, thread, body=f"Reply number {n}")
    with pytest.raises(RateLimited, match="You can post again in"):
        actions.reply_to_thread(regular, thread, body="Seventh reply")


def test_create_thread_new_member_limited_per_day(limits_on, clock):
    board = make_board()
    newcomer = make_member()
    for n in range(3):
        actions.create_thread(newcomer, board, title=f"Question {n}", body=f"Body {n}")
        clock.advance(61)  # stay under the per-minute posting limit
    with pytest.raises(RateLimited) as refused:
        actions.create_thread(newcomer, board, title="Question 4", body="Body 4")
    assert "start another thread in" in refused.value.message
    assert "new members" in refused.value.message
    assert Thread.objects.filter(author=newcomer).count() == 3


def test_create_thread_member_with_posts_but_joined_today_is_still_new(limits_on, clock):
    member = make_member()
    member.post_count = 100
    member.save(update_fields=["post_count"])
    assert limits.is_new_member(member)


def test_reply_to_thread_new_member_too_many_links_refused(limits_on, clock):
    thread = make_thread(make_board(), _established())
    newcomer = make_member()
    body = "See https://a.example and [b](https://b.example) and ![c](https://c.example/x.png)"
    too_many = r"at most 2 links or images in a post \(this one has 3\)"
    with pytest.raises(RateLimited, match=too_many):
        actions.reply_to_thread(newcomer, thread, body=body)
    # mentions and two links are fine
    actions.reply_to_thread(newcomer, thread, body="@someone https://a.example https://b.example")
    # an established member may post many
    actions.reply_to_thread(_established(), thread, body=body)


def test_reply_to_thread_same_text_in_another_thread_refused(
    limits_on, clock, django_capture_on_commit_callbacks
):
    board = make_board()
    author = _established()
    first, second = make_thread(board, author), make_thread(board, author, title="Another one")
    spammer = _established()
    text = "Buy cheap certificates at our shop, best prices in California!"
    with django_capture_on_commit_callbacks(execute=True):
        actions.reply_to_thread(spammer, first, body=text)
    with pytest.raises(RateLimited, match="already posted this same text") as refused:
        actions.reply_to_thread(
            spammer,
            second,
            body="  BUY cheap certificates at our shop -- best prices in california ",
        )
    assert "post it again in 24 hours" in refused.value.message
    with pytest.raises(RateLimited, match="already posted this same text"):
        actions.create_thread(spammer, board, title="Great deal", body=text)
    # someone else may say the same thing, and short replies may repeat
    with django_capture_on_commit_callbacks(execute=True):
        actions.reply_to_thread(_established(), second, body=text)
        actions.reply_to_thread(spammer, second, body="Thanks!")
        actions.reply_to_thread(spammer, first, body="Thanks!")
    clock.advance(24 * 3600)
    actions.reply_to_thread(spammer, second, body=text)


def test_reply_to_thread_rolled_back_text_may_be_posted_again(
    limits_on, clock, django_capture_on_commit_callbacks
):
    thread = make_thread(make_board(), _established())
    member = _established()
    text = "A long enough reply that is rolled back by the caller."
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            actions.reply_to_thread(member, thread, body=text)
            raise RuntimeError("rolled back")
        actions.reply_to_thread(member, thread, body=text)
    with pytest.raises(RateLimited, match="already posted"):
        actions.reply_to_thread(member, thread, body=text)


def test_check_new_content_moderators_and_staff_exempt(limits_on, clock):
    board = make_board()
    moderator = make_member()
    board.moderators.add(moderator)
    staff = make_staff()
    thread = make_thread(board, staff)
    for who in (moderator, staff):
        for n in range(8):
            actions.reply_to_thread(
                who,
                thread,
                body=f"Announcement {n} https://a.example https://b.example https://c.example",
            )


def test_edit_post_limited_per_minute(limits_on, clock):
    member = _established()
    thread = make_thread(make_board(), member)
    post = thread.posts.get(number=1)
    for n in range(12):
        actions.edit_post(member, post, body=f"Edited body {n}")
    with pytest.raises(RateLimited, match="You can edit again in 30 seconds"):
        actions.edit_post(member, post, body="Edited once more")


def test_react_limited_per_minute(limits_on, clock):
    from forum.models import ReactionKind

    board = make_board()
    posts = []
    for _ in range(2):
        author = _established()
        thread = make_thread(board, author)
        posts += [thread.posts.get(number=1)]
        posts += [actions.reply_to_thread(author, thread, body=f"Post {n}").post for n in range(4)]
    fan = _established()
    done = 0
    with pytest.raises(RateLimited, match="You can react again in 30 seconds"):
        for post in posts:
            for kind in ReactionKind.values:
                actions.react(fan, post, kind)
                done += 1
    assert done == 30


def test_react_view_answers_429_with_message(limits_on, clock, settings):
    settings.FORUM = {
        **settings.FORUM,
        "RATE_LIMITS": {**settings.FORUM["RATE_LIMITS"], "react": (1, 60)},
    }
    author = _established()
    thread = make_thread(make_board(), author)
    post = thread.posts.get(number=1)
    client = client_for(_established())
    from forum.models import ReactionKind

    first, second = list(ReactionKind.values)[:2]
    ok = client.post(f"/p/{post.pk}/react/", {"kind": first}, HTTP_ACCEPT="application/json")
    assert ok.status_code == 200
    refused = client.post(f"/p/{post.pk}/react/", {"kind": second}, HTTP_ACCEPT="application/json")
    assert refused.status_code == 429
    assert "You can react again in 30 seconds." in refused.json()["error"]


def test_reply_view_keeps_typed_text_and_says_when(limits_on, clock, settings):
    settings.FORUM = {
        **settings.FORUM,
        "RATE_LIMITS": {**settings.FORUM["RATE_LIMITS"], "post_new": (1, 60)},
    }
    thread = make_thread(make_board(), _established())
    client = client_for(make_member())
    url = f"/t/{thread.pk}/reply/"
    assert client.post(url, {"body": "My first reply here"}).status_code == 302
    response = client.post(url, {"body": "My carefully typed second reply"})
    assert response.status_code == 429
    html = response.content.decode()
    assert "You can post again in 30 seconds." in html
    assert "My carefully typed second reply" in html


def test_check_rate_report_and_upload_say_when(limits_on, clock):
    member = _established()
    for action, count in (("report", 10), ("upload", 30)):
        for _ in range(count):
            limits.check_rate(member, action)
        with pytest.raises(RateLimited, match=r"You can (report|upload) again in \d+ minutes"):
            limits.check_rate(member, action)


def test_preview_rate_limited_with_429(limits_on, clock, settings):
    settings.FORUM = {
        **settings.FORUM,
        "RATE_LIMITS": {**settings.FORUM["RATE_LIMITS"], "preview": (2, 60)},
    }
    client = client_for(_established())
    for _ in range(2):
        assert client.post("/markdownx/markdownify/", {"content": "*hi*"}).status_code == 200
    refused = client.post("/markdownx/markdownify/", {"content": "*hi*"})
    assert refused.status_code == 429
    assert refused["Retry-After"] == "30"
    assert "You can preview again in 30 seconds." in refused.content.decode()


def test_reply_to_thread_fails_open_when_cache_down(limits_on, cache_down, caplog):
    thread = make_thread(make_board(), _established())
    newcomer = make_member()
    with caplog.at_level(logging.WARNING, logger="forum.limits"):
        for n in range(5):  # over the new-member limit, but the limiter is down
            actions.reply_to_thread(newcomer, thread, body=f"Reply while Redis is down {n}")
    assert Post.objects.filter(author=newcomer).count() == 5
    assert "not enforced: cache unavailable" in caplog.text


def test_reading_pages_works_when_cache_down(cache_down):
    board = make_board()
    thread = make_thread(board, _established())
    member = make_member()
    for client in (client_for(), client_for(member)):
        assert client.get("/").status_code == 200
        assert client.get(f"/b/{board.slug}/").status_code == 200
        assert client.get(thread.get_absolute_url()).status_code == 200


def test_client_address_uses_proxy_hops(rf, settings):
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert limits.client_address(request) == "10.0.0.1"
    settings.FORUM = {**settings.FORUM, "PROXY_HOPS": 1}
    # the client forged 6.6.6.6; the proxy appended the real address
    assert limits.client_address(request) == "203.0.113.9"


def test_check_rate_fails_open_for_every_action_when_cache_down(limits_on, cache_down, caplog):
    member = _established()
    with caplog.at_level(logging.WARNING, logger="forum.limits"):
        for action in ("react", "report", "upload", "preview", "edit"):
            for _ in range(limits.limit_for(action).count + 1):
                limits.check_rate(member, action)
    assert caplog.text.count("not enforced: cache unavailable") >= 5
