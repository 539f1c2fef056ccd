"""Moderation bugs found by a QA pass: each test fails without its fix."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from forum import moderation
from forum.models import ModerationAction
from tests.conftest import client_for
from tests.forum.test_moderation_actions import make_world, refreshed

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------- 1. dates far ahead


@pytest.mark.parametrize("name", ["member_suspend", "member_silence"])
@pytest.mark.parametrize("day", ["9999-12-31", "2300-01-01"])
def test_until_far_ahead_is_refused_with_a_message_not_a_500(name, day):
    w = make_world()
    response = client_for(w.mod_a).post(
        reverse(f"moderation:{name}", args=[w.member.username]),
        {"until": day, "reason": "Far away"},
    )
    assert response.status_code == 400
    html = _html(response)
    assert "within the next 100 years" in html
    assert f'value="{day}"' in html and 'value="Far away"' in html
    member = refreshed(w.member)
    assert not member.is_suspended and not member.is_silenced
    assert not ModerationAction.objects.exists()


def test_until_within_a_hundred_years_is_accepted():
    w = make_world()
    day = (timezone.localdate() + timedelta(days=365 * 99)).isoformat()
    response = client_for(w.mod_a).post(
        reverse("moderation:member_suspend", args=[w.member.username]),
        {"until": day, "reason": "Long"},
    )
    assert response.status_code == 302
    assert refreshed(w.member).is_suspended


def test_suspend_member_refuses_an_until_the_database_cannot_hold():
    w = make_world()
    far = timezone.make_aware(timezone.datetime(9999, 12, 31, 23, 59, 59))
    for action in (moderation.suspend_member, moderation.silence_member):
        with pytest.raises(ValidationError, match="within the next 100 years"):
            action(w.mod_a, w.member, until=far, reason="x")
    assert not ModerationAction.objects.exists()


def test_log_date_filter_out_of_range_shows_an_error_not_a_500():
    w = make_world()
    moderation.lock_thread(w.mod_a, w.thread)
    response = client_for(w.mod_a).get(reverse("moderation:log"), {"date_to": "9999-12-31"})
    assert response.status_code in (200, 400)  # 400 since fix 8 (an invalid filter)
    html = _html(response)
    assert "That date is out of range." in html and 'value="9999-12-31"' in html


# ---------------------------------------------------------------- 2. title edited from the queue


def test_edit_from_report_queue_saves_and_logs_the_title_of_post_one():
    w = make_world()
    first = w.thread.posts.get(number=1)
    moderation.report_post(w.member, first, reason="spam")
    url = reverse("moderation:post_edit", args=[first.pk]) + "?resolve=1"
    client = client_for(w.mod_a)
    assert 'name="title"' in _html(client.get(url))
    response = client.post(
        url, {"title": "Welding pathway grants", "body": "Cleaned up.", "reason": "Spam link"}
    )
    assert response.status_code == 302
    thread = refreshed(w.thread)
    assert thread.title == "Welding pathway grants"
    assert refreshed(first).body == "Cleaned up."
    assert first.revisions.get().title == "Welding pathway funding"  # the old title, kept
    assert ModerationAction.objects.filter(action="edit_post", post=first).exists()
    assert ModerationAction.objects.get(action="resolve_reports").after["resolution"] == "edit"
    assert not first.reports.filter(resolved_at__isnull=True).exists()


# ---------------------------------------------------------------- 3. split from a hidden reply


@pytest.mark.parametrize("state", ["hidden", "deleted"])
def test_split_refuses_a_hidden_or_deleted_first_post(state):
    w = make_world()
    chosen = w.replies[1]  # post #3
    if state == "hidden":
        moderation.hide_post(w.mod_a, chosen, reason="Spam")
    else:
        moderation.delete_post(w.mod_a, chosen)
    url = reverse("moderation:thread_split", args=[w.thread.pk])
    client = client_for(w.mod_a)
    response = client.post(
        url, {"title": "New thread from replies", "posts": [chosen.pk, w.replies[2].pk]}
    )
    assert response.status_code == 400
    html = _html(response)
    assert f"Reply #3 is {state}, so it cannot start the new thread" in html
    assert 'value="New thread from replies"' in html
    assert refreshed(chosen).thread_id == w.thread.pk
    assert not ModerationAction.objects.filter(action="split_thread").exists()
    # The split page marks it, so the moderator sees why.
    page = _html(client.get(url))
    assert f'data-split-state="{state}"' in page
    # Starting from a visible reply, the hidden one may still move along.
    response = client.post(
        url, {"title": "New thread from replies", "posts": [chosen.pk, w.replies[0].pk]}
    )
    assert response.status_code == 302
    assert refreshed(chosen).thread_id != w.thread.pk
