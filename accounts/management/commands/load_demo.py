"""`manage.py load_demo`: a forum that shows what it is for. Idempotent: a second run adds nothing.

Members, groups and boards are found by their natural keys (username, group name, board slug);
a thread is found by (board, title) and only a newly created thread gets its replies. Posts go
through forum.actions (create_thread / reply_to_thread) so counters, search and read state are
exactly what real use would leave; afterwards the new posts are spread over the past weeks and
the "last post" fields are set from those times, so counters and orderings stay consistent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from accounts import demo_content as demo
from accounts.models import MembershipStatus
from forum import actions
from forum.models import Board, Post, Thread

User = get_user_model()


class Command(BaseCommand):
    help = "Load demo members, boards and conversations (safe to run again: adds nothing)."

    def handle(self, *args: Any, **options: Any) -> None:
        created = {"groups": 0, "members": 0, "boards": 0, "threads": 0, "replies": 0}
        # The demo writes a month of conversation in a second; rate limits and the duplicate
        # check are for people, not for this loader.
        forum = {**settings.FORUM, "RATE_LIMITS_ENABLED": False}
        with override_settings(FORUM=forum), transaction.atomic():
            groups = self._groups(created)
            members = self._members(groups, created)
            boards = self._boards(groups, members, created)
            self._threads(boards, members, created)
        summary = ", ".join(f"{n} {k}" for k, n in created.items())
        self.stdout.write(f"Demo data: created {summary}.")
        self.stdout.write("Demo logins (password: carocp-demo):")
        for username, role in (
            ("maria", "member"),
            ("james", "member"),
            ("dana", "member of Board members"),
            ("mod", "moderator of every board"),
            ("admin", "staff, superuser"),
        ):
            self.stdout.write(f"  {username:<7} {role}")

    def _groups(self, created: dict[str, int]) -> dict[str, Group]:
        groups = {}
        for name in demo.GROUPS:
            groups[name], new = Group.objects.get_or_create(name=name)
            created["groups"] += new
        return groups

    def _members(self, groups: dict[str, Group], created: dict[str, int]) -> dict[str, Any]:
        members = {}
        now = timezone.now()
        # One hash for every demo login: the hasher is deliberately slow (about a second).
        password_hash = ""
        for spec in demo.MEMBERS:
            member = User.objects.filter(username=spec["username"]).first()
            if member is None:
                member = User(
                    username=spec["username"],
                    email=f"{spec['username']}@demo.carocp.example",
                    display_name=spec["display_name"],
                    organisation=spec["organisation"],
                    job_title=spec["job_title"],
                    member_type=spec["member_type"],
                    region=spec["region"],
                    bio=spec["bio"],
                    is_staff=spec.get("is_staff", False),
                    is_superuser=spec.get("is_superuser", False),
                    membership_status=MembershipStatus.APPROVED,
                    approved_at=now,
                    date_joined=now - timedelta(days=spec["days_joined"]),
                )
                password_hash = password_hash or make_password(demo.DEMO_PASSWORD)
                member.password = password_hash
                member.save()
                member.groups.set([groups[name] for name in spec.get("groups", [])])
                created["members"] += 1
            members[spec["username"]] = member
        return members

    def _boards(
        self, groups: dict[str, Group], members: dict[str, Any], created: dict[str, int]
    ) -> dict[str, Board]:
        boards = {}
        moderators = [members[s["username"]] for s in demo.MEMBERS if s.get("moderates_all")]
        for spec in demo.BOARDS:
            board = Board.objects.filter(slug=spec["slug"]).first()
            if board is None:
                board = Board.objects.create(
                    slug=spec["slug"],
                    name=spec["name"],
                    description=spec["description"],
                    position=spec["position"],
                    visibility=spec["visibility"],
                    start_rule=spec["start_rule"],
                    reply_rule=spec["reply_rule"],
                )
                board_groups = [groups[name] for name in spec.get("groups", [])]
                board.visible_groups.set(board_groups)
                board.posting_groups.set(board_groups)
                board.moderators.set(moderators)
                created["boards"] += 1
            boards[spec["slug"]] = board
        return boards

    def _threads(
        self, boards: dict[str, Board], members: dict[str, Any], created: dict[str, int]
    ) -> None:
        now = timezone.now()
        touched: set[int] = set()
        for spec in demo.THREADS:
            board = boards[spec["board"]]
            if Thread.objects.filter(board=board, title=spec["title"]).exists():
                continue
            thread = actions.create_thread(
                members[spec["author"]], board, title=spec["title"], body=spec["body"]
            )
            start = (now - timedelta(days=spec["days_ago"])).replace(
                hour=16, minute=5, second=0, microsecond=0
            )
            times = [start]
            for author, hours, body in spec["replies"]:
                actions.reply_to_thread(members[author], thread, body=body)
                times.append(min(start + timedelta(hours=hours), now - timedelta(minutes=5)))
                created["replies"] += 1
            created["threads"] += 1
            self._backdate(thread, times)
            touched.add(board.pk)
        for board_id in touched:
            self._refresh_board_last_post(board_id)

    @staticmethod
    def _backdate(thread: Thread, times: list[datetime]) -> None:
        posts = list(Post.objects.filter(thread=thread).order_by("number"))
        for post, when in zip(posts, times, strict=True):
            Post.objects.filter(pk=post.pk).update(created_at=when)
        Thread.objects.filter(pk=thread.pk).update(
            created_at=times[0],
            last_post_at=times[-1],
            last_post=posts[-1],
            last_poster_id=posts[-1].author_id,
        )

    @staticmethod
    def _refresh_board_last_post(board_id: int) -> None:
        latest = (
            Post.objects.filter(thread__board_id=board_id, is_hidden=False, is_deleted=False)
            .order_by("-created_at", "-id")
            .first()
        )
        if latest is not None:
            Board.objects.filter(pk=board_id).update(
                last_post=latest, last_post_at=latest.created_at
            )
