"""notifications.unread_count (the bell) is the inbox's rule written as one SQL statement.

For every kind of member (tests/forum/test_permission_access.py's world) against notifications
on every kind of board and thread (open, hidden, deleted; system, board-only, read), the bell
must count exactly the unread notifications the inbox lists, in one query.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from forum import notifications, permissions
from forum.models import Board, Notification, NotificationKind, Thread, Visibility
from tests.forum.test_permission_access import world  # noqa: F401 (a fixture)


def _notify(
    recipient: Any, *, thread: Thread | None = None, board: Board | None = None, read: bool = False
) -> None:
    now = timezone.now()
    Notification.objects.create(
        recipient=recipient,
        kind=NotificationKind.REPLY if thread else NotificationKind.MEMBERSHIP,
        thread=thread,
        board=board,
        is_read=read,
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def notified(world):  # noqa: F811
    author = world["staff"]
    threads = []
    for board in Board.objects.all():
        for state in ("open", "hidden", "deleted"):
            t = Thread.objects.create(
                board=board,
                author=author,
                title=f"{board.name} {state}",
                slug="t",
                is_hidden=state == "hidden",
                is_deleted=state == "deleted",
                created_at=timezone.now(),
                last_post_at=timezone.now(),
            )
            threads.append(t)
    for user in world.values():
        _notify(user)  # a system notice: no thread, no board
        _notify(user, read=True)
        for board in Board.objects.all():
            _notify(user, board=board)
        for t in threads:
            _notify(user, thread=t, board=t.board)
            _notify(user, thread=t, board=t.board, read=True)
    return world


@pytest.mark.django_db
def test_the_bell_counts_what_the_inbox_lists_for_every_kind_of_member(notified):
    counts = {}
    for who, user in notified.items():
        fresh = type(user).objects.get(pk=user.pk)
        listed = notifications.inbox_queryset(fresh).filter(is_read=False).count()
        counts[who] = notifications.unread_count(type(user).objects.get(pk=user.pk))
        assert counts[who] == listed, who
    # The matrix tells members apart: a moderator sees more than a plain member, staff most.
    assert counts["plain"] < counts["direct moderator"] < counts["staff"]


@pytest.mark.django_db
def test_the_bell_is_one_query_once_access_is_loaded(notified):
    user = type(notified["both"]).objects.get(pk=notified["both"].pk)
    permissions.visible_board_ids(user)
    with CaptureQueriesContext(connection) as queries:
        notifications.unread_count(user)
    assert len(queries.captured_queries) == 1


@pytest.mark.django_db
def test_a_member_who_sees_no_board_counts_only_system_notices(notified):
    user = type(notified["plain"]).objects.get(pk=notified["plain"].pk)
    Board.objects.update(visibility=Visibility.GROUPS)  # in no group, moderating none
    permissions.forget_cached_permissions(user)
    assert (
        notifications.unread_count(user)
        == 1
        == (notifications.inbox_queryset(user).filter(is_read=False).count())
    )
