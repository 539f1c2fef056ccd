"""Moderation bugs found by a QA pass: each test fails without its fix."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from forum import actions, moderation
from forum.models import ModerationAction, Notification
from tests.conftest import client_for, make_member
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
    assert response.status_code == 400  # an invalid filter
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


# ---------------------------------------------------------------- 4. actions that change nothing


def _counts() -> tuple[int, int]:
    return ModerationAction.objects.count(), Notification.objects.count()


def test_deleting_a_post_twice_is_refused_and_logs_once():
    w = make_world()
    url = reverse("moderation:post_delete", args=[w.replies[1].pk])
    client = client_for(w.mod_a)
    assert client.post(url, {"reason": "Spam"}).status_code == 302
    counts = _counts()
    again = client.post(url, {"reason": "Spam", "next": w.thread.get_absolute_url()})
    assert again.status_code == 400
    assert "This post is already deleted." in _html(again)
    assert _counts() == counts
    assert ModerationAction.objects.filter(action="delete_post").count() == 1


def test_deleting_a_thread_twice_is_refused_and_logs_once():
    w = make_world()
    url = reverse("moderation:thread_delete", args=[w.thread.pk])
    client = client_for(w.mod_a)
    assert client.post(url).status_code == 302
    counts = _counts()
    again = client.post(url)
    assert again.status_code == 400
    assert "This thread is already deleted." in _html(again)
    assert _counts() == counts


def test_moderator_cannot_delete_again_a_post_its_author_removed():
    w = make_world()
    actions.delete_own_post(w.author, w.replies[1])
    with pytest.raises(ValidationError, match="already deleted"):
        moderation.delete_post(w.mod_a, w.replies[1])
    assert refreshed(w.replies[1]).deleted_by_id == w.author.pk
    assert not ModerationAction.objects.exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("member_lift_suspension", "James is not suspended."),
        ("member_lift_silence", "James is not silenced."),
    ],
)
def test_lifting_what_is_not_in_effect_is_refused_without_log_or_notification(name, message):
    w = make_world()
    james = make_member("james", display_name="James")
    # An expired suspension and silence are not in effect either.
    past = timezone.now() - timedelta(days=1)
    type(james).objects.filter(pk=james.pk).update(suspended_until=past, silenced_until=past)
    counts = _counts()
    response = client_for(w.mod_a).post(reverse(f"moderation:{name}", args=["james"]), {})
    assert response.status_code == 400
    assert message in _html(response)
    assert _counts() == counts and not ModerationAction.objects.exists()


def test_pin_when_pinned_and_unpin_when_not_pinned_are_refused_alike():
    w = make_world()
    moderation.pin_thread(w.mod_a, w.thread)
    with pytest.raises(ValidationError, match="already pinned"):
        moderation.pin_thread(w.mod_a, w.thread)
    with pytest.raises(ValidationError, match="not pinned"):
        moderation.unpin_thread(w.mod_a, w.other_thread)
    assert ModerationAction.objects.count() == 1


def test_undo_of_something_reverted_since_marks_it_undone_without_a_new_entry():
    w = make_world()
    moderation.delete_post(w.mod_a, w.replies[1])
    entry = ModerationAction.objects.get(action="delete_post")
    moderation.restore_deleted_post(w.staff, w.replies[1])
    counts = _counts()
    moderation.undo_action(w.mod_a, entry)
    assert refreshed(entry).undone_at is not None
    assert _counts() == counts and not refreshed(w.replies[1]).is_deleted


def test_resolving_reports_on_a_deleted_post_with_delete_still_closes_them():
    w = make_world()
    moderation.report_post(w.member, w.replies[1], reason="spam")
    moderation.delete_post(w.mod_a, w.replies[1])
    assert moderation.resolve_report(w.mod_a, w.replies[1], resolution="delete") == 1
    assert ModerationAction.objects.filter(action="delete_post").count() == 1


# ---------------------------------------------------------------- 5. the log in Django admin


def test_moderation_log_is_read_only_in_admin():
    w = make_world()
    moderation.lock_thread(w.mod_a, w.thread, reason="Heated")
    entry = ModerationAction.objects.get()
    superuser = make_member("root", is_staff=True, is_superuser=True)
    for user in (superuser, w.staff):
        client = client_for(user)
        changelist = reverse("admin:forum_moderationaction_changelist")
        change = reverse("admin:forum_moderationaction_change", args=[entry.pk])
        assert client.get(changelist).status_code == 200
        page = client.get(change)
        assert page.status_code == 200 and "Heated" in _html(page)
        assert 'name="reason"' not in _html(page)  # shown, not editable
        assert client.get(reverse("admin:forum_moderationaction_add")).status_code == 403
        response = client.post(change, {"action": "pin_thread", "reason": "Rewritten"})
        assert response.status_code == 403
        delete = reverse("admin:forum_moderationaction_delete", args=[entry.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
        response = client.post(
            changelist, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
        )
        assert response.status_code in (200, 302)
        entry.refresh_from_db()
        assert (entry.action, entry.reason) == ("lock_thread", "Heated")
    assert client_for(w.mod_a).get(changelist).status_code == 302  # not staff: sign in


# ---------------------------------------------------------------- 6. two forms, one page


def _forms(html: str) -> dict[str, str]:
    """action URL -> the form's HTML."""
    return dict(re.findall(r'<form method="post" action="([^"]+)"(.*?)</form>', html, re.S))


