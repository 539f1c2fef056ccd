"""Sign in, sign out, password change and password reset by email."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail

from tests.conftest import PASSWORD, client_for, make_member

User = get_user_model()
NEW_PASSWORD = "Industry-cert-ready-77"


@pytest.mark.django_db
def test_login_with_right_password_signs_in():
    maria = make_member("maria")
    client = client_for()
    response = client.post("/accounts/login/", {"username": "maria", "password": PASSWORD})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == maria.pk


@pytest.mark.django_db
def test_login_with_wrong_password_shows_error_and_keeps_username():
    make_member("maria")
    client = client_for()
    response = client.post("/accounts/login/", {"username": "maria", "password": "nope"})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    html = response.content.decode()
    assert 'role="alert"' in html
    assert 'value="maria"' in html


@pytest.mark.django_db
def test_logout_signs_out_on_post_only():
    client = client_for(make_member("maria"))
    assert client.get("/accounts/logout/").status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_password_change_sets_new_password_and_ends_other_sessions():
    maria = make_member("maria")
    client, other_device = client_for(), client_for()
    client.login(username="maria", password=PASSWORD)
    other_device.login(username="maria", password=PASSWORD)
    response = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/change/done/"
    maria.refresh_from_db()
    assert maria.check_password(NEW_PASSWORD)
    assert client.get("/accounts/password/change/done/").status_code == 200  # still signed in
    assert other_device.get("/settings/profile/").status_code == 302  # signed out


@pytest.mark.django_db
def test_password_change_wrong_old_password_is_refused():
    maria = make_member("maria")
    response = client_for(maria).post(
        "/accounts/password/change/",
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    maria.refresh_from_db()
    assert maria.check_password(PASSWORD)


@pytest.mark.django_db
def test_password_reset_by_email_link_sets_new_password():
    maria = make_member("maria")
    client = client_for()
    response = client.post("/accounts/password/reset/", {"email": "maria@example.org"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["maria@example.org"]
    assert message.subject == "Reset your CAROCP Forum password"
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+/)", message.body).group(1)

    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200
    assert form_page.context["validlink"] is True
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    response = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/complete/"
    maria.refresh_from_db()
    assert maria.check_password(NEW_PASSWORD)
    # The link works once.
    again = client.get(link, follow=True)
    assert again.context["validlink"] is False


@pytest.mark.django_db
def test_password_reset_unknown_email_sends_nothing_and_reveals_nothing():
    response = client_for().post("/accounts/password/reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password/reset/sent/"
    assert mail.outbox == []
