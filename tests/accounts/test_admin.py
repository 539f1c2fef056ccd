"""Django admin covers every model of our apps, and its pages open for a superuser."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests.conftest import client_for, make_member, make_staff

OUR_APPS = ("accounts", "forum", "realtime")


def our_models() -> list:
    return [m for label in OUR_APPS for m in apps.get_app_config(label).get_models()]


def test_admin_registers_every_model():
    missing = [m._meta.label for m in our_models() if not admin.site.is_registered(m)]
    assert missing == []


@pytest.mark.django_db
def test_admin_changelists_open_for_superuser():
    root = make_staff("root", is_superuser=True)
    client = client_for(root)
    for model in our_models():
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_admin_refuses_non_staff():
    response = client_for(make_member("maria")).get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_admin_add_member_asks_for_email():
    from django.contrib.auth import get_user_model

    client = client_for(make_staff("root", is_superuser=True))
    url = reverse("admin:accounts_user_add")
    for n in (1, 2):
        response = client.post(
            url,
            {
                "username": f"added{n}",
                "email": f"added{n}@example.org",
                "display_name": f"Added {n}",
                "usable_password": "true",
                "password1": "Pathway-admin-2026",
                "password2": "Pathway-admin-2026",
            },
        )
        assert response.status_code == 302, response.content.decode()[-2000:]
    assert get_user_model().objects.get(username="added2").email == "added2@example.org"
    response = client.post(
        url,
        {
            "username": "added3",
            "usable_password": "true",
            "password1": "Pathway-admin-2026",
            "password2": "Pathway-admin-2026",
        },
    )
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
