"""tests/servers.py itself: a real daphne process serves the test database."""

import json
import urllib.request

import pytest

from tests.conftest import make_board, make_member
from tests.servers import cookie_header, session_cookie, start_servers


@pytest.mark.servers
def test_start_servers_serves_test_database(transactional_db):
    board = make_board("Welding and Fabrication")
    member = make_member("rosa")
    with start_servers(1, redis_url="") as (server,):
        request = urllib.request.Request(
            server.url + board.get_absolute_url(),
            headers={"Cookie": cookie_header(session_cookie(member))},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            page = response.read().decode()
        assert "Welding and Fabrication" in page
        assert f'data-user-id="{member.pk}"' in page
        with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:
            assert json.loads(response.read())["database"] == "ok"
    assert server.process.poll() is not None
