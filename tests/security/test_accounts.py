"""Sign-in throttling, sign-up limits, session handling and open redirects (issue 7 points 3, 7)."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.tokens import default_token_generator
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from tests.conftest import PASSWORD, client_for, make_member

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
NEW_PASSWORD = "a-new-Passw0rd-for-carocp"


def _sign_in(client: Client, username: str, password: str, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


# ---------------------------------------------------------------- sign-in throttle


def test_check_login_throttle_locks_account_after_five_failures(limits_on, clock):
    member = make_member("lockme")
    client = Client()
    for _ in range(5):
        response = _sign_in(client, "lockme", "wrong-password")
        assert response.status_code == 200
        assert "Too many failed sign-ins" not in response.content.decode()
    # even the right password is refused now, with the time to wait
    response = _sign_in(client, "lockme", PASSWORD)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Too many failed sign-ins for this account. You can try again in 15 minutes" in html
    assert SESSION_KEY not in client.session
    # another account from another address is unaffected
    other = make_member("unaffected")
    assert _sign_in(Client(), other.username, PASSWORD, REMOTE_ADDR="10.9.9.9").status_code == 302
    clock.advance(15 * 60)
    assert _sign_in(client, member.username, PASSWORD).status_code == 302


def test_check_login_throttle_per_address_covers_many_accounts(limits_on, clock):
    make_member("target")
    client = Client()
    for n in range(20):  # a password spray: one guess each against many names
        _sign_in(client, f"name{n}", "guess", REMOTE_ADDR="198.51.100.7")
    response = _sign_in(client, "target", PASSWORD, REMOTE_ADDR="198.51.100.7")
    assert "Too many failed sign-ins from your network. You can try again in" in (
        response.content.decode()
    )
    assert _sign_in(Client(), "target", PASSWORD, REMOTE_ADDR="198.51.100.8").status_code == 302


def test_record_login_success_resets_account_count_not_address(limits_on, clock):
    member = make_member("forgetful")
    client = Client()
    for _ in range(4):
        _sign_in(client, "forgetful", "wrong", REMOTE_ADDR="10.2.2.2")
    assert _sign_in(Client(), "forgetful", PASSWORD, REMOTE_ADDR="10.2.2.2").status_code == 302
    for _ in range(4):  # four more mistakes are allowed again
        _sign_in(client, "forgetful", "wrong", REMOTE_ADDR="10.2.2.2")
    assert _sign_in(Client(), member.username, PASSWORD, REMOTE_ADDR="10.2.2.2").status_code == 302


def test_check_login_throttle_unknown_name_counts_like_real_one(limits_on, clock):
    client = Client()
    for _ in range(5):
        _sign_in(client, "nobody-by-this-name", "x", REMOTE_ADDR="10.1.1.1")
    response = _sign_in(client, "nobody-by-this-name", "x", REMOTE_ADDR="10.1.1.1")
    assert "Too many failed sign-ins for this account" in response.content.decode()


def test_check_login_throttle_fails_closed_when_cache_down(limits_on, cache_down):
    member = make_member()
    client = Client()
    response = _sign_in(client, member.username, PASSWORD)
    assert response.status_code == 200
    assert "Sign-in is temporarily unavailable" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_login_form_keeps_username_when_throttled(limits_on, clock):
    make_member("keepme")
    client = Client()
    for _ in range(6):
        response = _sign_in(client, "keepme", "wrong")
    assert 'value="keepme"' in response.content.decode()


# ---------------------------------------------------------------- sign-up limit


def _signup_data(n: int) -> dict:
    return {
        "username": f"newcomer{n}",
        "email": f"newcomer{n}@example.org",
        "display_name": f"New Comer {n}",
        "organisation": "Valley ROP",
        "member_type": "teacher",
        "region": "",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    }


def test_signup_limited_per_address_and_keeps_typed_values(limits_on, clock):
    from django.contrib.auth import get_user_model

    for n in range(5):
        response = Client().post("/accounts/signup/", _signup_data(n), REMOTE_ADDR="192.0.2.5")
        assert response.status_code == 302, response.content.decode()[:2000]
    response = Client().post("/accounts/signup/", _signup_data(99), REMOTE_ADDR="192.0.2.5")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Too many attempts from your network. You can try again in 60 minutes." in html
    assert 'value="newcomer99@example.org"' in html
    assert not get_user_model().objects.filter(username="newcomer99").exists()
    # another address may sign up
    response = Client().post("/accounts/signup/", _signup_data(100), REMOTE_ADDR="192.0.2.6")
    assert response.status_code == 302


# ---------------------------------------------------------------- sessions


def test_login_rotates_session_key():
    member = make_member()
    client = Client()
    client.get(LOGIN)
    session = client.session
    session["before_login"] = True
    session.save()
    before = session.session_key
    assert _sign_in(client, member.username, PASSWORD).status_code == 302
    after = client.session.session_key
    assert before and after and before != after
    assert not Session.objects.filter(session_key=before).exists()


def test_sign_out_deletes_server_side_session():
    member = make_member()
    client = client_for(member)
    key = client.session.session_key
    assert Session.objects.filter(session_key=key).exists()
    assert client.post("/accounts/logout/").status_code == 302
    assert not Session.objects.filter(session_key=key).exists()
    assert SESSION_KEY not in client.session


def test_sign_out_by_get_is_refused():
    member = make_member()
    client = client_for(member)
    assert client.get("/accounts/logout/").status_code == 405
    assert SESSION_KEY in client.session


def test_password_change_ends_other_sessions():
    member = make_member()
    laptop, phone = Client(), Client()
    assert _sign_in(laptop, member.username, PASSWORD).status_code == 302
    assert _sign_in(phone, member.username, PASSWORD).status_code == 302
    response = laptop.post(
        "/accounts/password/change/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert laptop.get("/settings/profile/").status_code == 200  # this session goes on
    assert phone.get("/settings/profile/").status_code == 302  # the other one is signed out
    assert not Session.objects.filter(session_key=phone.session.session_key).exists() or (
        SESSION_KEY not in phone.session
    )


def test_password_reset_ends_every_session():
    member = make_member()
    phone = Client()
    assert _sign_in(phone, member.username, PASSWORD).status_code == 302
    member.refresh_from_db()  # the token covers last_login, which the sign-in changed
    uid = urlsafe_base64_encode(force_bytes(member.pk))
    token = default_token_generator.make_token(member)
    browser = Client()
    response = browser.get(f"/accounts/password/reset/{uid}/{token}/", follow=True)
    assert response.redirect_chain, (response.status_code, response.content[:500])
    form_url = response.redirect_chain[-1][0]
    response = browser.post(
        form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert phone.get("/settings/profile/").status_code == 302
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)


# ---------------------------------------------------------------- open redirects


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        "\\\\evil.example",
    ],
)
def test_login_next_never_redirects_off_site(target):
    member = make_member()
    response = Client().post(
        f"{LOGIN}?next={target}",
        {
            "username": member.username,
            "password": PASSWORD,
            "next": target,
        },
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil" not in location and "javascript" not in location


def test_login_next_keeps_on_site_target():
    member = make_member()
    response = Client().post(
        f"{LOGIN}?next=/members/",
        {
            "username": member.username,
            "password": PASSWORD,
            "next": "/members/",
        },
    )
    assert response["Location"] == "/members/"


def test_signup_fails_open_when_cache_down(limits_on, cache_down):
    from django.contrib.auth import get_user_model

    for n in range(7):  # over the per-address limit, but the limiter is down
        response = Client().post(
            "/accounts/signup/", _signup_data(200 + n), REMOTE_ADDR="192.0.2.9"
        )
        assert response.status_code == 302
    assert get_user_model().objects.filter(username__startswith="newcomer20").count() == 7
