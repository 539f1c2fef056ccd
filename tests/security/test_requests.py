"""CSRF on every unsafe method of every URL, and oversized request bodies (issue 6 point 7)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import make_board, make_member, make_thread

pytestmark = pytest.mark.django_db

FILL = {"int": "1", "slug": "some-slug", "string": "someone", "path": "uploads/x.png"}


def _urls() -> list[str]:
    """Every route of the URLconf (admin included), with its parameters filled in."""
    urls: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                if route.startswith("admin/") and route.count("<") > 0:
                    continue  # the admin's model routes: one sample below is enough
                for name, converter in pattern.pattern.converters.items():
                    kind = type(converter).__name__.replace("Converter", "").lower()
                    route = re.sub(rf"<(\w+:)?{name}>", FILL.get(kind, "x"), route)
                urls.append("/" + route.lstrip("^").rstrip("$"))

    walk(get_resolver().url_patterns, "")
    return urls


def test_urls_cover_the_urlconf():
    urls = _urls()
    assert len(urls) > 40
    assert "/markdownx/markdownify/" in urls and "/t/1/reply/" in urls
    assert not [u for u in urls if "<" in u], [u for u in urls if "<" in u]


@pytest.mark.parametrize("signed_in", [False, True])
def test_every_unsafe_method_without_token_is_refused(signed_in):
    member = make_member()
    make_thread(make_board(), member)
    client = Client(enforce_csrf_checks=True)
    if signed_in:
        client.force_login(member)
    accepted = []
    for url in _urls() + ["/admin/login/", "/admin/auth/group/add/"]:
        for method in ("post", "put", "patch", "delete"):
            response = getattr(client, method)(url, {"body": "x"} if method == "post" else "")
            if response.status_code != 403:
                accepted.append(f"{method.upper()} {url}: {response.status_code}")
    assert not accepted, "answered without a CSRF token:\n" + "\n".join(accepted)


def test_reply_with_token_from_page_is_accepted():
    """The same client succeeds with the token the page gives it (so the 403s above are CSRF)."""
    member = make_member()
    thread = make_thread(make_board(), member)
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    client.get(thread.get_absolute_url())
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/t/{thread.pk}/reply/", {"body": "With a token.", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    "url,signed_in",
    [
        ("/t/{thread}/reply/", True),
        ("/markdownx/markdownify/", True),
        ("/p/{post}/edit/", True),
        ("/settings/profile/", True),
        ("/accounts/login/", False),
        ("/accounts/signup/", False),
    ],
)
def test_oversized_body_answers_400_not_500(settings, url, signed_in):
    member = make_member()
    thread = make_thread(make_board(), member)
    client = Client()
    if signed_in:
        client.force_login(member)
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024)
    target = url.format(thread=thread.pk, post=thread.posts.get(number=1).pk)
    response = client.post(target, {"body": big, "content": big, "username": big})
    assert response.status_code == 400


def test_too_many_fields_answers_400(settings):
    member = make_member()
    thread = make_thread(make_board(), member)
    client = Client()
    client.force_login(member)
    data = {f"f{n}": "1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 10)}
    data["body"] = "hello there"
    assert client.post(f"/t/{thread.pk}/reply/", data).status_code == 400
