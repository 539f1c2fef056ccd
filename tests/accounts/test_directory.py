"""The member directory: signed-in members only, searchable by name, organisation, region."""

from __future__ import annotations

import pytest

from tests.conftest import client_for, make_member


@pytest.fixture
def people(db):
    return {
        "maria": make_member(
            "maria",
            display_name="Maria Alvarez",
            organisation="Sacramento County Office of Education",
            region="north",
        ),
        "james": make_member(
            "james",
            display_name="James Okafor",
            organisation="Long Beach Unified",
            region="los-angeles",
        ),
        "lena": make_member(
            "lena", display_name="Lena Park", organisation="Kaiser Permanente", region="bay-area"
        ),
        "pending": make_member("pat", display_name="Pat Pending", approved=False),
    }


def names(response) -> set[str]:
    return {m.username for m in response.context["members"]}


def test_directory_visitor_is_sent_to_sign_in(people):
    response = client_for().get("/members/", {"q": "park"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/members/%3Fq%3Dpark"


def test_directory_lists_approved_members_for_member(people):
    response = client_for(people["james"]).get("/members/")
    assert response.status_code == 200
    assert names(response) == {"maria", "james", "lena"}
    assert "Maria Alvarez" in response.content.decode()


def test_directory_search_by_name(people):
    response = client_for(people["james"]).get("/members/", {"q": "alvarez"})
    assert names(response) == {"maria"}


def test_directory_search_by_organisation(people):
    response = client_for(people["james"]).get("/members/", {"q": "kaiser"})
    assert names(response) == {"lena"}


def test_directory_filter_by_region(people):
    response = client_for(people["maria"]).get("/members/", {"region": "los-angeles"})
    assert names(response) == {"james"}
    assert '<option value="los-angeles" selected>' in response.content.decode()


def test_directory_unknown_region_is_ignored(people):
    response = client_for(people["maria"]).get("/members/", {"region": "<script>"})
    assert response.status_code == 200
    assert names(response) == {"maria", "james", "lena"}


def test_directory_no_match_says_so(people):
    response = client_for(people["maria"]).get("/members/", {"q": "zzzz"})
    assert names(response) == set()
    assert "No members match" in response.content.decode()
