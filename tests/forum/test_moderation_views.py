"""Moderator pages: reports and the queue, tools on thread pages, the log, member pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from forum import moderation
from forum.models import ModerationAction, Report
from tests.conftest import client_for, make_member, make_reply, make_thread
from tests.forum.test_moderation_actions import established, make_world, refreshed

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- reporting


def test_report_view_records_report_and_refuses_second():
    w = make_world()
    post = w.replies[1]
    client = client_for(w.member)
    url = reverse("moderation:report", args=[post.pk])
    page = client.get(url)
    assert page.status_code == 200 and "Spam" in page.content.decode()
    response = client.post(url, {"reason": "spam", "text": "Selling things"})
    assert response.status_code == 302
    report = Report.objects.get()
    assert (report.reporter, report.reason, report.text) == (w.member, "spam", "Selling things")
    again = client.post(url, {"reason": "off_topic"})
    assert again.status_code == 400
    assert "already reported" in again.content.decode()
    assert Report.objects.count() == 1
    assert "already reported" in client.get(url).content.decode()


def test_report_view_other_without_text_keeps_choice():
    w = make_world()
    url = reverse("moderation:report", args=[w.replies[1].pk])
    response = client_for(w.member).post(url, {"reason": "other", "text": ""})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Tell the moderators what is wrong" in html
    assert re.search(r'value="other"[^>]*checked', html)
    assert not Report.objects.exists()


def test_report_link_shown_to_members_not_author():
    w = make_world()
    url = reverse("moderation:report", args=[w.replies[1].pk])
    member_page = client_for(w.member).get(w.thread.get_absolute_url() + "?page=1")
    assert url in member_page.content.decode()


# ---------------------------------------------------------------- queue


def test_queue_one_item_per_post_oldest_first_with_reasons():
    w = make_world()
    older, newer = w.replies[1], w.replies[0]
    moderation.report_post(w.member, older, reason="spam")
    moderation.report_post(w.mod_b, older, reason="harassment", text="Rude to a student")
    moderation.report_post(w.author, newer, reason="off_topic")
    Report.objects.filter(post=newer).update(created_at=timezone.now() + timedelta(minutes=5))
    html = client_for(w.mod_a).get(reverse("moderation:queue")).content.decode()
    assert html.count('class="mod-item') == 2
    assert html.index(f"report-item-{older.pk}") < html.index(f"report-item-{newer.pk}")
    assert "2 reports" in html and "Harassment or abuse" in html and "Spam" in html
    assert "Rude to a student" in html and w.thread.title in html
    assert f'href="/p/{older.pk}/"' in html and "Reply 2 body" in html


def test_queue_shows_only_moderated_boards():
    w = make_world()
    moderation.report_post(w.member, w.replies[1], reason="spam")
    html = client_for(w.mod_b).get(reverse("moderation:queue")).content.decode()
    assert "No open reports" in html


def test_queue_query_count_is_flat():
    w = make_world()
    client = client_for(w.mod_a)

    def queries_for_queue() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("moderation:queue")).status_code == 200
        return len(ctx.captured_queries)

    moderation.report_post(w.member, w.replies[1], reason="spam")
    queries_for_queue()  # the first request of a visit also records the visit
    few = queries_for_queue()
    for i in range(4):
        post = make_reply(w.other_thread, w.author, f"More {i}")
        moderation.report_post(w.member, post, reason="spam")
        moderation.report_post(w.mod_b, post, reason="off_topic")
    assert queries_for_queue() == few


def test_resolve_view_dismiss_closes_reports():
    w = make_world()
    moderation.report_post(w.member, w.replies[1], reason="spam")
    response = client_for(w.mod_a).post(
        reverse("moderation:resolve", args=[w.replies[1].pk]), {"resolution": "dismiss"}
    )
    assert response.status_code == 302 and response["Location"] == reverse("moderation:queue")
    assert Report.objects.get().resolution == "dismiss"


def test_resolve_view_hide_without_reason_explains():
    w = make_world()
    moderation.report_post(w.member, w.replies[1], reason="spam")
    response = client_for(w.mod_a).post(
        reverse("moderation:resolve", args=[w.replies[1].pk]), {"resolution": "hide"}
    )
    assert response.status_code == 400 and "Give a reason" in response.content.decode()
    assert Report.objects.get().resolved_at is None


def test_resolve_view_edit_goes_through_editor_and_closes_reports():
    w = make_world()
    post = w.replies[1]
    moderation.report_post(w.member, post, reason="spam")
    client = client_for(w.mod_a)
    response = client.post(reverse("moderation:resolve", args=[post.pk]), {"resolution": "edit"})
    assert response.status_code == 302 and "resolve=1" in response["Location"]
    response = client.post(response["Location"], {"body": "Tidied", "reason": "Removed link"})
    assert response.status_code == 302
    assert refreshed(post).body == "Tidied"
    assert Report.objects.get().resolution == "edit"


def test_header_shows_open_report_count_to_moderators_only():
    w = make_world()
    for reporter in established(2):
        moderation.report_post(reporter, w.replies[1], reason="spam")
    moderation.report_post(w.member, w.replies[3], reason="spam")
    html = client_for(w.mod_a).get("/").content.decode()
    assert 'id="mod-report-count" data-count="2"' in html
    html = client_for(w.mod_b).get("/").content.decode()
    assert 'id="mod-report-count" data-count="0"' in html
    assert "mod-report-count" not in client_for(w.member).get("/").content.decode()


# ---------------------------------------------------------------- tools on pages


def test_thread_tools_shown_only_to_its_moderators():
    w = make_world()
    url = w.thread.get_absolute_url() + "?page=1"
    lock = reverse("moderation:thread_lock", args=[w.thread.pk])
    hide = reverse("moderation:post_hide", args=[w.replies[1].pk])
    for user in (w.mod_a, w.staff):
        html = client_for(user).get(url).content.decode()
        assert lock in html and hide in html
    for user in (w.member, w.mod_b, None):
        html = client_for(user).get(url).content.decode()
        assert lock not in html and hide not in html
    purge = reverse("moderation:thread_purge", args=[w.thread.pk])
    assert purge in client_for(w.staff).get(url).content.decode()
    assert purge not in client_for(w.mod_a).get(url).content.decode()


def test_lock_via_form_shows_locked_notice_to_members():
    w = make_world()
    response = client_for(w.mod_a).post(
        reverse("moderation:thread_lock", args=[w.thread.pk]),
        {"next": w.thread.get_absolute_url()},
    )
    assert response.status_code == 302 and response["Location"] == w.thread.get_absolute_url()
    html = client_for(w.member).get(w.thread.get_absolute_url() + "?page=1").content.decode()
    assert "This thread is locked: no new replies." in html
    assert 'id="reply-form"' not in html


def test_hide_post_form_without_reason_keeps_page_and_explains():
    w = make_world()
    response = client_for(w.mod_a).post(
        reverse("moderation:post_hide", args=[w.replies[1].pk]), {"reason": ""}
    )
    assert response.status_code == 400
    assert "Give a reason" in response.content.decode()
    assert refreshed(w.replies[1]).is_visible


def test_move_page_lists_only_moderated_boards():
    w = make_world()
    html = (
        client_for(w.mod_a)
        .get(reverse("moderation:thread_move", args=[w.thread.pk]))
        .content.decode()
    )
    assert "Board C" in html and "Board B" not in html


def test_merge_with_bad_target_keeps_form_with_message():
    w = make_world()
    url = reverse("moderation:thread_merge", args=[w.thread.pk])
    response = client_for(w.mod_a).post(url, {"target": "the other one", "reason": "dup"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Give a thread number" in html and 'value="the other one"' in html
    response = client_for(w.mod_a).post(url, {"target": "999999"})
    assert response.status_code == 400 and "no such thread" in response.content.decode()


def test_merge_view_accepts_thread_address():
    w = make_world()
    url = reverse("moderation:thread_merge", args=[w.other_thread.pk])
    response = client_for(w.mod_a).post(
        url, {"target": "https://x.example" + w.thread.get_absolute_url()}
    )
    assert response.status_code == 302
    assert refreshed(w.other_thread).merged_into_id == w.thread.pk


def test_split_page_lists_replies_and_requires_choice():
    w = make_world()
    url = reverse("moderation:thread_split", args=[w.thread.pk])
    client = client_for(w.mod_a)
    html = client.get(url).content.decode()
    assert f'value="{w.replies[2].pk}"' in html
    response = client.post(url, {"title": "Split thread title"})
    assert response.status_code == 400 and 'value="Split thread title"' in response.content.decode()


def test_purge_view_wrong_title_refused_then_confirmed():
    w = make_world()
    url = reverse("moderation:thread_purge", args=[w.thread.pk])
    client = client_for(w.staff)
    assert client.get(url).status_code == 200
    assert client.post(url, {"confirm_title": "nope"}).status_code == 400
    response = client.post(url, {"confirm_title": w.thread.title})
    assert response.status_code == 302 and response["Location"] == w.board_a.get_absolute_url()


# ---------------------------------------------------------------- members


def test_member_page_shows_posts_reports_and_history():
    w = make_world()
    moderation.hide_post(w.mod_a, w.replies[1], reason="Rude")
    moderation.report_post(w.member, w.replies[3], reason="spam")
    moderation.report_post(w.author, w.other_thread.posts.get(number=1), reason="off_topic")
    html = (
        client_for(w.mod_a)
        .get(reverse("moderation:member", args=[w.author.username]))
        .content.decode()
    )
    assert "Reply 2 body" in html and "Hidden" in html  # hidden post listed, marked
    assert "Reports on their posts" in html and "Spam by" in html
    assert "Off-topic on" in html  # a report they made
    assert "hide post" in html and "Rude" in html  # history
    assert reverse("moderation:member_suspend", args=[w.author.username]) in html


def test_member_page_links_pending_signups_for_staff():
    w = make_world()
    pending = make_member(approved=False)
    url = reverse("moderation:member", args=[pending.username])
    assert reverse("members:pending") in client_for(w.staff).get(url).content.decode()
    assert "staff approve sign-ups" in client_for(w.mod_a).get(url).content.decode()


def test_suspend_view_indefinitely_shows_reason_to_member():
    w = make_world()
    response = client_for(w.mod_a).post(
        reverse("moderation:member_suspend", args=[w.member.username]),
        {"indefinitely": "on", "reason": "Advertising"},
    )
    assert response.status_code == 302
    html = client_for(w.member).get(w.thread.get_absolute_url() + "?page=1").content.decode()
    assert "Your account is suspended indefinitely. Reason: Advertising" in html


def test_suspend_view_without_date_keeps_reason():
    w = make_world()
    response = client_for(w.mod_a).post(
        reverse("moderation:member_suspend", args=[w.member.username]), {"reason": "Spam posts"}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose a date" in html and 'value="Spam posts"' in html
    assert not refreshed(w.member).is_suspended


def test_silence_view_sets_until_end_of_day():
    w = make_world()
    day = (timezone.localdate() + timedelta(days=2)).isoformat()
    response = client_for(w.mod_a).post(
        reverse("moderation:member_silence", args=[w.member.username]),
        {"until": day, "reason": "Cool down"},
    )
    assert response.status_code == 302
    member = refreshed(w.member)
    assert member.is_silenced and timezone.localtime(member.silenced_until).hour == 23


# ---------------------------------------------------------------- the log


def test_log_filters_by_moderator_member_board_action_and_date():
    w = make_world()
    moderation.lock_thread(w.mod_a, w.thread)
    thread_b = make_thread(w.board_b, w.member, title="Thread in board B")
    moderation.pin_thread(w.mod_b, thread_b)
    moderation.suspend_member(w.staff, w.member, until=None, reason="Spam")
    client = client_for(w.staff)
    url = reverse("moderation:log")

    def rows(**params) -> str:
        response = client.get(url, params)
        assert response.status_code == 200
        return response.content.decode()

    html = rows()
    assert all(f"<td>{a}</td>" in html for a in ("lock thread", "pin thread", "suspend member"))
    html = rows(moderator=w.mod_b.username)
    assert "<td>pin thread</td>" in html and "<td>lock thread</td>" not in html
    html = rows(member=w.member.username)
    assert "<td>suspend member</td>" in html and "<td>lock thread</td>" not in html
    html = rows(board=w.board_a.pk)
    assert "<td>lock thread</td>" in html and "<td>pin thread</td>" not in html
    html = rows(action="pin_thread")
    assert "<td>pin thread</td>" in html and "<td>lock thread</td>" not in html
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    assert "Nothing logged" in rows(date_from=tomorrow)
    assert "<td>lock thread</td>" in rows(date_to=tomorrow)
    # A board moderator sees their boards' entries and member-wide ones, not other boards'.
    html = client_for(w.mod_a).get(url).content.decode()
    assert "<td>lock thread</td>" in html and "<td>suspend member</td>" in html
    assert "<td>pin thread</td>" not in html


def test_log_is_paginated():
    w = make_world()
    for _ in range(18):
        moderation.pin_thread(w.mod_a, w.thread)
        moderation.unpin_thread(w.mod_a, w.thread)
    html = client_for(w.mod_a).get(reverse("moderation:log")).content.decode()
    assert "Page 1 of 2" in html
    assert html.count('id="log-') == 30
    assert client_for(w.mod_a).get(reverse("moderation:log"), {"page": 2}).status_code == 200


def test_log_undo_button_applies_inverse_and_marks_entry():
    w = make_world()
    moderation.lock_thread(w.mod_a, w.thread)
    moderation.merge_threads(w.mod_a, w.other_thread, w.thread)
    lock_entry = ModerationAction.objects.get(action="lock_thread")
    merge_entry = ModerationAction.objects.get(action="merge_threads")
    client = client_for(w.staff)
    html = client.get(reverse("moderation:log")).content.decode()
    assert f'data-undo="{lock_entry.pk}"' in html
    assert f'data-undo="{merge_entry.pk}"' not in html
    response = client.post(reverse("moderation:undo", args=[lock_entry.pk]))
    assert response.status_code == 302
    assert not refreshed(w.thread).is_locked
    lock_entry.refresh_from_db()
    assert lock_entry.undone_by_id == w.staff.pk
    assert ModerationAction.objects.filter(action="unlock_thread").exists()
    html = client.get(reverse("moderation:log")).content.decode()
    assert "undone by" in html
    response = client.post(reverse("moderation:undo", args=[lock_entry.pk]), follow=True)
    assert "already undone" in response.content.decode()


def test_log_shows_readable_before_and_after():
    w = make_world()
    moderation.move_thread(w.mod_a, w.thread, board=w.board_c)
    moderation.suspend_member(w.mod_a, w.member, until=None, reason="Spam")
    html = client_for(w.mod_a).get(reverse("moderation:log")).content.decode()
    assert "Board A → Board C" in html
    assert "– → indefinitely" in html
