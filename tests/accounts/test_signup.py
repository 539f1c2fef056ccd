"""Sign-up: a new member joins, is signed in, and (with approval on) waits for staff."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from accounts.models import MembershipStatus
from forum import actions, permissions
from tests.conftest import client_for, make_board, make_member, make_thread

User = get_user_model()
GOOD_PASSWORD = "Welding-pathway-2026"


def signup_data(**overrides: str) -> dict[str, str]:
    data = {
        "username": "rosa",
        "email": "rosa@fresnounified.example.org",
        "display_name": "Rosa Delgado",
        "organisation": "Fresno Unified",
        "member_type": "teacher",
        "region": "central",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_signup_page_renders_form():
    response = client_for().get("/accounts/signup/")
    assert response.status_code == 200
    assert b'name="display_name"' in response.content
    assert b'name="member_type"' in response.content


@pytest.mark.django_db
def test_signup_creates_pending_member_and_signs_in():
    client = client_for()
    response = client.post("/accounts/signup/", signup_data(), follow=True)
    assert response.status_code == 200
    rosa = User.objects.get(username="rosa")
    assert rosa.membership_status == MembershipStatus.PENDING
    assert rosa.organisation == "Fresno Unified"
    assert rosa.member_type == "teacher"
    assert rosa.region == "central"
    assert response.context["user"] == rosa
    assert "staff will approve" in response.content.decode()


@pytest.mark.django_db
def test_signup_without_approval_setting_approves_at_once(settings):
    settings.FORUM = {**settings.FORUM, "MEMBERSHIP_APPROVAL": False}
    client_for().post("/accounts/signup/", signup_data())
    assert User.objects.get(username="rosa").membership_status == MembershipStatus.APPROVED


@pytest.mark.django_db
def test_signup_bad_values_show_errors_and_keep_typed_values():
    make_member("taken")
    response = client_for().post(
        "/accounts/signup/",
        signup_data(username="taken", email="not-an-email", password2="different-Pass-99"),
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "username" in form.errors
    assert "email" in form.errors
    assert "password2" in form.errors
    html = response.content.decode()
    # Each message sits next to its field, and what was typed is still there.
    assert html.count('class="field-error"') >= 3
    assert 'value="Rosa Delgado"' in html
    assert 'value="Fresno Unified"' in html
    assert 'value="not-an-email"' in html
    assert '<option value="central" selected>' in html
    assert not User.objects.filter(email="not-an-email").exists()


@pytest.mark.django_db
def test_signup_duplicate_email_is_refused_case_insensitively():
    other = make_member("rosa2")
    User.objects.filter(pk=other.pk).update(email="rosa@fresnounified.example.org")
    response = client_for().post(
        "/accounts/signup/", signup_data(email="ROSA@FresnoUnified.example.org")
    )
    assert "An account with this email already exists." in response.context["form"].errors["email"]
    assert not User.objects.filter(username="rosa").exists()


@pytest.mark.django_db
def test_signup_unknown_member_type_is_refused():
    response = client_for().post("/accounts/signup/", signup_data(member_type="wizard"))
    assert "member_type" in response.context["form"].errors
    assert not User.objects.filter(username="rosa").exists()


@pytest.mark.django_db
def test_pending_member_reads_public_board_but_cannot_post():
    author = make_member("maria")
    board = make_board("Networking")
    thread = make_thread(board, author, title="Advisory committee agendas that work")
    pending = make_member("newbie", approved=False)
    client = client_for(pending)

    assert client.get(board.get_absolute_url()).status_code == 200
    page = client.get(thread.get_absolute_url())
    assert page.status_code == 200
    assert b"Advisory committee agendas that work" in page.content

    response = client.post(
        f"/b/{board.slug}/new/", {"title": "My first thread here", "body": "Hello everyone!"}
    )
    assert response.status_code in (400, 403)
    assert "awaiting approval" in response.content.decode()
    response = client.post(f"/t/{thread.pk}/reply/", {"body": "Me too, thanks!"})
    assert response.status_code in (400, 403)
    assert "awaiting approval" in response.content.decode()
    with pytest.raises(permissions.Refused, match="awaiting approval"):
        actions.reply_to_thread(pending, thread, body="Me too, thanks!")
    thread.refresh_from_db()
    assert thread.post_count == 1
    assert board.threads.count() == 1
