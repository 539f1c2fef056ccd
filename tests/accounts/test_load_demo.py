"""`manage.py load_demo`: demo logins, boards and conversations; a second run adds nothing."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from accounts.models import MemberType
from forum import permissions
from forum.models import Board, Post, Thread
from realtime.models import StreamEvent
from tests.conftest import client_for

User = get_user_model()


def snapshot() -> dict[str, object]:
    return {
        "users": User.objects.count(),
        "groups": Group.objects.count(),
        "boards": list(Board.objects.values_list("slug", "thread_count", "post_count")),
        "threads": list(Thread.objects.values_list("id", "post_count", "last_post_at")),
        "posts": Post.objects.count(),
        "events": StreamEvent.objects.count(),
    }


@pytest.fixture
def demo(db):
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


# Loading the demo takes seconds, so each test below checks one area thoroughly.


def test_load_demo_second_run_adds_nothing(demo):
    before = snapshot()
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    assert snapshot() == before
    assert "created 0 groups, 0 members, 0 boards, 0 threads, 0 replies" in out.getvalue()


def test_load_demo_creates_logins_roles_members_and_boards(demo):
    assert "carocp-demo" in demo
    for username in ("maria", "james", "dana", "mod", "admin"):
        assert f"  {username} " in demo
        client = client_for()
        response = client.post(
            "/accounts/login/", {"username": username, "password": "carocp-demo"}
        )
        assert response.status_code == 302, username
        assert client.session["_auth_user_id"] == str(User.objects.get(username=username).pk)
    _check_roles()
    _check_members()
    _check_boards()


def _check_roles() -> None:
    maria, james, dana, mod, admin = (
        User.objects.get(username=n) for n in ("maria", "james", "dana", "mod", "admin")
    )
    boards = list(Board.objects.all())
    assert admin.is_staff and admin.is_superuser
    assert not mod.is_staff and not mod.is_superuser
    assert all(permissions.can_moderate_board(mod, b) for b in boards)
    assert not any(permissions.can_moderate_board(maria, b) for b in boards)
    assert dana.groups.filter(name="Board members").exists()
    assert not maria.groups.exists() and not james.groups.exists()
    assert not maria.is_staff and not james.is_staff and not dana.is_staff


def _check_members() -> None:
    members = User.objects.all()
    assert members.count() >= 12
    assert set(MemberType.values) <= set(members.values_list("member_type", flat=True))
    assert members.values("region").distinct().count() >= 5
    assert members.values("organisation").distinct().count() >= 8
    assert all(m.is_approved for m in members)


def _check_boards() -> None:
    names = set(Board.objects.values_list("name", flat=True))
    assert {
        "Announcements",
        "Networking",
        "Advocacy",
        "Professional Development",
        "Board Room",
    } <= names
    maria, dana, admin = (User.objects.get(username=n) for n in ("maria", "dana", "admin"))
    announcements = Board.objects.get(name="Announcements")
    assert not permissions.can_start_thread(maria, announcements)
    assert permissions.can_start_thread(admin, announcements)
    board_room = Board.objects.get(name="Board Room")
    assert not permissions.can_view_board(maria, board_room)
    assert permissions.can_view_board(dana, board_room)
    assert permissions.can_start_thread(dana, board_room)
    assert not permissions.can_view_board(permissions.anonymous(), board_room)
    response = client_for(maria).get(board_room.get_absolute_url())
    assert response.status_code in (403, 404)
    assert client_for(dana).get(board_room.get_absolute_url()).status_code == 200


def test_load_demo_conversations_are_consistent_and_realistic(demo):
    threads = list(Thread.objects.all())
    assert len(threads) >= 6
    for board in Board.objects.all():
        posts = Post.objects.filter(thread__board=board)
        assert board.thread_count == Thread.objects.filter(board=board).count()
        assert board.post_count == posts.count()
        if posts.exists():
            assert board.last_post == posts.order_by("-created_at", "-id").first()
            assert board.last_post_at == board.last_post.created_at
    for thread in threads:
        posts = list(thread.posts.order_by("number"))
        assert len(posts) >= 2
        assert thread.post_count == len(posts)
        assert thread.reply_count == len(posts) - 1
        assert thread.created_at == posts[0].created_at
        assert thread.last_post == posts[-1]
        assert thread.last_post_at == posts[-1].created_at
        assert [p.created_at for p in posts] == sorted(p.created_at for p in posts)
    for member in User.objects.all():
        assert member.post_count == Post.objects.filter(author=member).count()
    text = " ".join(Post.objects.values_list("body", flat=True))
    titles = " ".join(Thread.objects.values_list("title", flat=True))
    for topic in (
        "advisory",
        "work-based learning",
        "CTEIG",
        "Strong Workforce",
        "NCCER",
        "Webinar follow-up",
    ):
        assert topic.lower() in (text + titles).lower(), topic
    html = " ".join(Post.objects.values_list("html", flat=True))
    assert "<ol>" in html and "<ul>" in html
    assert "<blockquote>" in html
    assert 'class="mention"' in html
    assert "lorem" not in text.lower()
