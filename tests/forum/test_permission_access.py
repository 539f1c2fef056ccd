"""permissions._load_access: a member's groups, moderated boards and visible boards in one query.

The one query restates visible_boards' rule with the member's groups and moderated boards as
subqueries. These tests check, for every kind of member against every kind of board, that it
gives exactly what the separate queries give (the reference below is the rule as it was written
before the merge), and that it is one query.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from forum import permissions
from forum.models import Board, Visibility
from tests.conftest import make_board, make_group, make_member, make_staff


def _reference(user: Any) -> tuple[frozenset[int], frozenset[int], frozenset[int]]:
    """Groups, moderated boards and visible boards, each from its own plain query."""
    groups = frozenset(user.groups.values_list("id", flat=True))
    moderated = frozenset(
        Board.objects.filter(Q(moderators=user) | Q(moderator_groups__in=groups)).values_list(
            "id", flat=True
        )
    )
    boards = Board.objects.all()
    if permissions.is_staff(user):
        visible = boards
    elif not user.is_active or not user.is_approved:  # pending or declined: as a visitor
        visible = boards.filter(visibility=Visibility.ANYONE)
    else:
        rule = Q(visibility__in=[Visibility.ANYONE, Visibility.MEMBERS])
        if groups:
            rule |= Q(visibility=Visibility.GROUPS, visible_groups__in=groups)
        if moderated:
            rule |= Q(id__in=moderated)
        visible = boards.filter(rule).distinct()
    return groups, moderated, frozenset(visible.values_list("id", flat=True))


@pytest.fixture
def world(db):
    officers, teachers, empty = (make_group(n) for n in ("Officers", "Teachers", "Nobody"))
    direct_mod, group_mod = make_member("directmod"), make_member("groupmod")
    boards = [
        make_board("Open", visibility=Visibility.ANYONE),
        make_board("Members", visibility=Visibility.MEMBERS),
        make_board("Officers only", visibility=Visibility.GROUPS, groups=[officers]),
        make_board("Teachers only", visibility=Visibility.GROUPS, groups=[teachers]),
        make_board("Two groups", visibility=Visibility.GROUPS, groups=[officers, teachers]),
        make_board("No group", visibility=Visibility.GROUPS, groups=[empty]),
        make_board("Secret, moderated", visibility=Visibility.GROUPS, moderators=[direct_mod]),
        make_board("Secret, group-moderated", visibility=Visibility.GROUPS),
    ]
    boards[-1].moderator_groups.set([teachers])
    boards[1].moderator_groups.set([officers])  # a visible board moderated through a group
    officer, teacher, both = make_member("officer"), make_member("teacher"), make_member("both")
    officers.user_set.add(officer, both)
    teachers.user_set.add(teacher, both, group_mod)
    deactivated = make_member("gone", is_active=False)
    teachers.user_set.add(deactivated)
    return {
        "plain": make_member("plain"),
        "pending": make_member("pending", approved=False),
        "officer": officer,
        "teacher": teacher,
        "both": both,
        "direct moderator": direct_mod,
        "group moderator": group_mod,
        "deactivated": deactivated,
        "staff": make_staff("boss"),
    }


@pytest.mark.django_db
def test_one_query_gives_what_the_separate_queries_give_for_every_kind_of_member(world):
    for who, user in world.items():
        fresh = type(user).objects.get(pk=user.pk)
        expected = _reference(fresh)
        fresh = type(user).objects.get(pk=user.pk)
        got = (
            permissions._group_ids(fresh),
            permissions._moderated_board_ids(fresh),
            permissions.visible_board_ids(fresh),
        )
        assert got == expected, who


@pytest.mark.django_db
def test_a_member_s_groups_moderated_and_visible_boards_cost_one_query(world):
    for who in ("plain", "both", "group moderator", "direct moderator"):
        user = type(world[who]).objects.get(pk=world[who].pk)
        with CaptureQueriesContext(connection) as queries:
            permissions.visible_board_ids(user)
            permissions.moderated_board_ids(user)
            permissions.is_moderator_anywhere(user)
            permissions._group_ids(user)
        assert len(queries.captured_queries) == 1, who


@pytest.mark.django_db
def test_forgetting_reloads_after_a_membership_change(world):
    user = type(world["plain"]).objects.get(pk=world["plain"].pk)
    officers_board = Board.objects.get(name="Officers only")
    assert officers_board.id not in permissions.visible_board_ids(user)
    make_group("Officers", user)
    permissions.forget_cached_permissions(user)
    assert officers_board.id in permissions.visible_board_ids(user)
    assert permissions.visible_board_ids(user) == _reference(user)[2]