def test_member_page_forms_have_their_own_ids_and_labels():
    w = make_world()
    html = _html(client_for(w.mod_a).get(reverse("moderation:member", args=[w.member.username])))
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    forms = _forms(html)
    for name, fields in (
        ("member_suspend", ["until", "indefinitely", "reason"]),
        ("member_silence", ["until", "reason"]),
    ):
        form = forms[reverse(f"moderation:{name}", args=[w.member.username])]
        # Every label points at a field of its own form, and the fields keep their order.
        for target in re.findall(r'<label for="([^"]+)"', form):
            assert f'id="{target}"' in form, (name, target)
        names = re.findall(r'<(?:input|textarea|select)[^>]*\bname="(\w+)"', form)
        assert [n for n in names if n != "csrfmiddlewaretoken"] == fields


# ---------------------------------------------------------------- 7. no undo once purged


def test_log_offers_no_undo_for_entries_of_a_purged_thread():
    w = make_world()
    moderation.lock_thread(w.mod_a, w.thread)
    moderation.hide_post(w.mod_a, w.replies[1], reason="Spam")
    moderation.lock_thread(w.mod_a, w.other_thread)
    gone = list(ModerationAction.objects.order_by("pk").values_list("pk", flat=True)[:2])
    kept = ModerationAction.objects.get(thread=w.other_thread).pk
    moderation.purge_thread(w.staff, w.thread, confirm_title=w.thread.title)
    html = _html(client_for(w.staff).get(reverse("moderation:log")))
    assert f'data-undo="{kept}"' in html
    for pk in gone:
        assert f'data-undo="{pk}"' not in html
        assert not moderation.can_undo(ModerationAction.objects.get(pk=pk))


# ---------------------------------------------------------------- 8. invalid log filters


def test_log_with_an_invalid_filter_shows_the_error_and_no_entries():
    w = make_world()
    moderation.lock_thread(w.mod_a, w.thread)
    moderation.pin_thread(w.mod_a, w.thread)
    response = client_for(w.mod_a).get(
        reverse("moderation:log"), {"action": "pin_thread", "date_from": "2026-13-01"}
    )
    assert response.status_code == 400
    html = _html(response)
    assert "Enter a valid date." in html and 'value="2026-13-01"' in html
    assert 'value="pin_thread" selected' in html
    assert "No entries shown: correct the filters above." in html
    assert not re.search(r'id="log-\d', html) and "<td>lock thread</td>" not in html


# ---------------------------------------------------------------- 9. forms shown again


def _field_names(html: str) -> list[str]:
    form = html[html.index('class="post-form mod-form"') :]
    form = form[: form.index("</form>")]
    names = re.findall(r'<(?:input|textarea|select)[^>]*\bname="(\w+)"', form)
    return [n for n in names if n != "csrfmiddlewaretoken"]


def test_action_form_shown_again_keeps_next_and_field_order():
    w = make_world()
    client = client_for(w.mod_a)
    back = w.thread.get_absolute_url() + "?page=1"
    hide = client.post(
        reverse("moderation:post_hide", args=[w.replies[1].pk]), {"reason": "", "next": back}
    )
    assert hide.status_code == 400 and "Give a reason" in _html(hide)
    assert f'name="next" value="{back.replace("&", "&amp;")}"' in _html(hide)
    assert _field_names(_html(hide)) == ["reason", "next"]
    past = (timezone.localdate() - timedelta(days=3)).isoformat()
    for name, fields in (
        ("member_suspend", ["until", "indefinitely", "reason", "next"]),
        ("member_silence", ["until", "reason", "next"]),
    ):
        response = client.post(
            reverse(f"moderation:{name}", args=[w.member.username]),
            {"until": past, "reason": "Too late", "next": back},
        )
        assert response.status_code == 400
        html = _html(response)
        assert "Choose a date in the future." in html
        assert _field_names(html) == fields
        assert f'value="{past}"' in html and 'value="Too late"' in html


def test_action_form_shown_again_drops_an_off_site_next():
    w = make_world()
    response = client_for(w.mod_a).post(
        reverse("moderation:post_hide", args=[w.replies[1].pk]),
        {"reason": "", "next": "https://evil.example/"},
    )
    assert response.status_code == 400
    assert "evil.example" not in _html(response)


def test_member_action_goes_back_to_next():
    w = make_world()
    back = reverse("moderation:queue")
    response = client_for(w.mod_a).post(
        reverse("moderation:member_suspend", args=[w.member.username]),
        {"indefinitely": "on", "reason": "Spam", "next": back},
    )
    assert response.status_code == 302 and response["Location"] == back
