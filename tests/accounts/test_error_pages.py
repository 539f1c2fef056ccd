"""403, 404 and 500 pages come in the site's layout, with a way back."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import client_for, make_member


def assert_in_layout(html: str) -> None:
    assert 'role="banner"' in html and 'role="main"' in html and 'role="contentinfo"' in html
    assert "CAROCP Forum" in html
    assert "/static/css/forum.css" in html
    assert 'href="/policy/"' in html  # the footer's content usage policy


@pytest.mark.django_db
def test_page_not_found_uses_layout():
    response = client_for().get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert_in_layout(html)
    assert "We couldn’t find that page" in html


@pytest.mark.django_db
def test_permission_denied_uses_layout_and_says_why():
    response = client_for(make_member("maria")).get("/members/pending/")
    assert response.status_code == 403
    html = response.content.decode()
    assert_in_layout(html)
    assert "Only staff approve members." in html


@pytest.mark.django_db
def test_server_error_uses_layout(monkeypatch):
    from accounts import views

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")

    maria = make_member("maria")
    monkeypatch.setattr(views.queries, "recent_posts_by", broken)
    client = Client(raise_request_exception=False)
    client.force_login(maria)
    response = client.get("/u/maria/")
    assert response.status_code == 500
    html = response.content.decode()
    assert_in_layout(html)
    assert "Something went wrong on our side" in html
    assert "database on fire" not in html
