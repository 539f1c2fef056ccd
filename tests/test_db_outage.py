"""A database outage answers 503 "temporarily unavailable" (config/middleware.py), not 500."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client

from tests.conftest import make_member


def _client() -> Client:
    return Client(raise_request_exception=False)


@pytest.mark.django_db
def test_view_database_error_answers_503_page_with_retry_after():
    with mock.patch("forum.queries.board_index", side_effect=OperationalError("db down")):
        response = _client().get("/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert b"temporarily unavailable" in response.content


@pytest.mark.django_db
def test_interface_error_answers_json_503_to_the_forum_script():
    with mock.patch("forum.queries.board_index", side_effect=InterfaceError("closed")):
        response = _client().get("/", HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert response.status_code == 503
    assert response.json()["retry"] is True


@pytest.mark.django_db
def test_session_lookup_failure_in_middleware_answers_503():
    client = _client()
    client.force_login(make_member())
    with mock.patch(
        "django.contrib.sessions.backends.db.SessionStore.load",
        side_effect=OperationalError("db down"),
    ):
        response = client.get("/")
    assert response.status_code == 503
    assert b"temporarily unavailable" in response.content


@pytest.mark.django_db
def test_other_errors_still_answer_500():
    with mock.patch("forum.queries.board_index", side_effect=RuntimeError("bug")):
        response = _client().get("/")
    assert response.status_code == 500
