import pytest

from tests.conftest import client_for, make_reply


@pytest.mark.django_db
def test_pages_render_for_visitor_and_member(thread, member, other_member):
    make_reply(thread, other_member, "Thanks @maria, **great** idea")
    for client in (client_for(), client_for(member)):
        assert client.get("/").status_code == 200
        assert client.get(thread.board.get_absolute_url()).status_code == 200
        response = client.get(thread.get_absolute_url() + "?page=1")
        assert response.status_code == 200
        assert b"<strong>great</strong>" in response.content
