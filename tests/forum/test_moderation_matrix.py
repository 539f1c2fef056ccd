"""The access matrix: every moderation URL × every role.

Moderation URLs are read from the URLconf: every URL of the "moderation" namespace (and of
forum/moderation_views.py), and any other URL whose view is gated on a moderator or staff
check (the pending sign-ups queue and its approve/decline URL in accounts). So a moderator view
added without a matrix entry fails `test_matrix_covers_every_moderation_url` (and its
parametrized cases fail with a KeyError). Roles: anonymous, member, another board's moderator,
the board's moderator (a member assigned to the board), a moderator through a group assigned to
the board, and staff. Refusals must also leave no trace: no log entry, no state change.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from accounts.models import MembershipStatus
from forum import moderation, permissions
from forum.models import ModerationAction, Report
from tests.conftest import client_for
from tests.forum.test_moderation_actions import make_world

ROLES = [
    "anonymous",
    "member",
    "other_moderator",
    "board_moderator",
    "group_moderator",
    "staff",
]

LOGIN = "login"  # redirected to the sign-in page
OK = "ok"  # 200, or a redirect that is not to sign-in
REFUSE = "refuse"  # 403
HIDDEN = "hidden"  # 404

# A view that refuses unless the viewer moderates (or is staff) names one of these.
MODERATOR_GATE = re.compile(
    r"permissions\.(check_moderat\w*|check_purge_thread|can_approve_members|can_manage_members"
    r"|can_moderate_member)\b|\bmoderation\.\w+\(|\bactions\.(approve|decline)_member\("
)


def _patterns(resolver: URLResolver, namespace: str | None) -> Iterator[tuple[str, URLPattern]]:
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            if p.namespace == "admin":
                continue  # Django's admin: staff only by Django itself, not a forum tool
            yield from _patterns(p, p.namespace or namespace)
        elif p.name:
            yield (f"{namespace}:{p.name}" if namespace else p.name), p


def is_moderation_view(view: Callable) -> bool:
    view = inspect.unwrap(view)
    if view.__module__ == "forum.moderation_views":
        return True
    return bool(MODERATOR_GATE.search(inspect.getsource(view)))


def moderation_urls() -> dict[str, URLPattern]:
    """Qualified URL name -> pattern, for every moderation URL of the site."""
    return {
        name: p
        for name, p in _patterns(get_resolver(), None)
        if name.startswith("moderation:") or is_moderation_view(p.callback)
    }


def moderation_url_names() -> list[str]:
    return sorted(moderation_urls())


def _url_name(case_key: str) -> str:
    """MATRIX keys are URL names, with "#variant" when one URL does several things."""
    return case_key.split("#")[0]


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
    # Checks the state afterwards: changed when allowed, untouched when refused.
    check: Callable[[Any, bool], None] = field(default=lambda w, allowed: None)


def _moderators_only(*, staff_only: bool = False, member_wide: bool = False) -> dict[str, str]:
    """Board tools: moderators of the board (in person or through a group) and staff. Member
    tools: any moderator."""
    board_moderator = REFUSE if staff_only else OK
    return {
        "anonymous": LOGIN,
        "member": REFUSE,
        "other_moderator": OK if member_wide else REFUSE,
        "board_moderator": board_moderator,
        "group_moderator": board_moderator,
        "staff": OK,
    }


BOARD_TOOL = _moderators_only()
MEMBER_TOOL = _moderators_only(member_wide=True)
STAFF_TOOL = _moderators_only(staff_only=True)
# Tools on a hidden or deleted thread: whoever may not moderate it cannot see it either.
BOARD_TOOL_UNSEEN = {**BOARD_TOOL, "member": HIDDEN, "other_moderator": HIDDEN}
# Another board's log entry answers a moderator of another board like a missing one.
LOG_ENTRY = {**BOARD_TOOL, "other_moderator": HIDDEN}
# Membership approval is staff's (issue 2 point 4).
SIGN_UPS = STAFF_TOOL  # anonymous visitors are sent to sign in, as for every moderator tool


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
    "moderation:queue": Case("get", lambda w: reverse("moderation:queue"), MEMBER_TOOL, logs=False),
    "moderation:log": Case("get", lambda w: reverse("moderation:log"), MEMBER_TOOL, logs=False),
    "moderation:undo": Case(
        "post",
        lambda w: reverse("moderation:undo", args=[w.entry.pk]),
        LOG_ENTRY,
        prepare=_log_entry,
    ),
    "moderation:resolve": Case(
        "post",
        post_url("resolve"),
        BOARD_TOOL,
        data=lambda w: {"resolution": "dismiss"},
        prepare=_report,
    ),
    "moderation:member": Case("get", member_url("member"), MEMBER_TOOL, logs=False),
    "moderation:member_suspend": Case(
        "post",
        member_url("member_suspend"),
        MEMBER_TOOL,
        data=lambda w: {"indefinitely": "on", "reason": "Spam"},
    ),
    "moderation:member_silence": Case(
        "post",
        member_url("member_silence"),
        MEMBER_TOOL,
        data=lambda w: {"until": "2099-01-01", "reason": "Cool down"},
    ),
    "moderation:member_lift_suspension": Case(
        "post",
        member_url("member_lift_suspension"),
        MEMBER_TOOL,
        prepare=lambda w: moderation.suspend_member(w.staff, w.target, until=None, reason="r"),
    ),
    "moderation:member_lift_silence": Case(
        "post",
        member_url("member_lift_silence"),
        MEMBER_TOOL,
        prepare=lambda w: moderation.silence_member(w.staff, w.target, until=_soon(), reason="r"),
    ),
    "moderation:report": Case(
        "post",
        post_url("report"),
        {
            "anonymous": LOGIN,
            "member": OK,
            "other_moderator": OK,
            "board_moderator": OK,
            "group_moderator": OK,
            "staff": OK,
        },
        data=lambda w: {"reason": "spam"},
        logs=False,
    ),
    "moderation:post_edit": Case(
        "post",
        post_url("post_edit"),
        BOARD_TOOL,
        data=lambda w: {"body": "Edited by a moderator", "reason": "Tidy"},
    ),
    "moderation:post_hide": Case(
        "post", post_url("post_hide"), BOARD_TOOL, data=lambda w: {"reason": "Off topic"}
    ),
    "moderation:post_restore": Case(
        "post", post_url("post_restore"), BOARD_TOOL, prepare=_hidden_post
    ),
    "moderation:post_delete": Case("post", post_url("post_delete"), BOARD_TOOL),
    "moderation:post_undelete": Case(
        "post", post_url("post_undelete"), BOARD_TOOL, prepare=_deleted_post
    ),
    "moderation:thread_pin": Case("post", thread_url("thread_pin"), BOARD_TOOL),
    "moderation:thread_unpin": Case(
        "post",
        thread_url("thread_unpin"),
        BOARD_TOOL,
        prepare=lambda w: moderation.pin_thread(w.staff, w.thread),
    ),
    "moderation:thread_lock": Case("post", thread_url("thread_lock"), BOARD_TOOL),
    "moderation:thread_unlock": Case(
        "post",
        thread_url("thread_unlock"),
        BOARD_TOOL,
        prepare=lambda w: moderation.lock_thread(w.staff, w.thread),
    ),
    "moderation:thread_hide": Case(
        "post", thread_url("thread_hide"), BOARD_TOOL, data=lambda w: {"reason": "Review"}
    ),
    "moderation:thread_restore": Case(
        "post",
        thread_url("thread_restore"),
        BOARD_TOOL_UNSEEN,
        prepare=lambda w: moderation.hide_thread(w.staff, w.thread, reason="r"),
    ),
    "moderation:thread_delete": Case("post", thread_url("thread_delete"), BOARD_TOOL),
    "moderation:thread_undelete": Case(
        "post",
        thread_url("thread_undelete"),
        BOARD_TOOL_UNSEEN,
        prepare=lambda w: moderation.delete_thread(w.staff, w.thread),
    ),
    "moderation:thread_rename": Case(
        "post",
        thread_url("thread_rename"),
        BOARD_TOOL,
        data=lambda w: {"title": "A better title for this"},
    ),
    "moderation:thread_move": Case(
        "post", thread_url("thread_move"), BOARD_TOOL, data=lambda w: {"board": str(w.board_c.pk)}
    ),
    "moderation:thread_split": Case(
        "post",
        thread_url("thread_split"),
        BOARD_TOOL,
        data=lambda w: {"posts": [str(w.replies[1].pk)], "title": "Split off"},
    ),
    "moderation:thread_merge": Case(
        "post",
        thread_url("thread_merge"),
        BOARD_TOOL,
        data=lambda w: {"target": str(w.other_thread.pk)},
    ),
    "moderation:thread_purge": Case(
        "post",
        thread_url("thread_purge"),
        STAFF_TOOL,
        data=lambda w: {"confirm_title": w.thread.title},
    ),
    "members:pending": Case("get", lambda w: reverse("members:pending"), SIGN_UPS, logs=False),
    "members:decide#approve": Case(
        "post",
        lambda w: reverse("members:decide", args=[w.pending.pk]),
        SIGN_UPS,
        data=lambda w: {"decision": "approve"},
        check=lambda w, allowed: _membership_is(w, MembershipStatus.APPROVED, allowed),
    ),
    "members:decide#decline": Case(
        "post",
        lambda w: reverse("members:decide", args=[w.pending.pk]),
        SIGN_UPS,
        data=lambda w: {"decision": "decline"},
        check=lambda w, allowed: _membership_is(w, MembershipStatus.DECLINED, allowed),
    ),
}


def _membership_is(w: Any, decided: str, allowed: bool) -> None:
    w.pending.refresh_from_db()
    assert w.pending.membership_status == (decided if allowed else MembershipStatus.PENDING)


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
        "group_moderator": w.group_mod,
        "staff": w.staff,
    }[role]


def _world() -> Any:
    from tests.conftest import make_group, make_member

    w = make_world()
    w.target = make_member()  # the member that member tools act on
    # Board A's other moderator: a member of a group assigned as the moderators of board A (and
    # of board C, where moves go, as mod_a moderates both in person).
    w.group_mod = make_member()
    group = make_group("Board A moderators", w.group_mod)
    w.board_a.moderator_groups.add(group)
    w.board_c.moderator_groups.add(group)
    w.pending = make_member(approved=False)  # a sign-up awaiting approval
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


def case_keys() -> list[str]:
    """The matrix cases to run: every entry of every moderation URL, and the bare name of a URL
    without one (its cases then fail with a KeyError)."""
    keys = []
    for name in moderation_url_names():
        keys += sorted(k for k in MATRIX if _url_name(k) == name) or [name]
    return keys


def test_matrix_covers_every_moderation_url():
    names = moderation_url_names()
    assert names, "no moderation URLs found"
    assert {"members:pending", "members:decide"} <= set(names)
    covered = {_url_name(k) for k in MATRIX}
    assert set(names) - covered == set(), "moderation URLs without a matrix entry"
    assert covered - set(names) == set(), "matrix entries for URLs that no longer exist"
    for case in MATRIX.values():
        assert set(case.expect) == set(ROLES)
    assert case_keys() == sorted(MATRIX, key=lambda k: (_url_name(k), k))


def test_moderation_urls_are_found_outside_the_namespace_by_their_gate():
    """The finder that makes a new moderator view fail the matrix: a view anywhere that refuses
    unless the viewer moderates is a moderation URL; a page that only shows moderator controls
    to moderators (the thread page, the board page) is not."""
    names = set(moderation_url_names())
    assert {"forum:thread", "forum:board", "realtime:post_fragment", "forum:index"}.isdisjoint(
        names
    )

    def approve_view(request: Any) -> None:
        if not permissions.can_approve_members(request.user):
            raise PermissionDenied

    def lock_view(request: Any, thread_id: int) -> None:
        moderation.lock_thread(request.user, thread_id)

    def page_view(request: Any) -> None:
        permissions.can_moderate_thread(request.user, None)

    assert is_moderation_view(approve_view) and is_moderation_view(lock_view)
    assert not is_moderation_view(page_view)


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", case_keys())
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
    case.check(w, expected == OK)


# Things a viewer cannot even see answer 404 (no existence oracle): every thread/post URL on a
# hidden thread, for a member and for another board's moderator.
THREAD_OR_POST = [
    n
    for n, p in sorted(moderation_urls().items())
    if {"thread_id", "post_id"} & set(p.pattern.converters)
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
