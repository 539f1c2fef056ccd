"""The access matrix: every URL in the "moderation" namespace × every role.

The URL list is read from the URLconf, so a moderator view added without a matrix entry fails
`test_matrix_covers_every_moderation_url` (and its parametrized cases fail with a KeyError).
Refusals must also leave no trace: no log entry, no state change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import get_resolver, reverse

from forum import moderation
from forum.models import ModerationAction, Report
from tests.conftest import client_for
from tests.forum.test_moderation_actions import make_world

ROLES = ["anonymous", "member", "other_moderator", "board_moderator", "staff"]

LOGIN = "login"  # redirected to the sign-in page
OK = "ok"  # 200, or a redirect that is not to sign-in
REFUSE = "refuse"  # 403
HIDDEN = "hidden"  # 404


def moderation_url_names() -> list[str]:
    _prefix, resolver = get_resolver().namespace_dict["moderation"]
    return sorted(p.name for p in resolver.url_patterns)


@dataclass
class Case:
    method: str
    url: Callable[[Any], str]
    expect: dict[str, str]
    data: Callable[[Any], dict] = field(default=lambda w: {})
    # Set up extra state first (e.g. a report to resolve, a suspension to lift).
    prepare: Callable[[Any], None] = field(default=lambda w: None)
    # A successful request leaves a moderation log entry.
    logs: bool = True


def _moderators_only(*, staff_only: bool = False, member_wide: bool = False) -> dict[str, str]:
    """Board tools: moderators of the board and staff. Member tools: any moderator."""
    return {
        "anonymous": LOGIN,
        "member": REFUSE,
        "other_moderator": OK if member_wide else REFUSE,
        "board_moderator": REFUSE if staff_only else OK,
        "staff": OK,
    }


BOARD_TOOL = _moderators_only()
MEMBER_TOOL = _moderators_only(member_wide=True)
STAFF_TOOL = _moderators_only(staff_only=True)
# Tools on a hidden or deleted thread: whoever may not moderate it cannot see it either.
BOARD_TOOL_UNSEEN = {**BOARD_TOOL, "member": HIDDEN, "other_moderator": HIDDEN}


def thread_url(name: str) -> Callable[[Any], str]:
    return lambda w: reverse(f"moderation:{name}", args=[w.thread.pk])


def post_url(name: str) -> Callable[[Any], str]:
    return lambda w: reverse(f"moderation:{name}", args=[w.replies[1].pk])


def member_url(name: str) -> Callable[[Any], str]:
    return lambda w: reverse(f"moderation:{name}", args=[w.target.username])


def _report(w: Any) -> None:
    moderation.report_post(w.member, w.replies[1], reason="spam")


def _log_entry(w: Any) -> None:
    moderation.lock_thread(w.mod_a, w.thread)
    w.entry = ModerationAction.objects.get(action="lock_thread")


def _hidden_post(w: Any) -> None:
    moderation.hide_post(w.staff, w.replies[1], reason="r")


def _deleted_post(w: Any) -> None:
    moderation.delete_post(w.staff, w.replies[1])


MATRIX: dict[str, Case] = {
    "queue": Case("get", lambda w: reverse("moderation:queue"), MEMBER_TOOL, logs=False),
    "log": Case("get", lambda w: reverse("moderation:log"), MEMBER_TOOL, logs=False),
    "undo": Case(
        "post",
        lambda w: reverse("moderation:undo", args=[w.entry.pk]),
        BOARD_TOOL,
        prepare=_log_entry,
    ),
    "resolve": Case(
        "post",
        post_url("resolve"),
        BOARD_TOOL,
        data=lambda w: {"resolution": "dismiss"},
        prepare=_report,
    ),
    "member": Case("get", member_url("member"), MEMBER_TOOL, logs=False),
    "member_suspend": Case(
        "post",
        member_url("member_suspend"),
        MEMBER_TOOL,
        data=lambda w: {"indefinitely": "on", "reason": "Spam"},
    ),
    "member_silence": Case(
        "post",
        member_url("member_silence"),
        MEMBER_TOOL,
        data=lambda w: {"until": "2099-01-01", "reason": "Cool down"},
    ),
    "member_lift_suspension": Case(
        "post",
        member_url("member_lift_suspension"),
        MEMBER_TOOL,
        prepare=lambda w: moderation.suspend_member(w.staff, w.target, until=None, reason="r"),
    ),
    "member_lift_silence": Case(
        "post",
        member_url("member_lift_silence"),
        MEMBER_TOOL,
        prepare=lambda w: moderation.silence_member(w.staff, w.target, until=_soon(), reason="r"),
    ),
    "report": Case(
        "post",
        post_url("report"),
        {
            "anonymous": LOGIN,
            "member": OK,
            "other_moderator": OK,
            "board_moderator": OK,
            "staff": OK,
        },
        data=lambda w: {"reason": "spam"},
        logs=False,
    ),
    "post_edit": Case(
        "post",
        post_url("post_edit"),
        BOARD_TOOL,
        data=lambda w: {"body": "Edited by a moderator", "reason": "Tidy"},
    ),
    "post_hide": Case(
        "post", post_url("post_hide"), BOARD_TOOL, data=lambda w: {"reason": "Off topic"}
    ),
    "post_restore": Case("post", post_url("post_restore"), BOARD_TOOL, prepare=_hidden_post),
    "post_delete": Case("post", post_url("post_delete"), BOARD_TOOL),
    "post_undelete": Case("post", post_url("post_undelete"), BOARD_TOOL, prepare=_deleted_post),
    "thread_pin": Case("post", thread_url("thread_pin"), BOARD_TOOL),
    "thread_unpin": Case(
        "post",
        thread_url("thread_unpin"),
        BOARD_TOOL,
        prepare=lambda w: moderation.pin_thread(w.staff, w.thread),
    ),
    "thread_lock": Case("post", thread_url("thread_lock"), BOARD_TOOL),
    "thread_unlock": Case(
        "post",
        thread_url("thread_unlock"),
        BOARD_TOOL,
        prepare=lambda w: moderation.lock_thread(w.staff, w.thread),
    ),
    "thread_hide": Case(
        "post", thread_url("thread_hide"), BOARD_TOOL, data=lambda w: {"reason": "Review"}
    ),
    "thread_restore": Case(
        "post",
        thread_url("thread_restore"),
        BOARD_TOOL_UNSEEN,
        prepare=lambda w: moderation.hide_thread(w.staff, w.thread, reason="r"),
    ),
    "thread_delete": Case("post", thread_url("thread_delete"), BOARD_TOOL),
    "thread_undelete": Case(
        "post",
        thread_url("thread_undelete"),
        BOARD_TOOL_UNSEEN,
        prepare=lambda w: moderation.delete_thread(w.staff, w.thread),
    ),
    "thread_rename": Case(
        "post",
        thread_url("thread_rename"),
        BOARD_TOOL,
        data=lambda w: {"title": "A better title for this"},
    ),
    "thread_move": Case(
        "post", thread_url("thread_move"), BOARD_TOOL, data=lambda w: {"board": str(w.board_c.pk)}
    ),
    "thread_split": Case(
        "post",
        thread_url("thread_split"),
        BOARD_TOOL,
        data=lambda w: {"posts": [str(w.replies[1].pk)], "title": "Split off"},
    ),
    "thread_merge": Case(
        "post",
        thread_url("thread_merge"),
        BOARD_TOOL,
        data=lambda w: {"target": str(w.other_thread.pk)},
    ),
    "thread_purge": Case(
        "post",
        thread_url("thread_purge"),
        STAFF_TOOL,
        data=lambda w: {"confirm_title": w.thread.title},
    ),
}


def _soon():
    from datetime import timedelta

    from django.utils import timezone

    return timezone.now() + timedelta(days=3)


def _user_for(w: Any, role: str) -> Any:
    return {
        "anonymous": None,
        "member": w.member,
        "other_moderator": w.mod_b,
        "board_moderator": w.mod_a,
        "staff": w.staff,
    }[role]


def _world() -> Any:
    from tests.conftest import make_member

    w = make_world()
    w.target = make_member()  # the member that member tools act on
    return w


def _outcome(response: Any) -> str:
    if response.status_code == 302 and "/accounts/login/" in response["Location"]:
        return LOGIN
    if response.status_code in (200, 302):
        return OK
    if response.status_code == 403:
        return REFUSE
    if response.status_code == 404:
        return HIDDEN
    return f"status {response.status_code}"


def test_matrix_covers_every_moderation_url():
    names = moderation_url_names()
    assert names, "no moderation URLs found"
    assert set(names) - set(MATRIX) == set(), "moderation URLs without a matrix entry"
    assert set(MATRIX) - set(names) == set(), "matrix entries for URLs that no longer exist"
    for case in MATRIX.values():
        assert set(case.expect) == set(ROLES)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", moderation_url_names())
def test_moderation_url_access(name: str, role: str):
    case = MATRIX[name]  # KeyError: a moderation URL without a matrix entry
    w = _world()
    case.prepare(w)
    logged = ModerationAction.objects.count()
    reports = Report.objects.count()
    client = client_for(_user_for(w, role))
    url = case.url(w)
    response = getattr(client, case.method)(url, case.data(w))
    expected = case.expect[role]
    assert _outcome(response) == expected, (
        name,
        role,
        response.status_code,
        response.get("Location"),
    )
    if case.method == "post":
        if expected == OK and case.logs:
            assert ModerationAction.objects.count() > logged, "allowed action left no log entry"
        elif expected != OK:
            assert ModerationAction.objects.count() == logged, "refused action was logged"
            assert Report.objects.count() == reports


# Things a viewer cannot even see answer 404 (no existence oracle): every thread/post URL on a
# hidden thread, for a member and for another board's moderator.
THREAD_OR_POST = [
    n
    for n in moderation_url_names()
    if {"thread_id", "post_id"}
    & set(
        next(
            p for p in get_resolver().namespace_dict["moderation"][1].url_patterns if p.name == n
        ).pattern.converters
    )
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["member", "other_moderator"])
@pytest.mark.parametrize("name", THREAD_OR_POST)
def test_moderation_url_on_hidden_thread_is_not_found(name: str, role: str):
    case = MATRIX[name]
    w = _world()
    case.prepare(w)
    moderation.hide_thread(w.staff, w.thread, reason="Hidden for the test")
    logged = ModerationAction.objects.count()
    response = getattr(client_for(_user_for(w, role)), case.method)(case.url(w), case.data(w))
    assert response.status_code == 404, (name, role, response.status_code)
    assert ModerationAction.objects.count() == logged
