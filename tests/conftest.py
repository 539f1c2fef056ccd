"""Shared fixtures and factories. Factories are plain functions: make_member(), make_board()..."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from accounts.models import MembershipStatus
from forum import actions
from forum.models import Board, PostingRule, Visibility

_seq = itertools.count(1)
PASSWORD = "carocp-test-pw-1"


@pytest.fixture(autouse=True)
def _clean_cache():
    from forum import pagecache

    cache.clear()
    pagecache.clear()
    yield
    cache.clear()
    pagecache.clear()


def make_member(username: str | None = None, *, approved: bool = True, **fields: Any):
    n = next(_seq)
    username = username or f"member{n}"
    user = get_user_model().objects.create_user(
        username=username,
        email=f"{username}@example.org",
        password=PASSWORD,
        display_name=fields.pop("display_name", username.title()),
        membership_status=MembershipStatus.APPROVED if approved else MembershipStatus.PENDING,
        **fields,
    )
    return user


def make_staff(username: str | None = None, **fields: Any):
    return make_member(username, is_staff=True, **fields)


def make_group(name: str, *members: Any) -> Group:
    group, _ = Group.objects.get_or_create(name=name)
    for member in members:
        member.groups.add(group)
    return group


def make_board(
    name: str | None = None,
    *,
    visibility: str = Visibility.ANYONE,
    start_rule: str = PostingRule.MEMBERS,
    reply_rule: str = PostingRule.MEMBERS,
    groups: list[Group] | None = None,
    moderators: list[Any] | None = None,
) -> Board:
    n = next(_seq)
    name = name or f"Board {n}"
    board = Board.objects.create(
        name=name,
        slug=f"board-{n}",
        description=f"About {name}",
        position=n,
        visibility=visibility,
        start_rule=start_rule,
        reply_rule=reply_rule,
    )
    if groups:
        board.visible_groups.set(groups)
        board.posting_groups.set(groups)
    if moderators:
        board.moderators.set(moderators)
    return board


def make_thread(
    board: Board,
    author: Any,
    title: str = "A thread about CTE pathways",
    body: str = "First post body.",
):
    return actions.create_thread(author, board, title=title, body=body)


def make_reply(thread: Any, author: Any, body: str = "A reply."):
    return actions.reply_to_thread(author, thread, body=body).post


def client_for(user: Any | None = None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def member(db):
    return make_member("maria")


@pytest.fixture
def other_member(db):
    return make_member("james")


@pytest.fixture
def staff(db):
    return make_staff("admin")


@pytest.fixture
def board(db):
    return make_board("Networking")


@pytest.fixture
def thread(board, member):
    return make_thread(board, member)


# ---- slow tests (foundation): the fresh-clone check runs in CI (CI=true) or with RUN_SLOW=1.
_SLOW_DESELECTED = pytest.StashKey[list]()


def _run_slow() -> bool:
    import os

    return bool(os.environ.get("CI") or os.environ.get("RUN_SLOW"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow = [item for item in items if item.get_closest_marker("slow")]
    # Asked for by name (only slow tests collected): run them.
    if not slow or _run_slow() or len(slow) == len(items):
        return
    config.hook.pytest_deselected(items=slow)
    items[:] = [item for item in items if not item.get_closest_marker("slow")]
    config.stash[_SLOW_DESELECTED] = [item.nodeid for item in slow]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    deselected = config.stash.get(_SLOW_DESELECTED, [])
    if deselected:
        terminalreporter.write_line(
            f"NOTE: {len(deselected)} slow test(s) deselected ({', '.join(deselected)}): they "
            "run in CI (.ci/run sets CI=true) or with RUN_SLOW=1.",
            yellow=True,
        )
