"""Membership approval: staff see pending sign-ups and approve or decline with one click."""

from __future__ import annotations

import pytest

from accounts.models import MembershipStatus
from forum import permissions
from tests.conftest import client_for, make_board, make_member, make_staff


@pytest.fixture
def pending(db):
    return make_member("newbie", approved=False, display_name="Nina Newcomer")


@pytest.mark.django_db
def test_pending_members_lists_sign_ups_for_staff(pending):
    response = client_for(make_staff("admin")).get("/members/pending/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nina Newcomer" in html
    assert f'action="/members/pending/{pending.pk}/"' in html
    assert 'value="approve"' in html and 'value="decline"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["member", "moderator"])
def test_pending_members_refused_for_non_staff(pending, who):
    user = make_member("maria")
    if who == "moderator":
        make_board(moderators=[user])
    client = client_for(user)
    assert client.get("/members/pending/").status_code == 403
    response = client.post(f"/members/pending/{pending.pk}/", {"decision": "approve"})
    assert response.status_code == 403
    pending.refresh_from_db()
    assert pending.membership_status == MembershipStatus.PENDING


@pytest.mark.django_db
def test_pending_members_visitor_refused(pending):
    assert client_for().post(
        f"/members/pending/{pending.pk}/", {"decision": "approve"}
    ).status_code in (302, 403)
    pending.refresh_from_db()
    assert pending.membership_status == MembershipStatus.PENDING


@pytest.mark.django_db
def test_decide_membership_approve_lets_member_post(pending, monkeypatch):
    told = []
    from forum import notifications

    monkeypatch.setattr(
        notifications,
        "notify_membership_approved",
        lambda member, staff: told.append((member.pk, staff.pk)),
    )
    admin = make_staff("admin")
    assert permissions.posting_refusal(pending) is not None
    response = client_for(admin).post(f"/members/pending/{pending.pk}/", {"decision": "approve"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.membership_status == MembershipStatus.APPROVED
    assert pending.approved_by == admin
    assert pending.approved_at is not None
    assert told == [(pending.pk, admin.pk)]
    assert permissions.posting_refusal(pending) is None
    # Gone from the queue.
    assert "Nina Newcomer" not in client_for(admin).get("/members/pending/").content.decode()


@pytest.mark.django_db
def test_decide_membership_decline_keeps_member_from_posting(pending):
    admin = make_staff("admin")
    response = client_for(admin).post(f"/members/pending/{pending.pk}/", {"decision": "decline"})
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.membership_status == MembershipStatus.DECLINED
    assert permissions.posting_refusal(pending) is not None
    assert "Nina Newcomer" not in client_for(admin).get("/members/pending/").content.decode()


@pytest.mark.django_db
def test_decide_membership_unknown_decision_changes_nothing(pending):
    response = client_for(make_staff("admin")).post(
        f"/members/pending/{pending.pk}/", {"decision": "maybe"}, follow=True
    )
    assert response.status_code == 200
    assert "Choose approve or decline." in response.content.decode()
    pending.refresh_from_db()
    assert pending.membership_status == MembershipStatus.PENDING


@pytest.mark.django_db
def test_decide_membership_missing_member_is_404():
    response = client_for(make_staff("admin")).post(
        "/members/pending/999999/", {"decision": "approve"}
    )
    assert response.status_code == 404
