#!/usr/bin/env python3
"""Load without loss (issue 6.5): M members reply to the same T threads through HTTP for a
fixed time, then every accepted reply is checked in the database.

    .venv/bin/python bench/load_replies.py --database-url postgres://postgres@127.0.0.1:5432/bench \
        [--members 50] [--threads 5] [--duration 120] [--workers 2]

Each member has its own signed-in session (created in this process against the same
database) and posts with CSRF (cookie + X-CSRFToken) and X-Requested-With: XMLHttpRequest, so the
forum answers JSON. Every reply carries a unique client_token (the forum's double-submit
guard), which is how the check finds it again, and @mentions a "witness" member, whose mention
notification proves the notification was not lost either.

Rate limits are switched off for the servers (FORUM_RATE_LIMITS=0) and the daily notification
caps raised: this measures the write path, not the anti-abuse policy. The bench members are
ordinary approved members (no staff or moderator rights).

Checks: each accepted reply (200 + post id) is in the database exactly once, by its author, in
its thread; no client_token appears twice; every counter in the database is exact
(bench/checks.py: thread post_count == count == max(number), board, user, reactions); each
thread's, board's and member's counter moved by exactly the number of new replies; each reply
has its witness's mention notification; zero 5xx.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import string
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.servers import bench_env, start_servers  # noqa: E402

SERVER_EXTRA = {
    "FORUM_RATE_LIMITS": "0",
    "FORUM_NOTIFY_SENDER_DAILY_CAP": "1000000",
    "FORUM_NOTIFY_RECIPIENT_DAILY_CAP": "1000000",
}


@dataclass
class BenchMember:
    id: int
    username: str
    headers: dict[str, str]
    witness_id: int
    witness: str


@dataclass
class Outcome:
    member_id: int
    thread_id: int
    token: str
    status: int | None = None  # None: no HTTP answer (connection error)
    post_id: int | None = None
    error: str = ""
    attempts: int = 0
    t_start: float = 0.0
    t_done: float = 0.0

    @property
    def accepted(self) -> bool:
        return self.status == 200 and self.post_id is not None


@dataclass
class ReplyRun:
    run_id: str
    members: list[BenchMember]
    thread_ids: list[int]
    outcomes: list[Outcome] = field(default_factory=list)
    before: dict[str, Any] = field(default_factory=dict)


def setup_django(env: dict[str, str]) -> None:
    for key in (
        "DJANGO_SETTINGS_MODULE",
        "DATABASE_URL",
        "REDIS_URL",
        "DATA_DIR",
        "DEBUG",
        "PRODUCTION",
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "LOG_LEVEL",
        *SERVER_EXTRA,
    ):
        if key in env:
            os.environ[key] = env[key]
    import django

    django.setup()


def prepare(
    n_members: int, n_threads: int, seed: int = 7, thread_ids: list[int] | None = None
) -> ReplyRun:
    """Pick members, witnesses and threads (or use thread_ids, to compare two runs on the same
    threads and boards); sign the members in (sessions in the database)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from forum import permissions
    from forum.models import Board, PostingRule, Thread, Visibility

    rng = random.Random(seed)
    users = list(
        get_user_model()
        .objects.filter(
            is_active=True,
            is_staff=False,
            membership_status="approved",
            groups__isnull=True,
            suspended_until__isnull=True,
            silenced_until__isnull=True,
        )
        .order_by("id")[: 4 * n_members]
    )
    if len(users) < 2 * n_members:
        raise SystemExit("Not enough members: run bench/seed first.")
    rng.shuffle(users)
    repliers, witnesses = users[:n_members], users[n_members : 2 * n_members]
    boards = Board.objects.filter(visibility=Visibility.ANYONE, reply_rule=PostingRule.MEMBERS)
    candidates = Thread.objects.filter(
        board__in=boards,
        is_locked=False,
        is_hidden=False,
        is_deleted=False,
        merged_into__isnull=True,
    )
    if thread_ids:
        threads = list(candidates.filter(pk__in=thread_ids).order_by("id"))
        if len(threads) != len(set(thread_ids)):
            raise SystemExit(f"not every thread of {thread_ids} is open to member replies")
    else:
        threads = list(
            candidates.filter(post_count__gte=5, post_count__lte=60).order_by("id")[:n_threads]
        )
    for t in threads:
        for u in repliers[:3]:
            assert permissions.can_reply(u, t), f"{u} cannot reply to thread {t.pk}"
    members = []
    for u, w in zip(repliers, witnesses, strict=True):
        client = Client()
        client.force_login(u)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        headers = {
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; "
            f"{settings.CSRF_COOKIE_NAME}={csrf}",
            "X-CSRFToken": csrf,
            "X-Requested-With": "XMLHttpRequest",
        }
        members.append(BenchMember(u.pk, u.username, headers, w.pk, w.username))
    run = ReplyRun(
        run_id=f"r{int(time.time())}{secrets.token_hex(2)}",
        members=members,
        thread_ids=[t.pk for t in threads],
    )
    run.before = snapshot(run)
    return run


def snapshot(run: ReplyRun) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from forum.models import Board, Thread

    threads = {
        t.pk: (t.post_count, t.board_id) for t in Thread.objects.filter(pk__in=run.thread_ids)
    }
    board_ids = {b for _, b in threads.values()}
    return {
        "threads": {k: v[0] for k, v in threads.items()},
        "thread_board": {k: v[1] for k, v in threads.items()},
        "boards": dict(Board.objects.filter(pk__in=board_ids).values_list("id", "post_count")),
        "users": dict(
            get_user_model()
            .objects.filter(pk__in=[m.id for m in run.members])
            .values_list("id", "post_count")
        ),
    }


def reply_body(run: ReplyRun, member: BenchMember, seq: int) -> str:
    return (
        f"Load run {run.run_id}, reply {seq} from {member.username}. "
        f"@{member.witness} our advisory committee met again and the internship hours "
        f"tracker is finally shared with every site.\n\n- sign-in sheet\n- next steps"
    )


async def post_reply(
    session: aiohttp.ClientSession,
    base: str,
    run: ReplyRun,
    member: BenchMember,
    outcome: Outcome,
    seq: int,
) -> None:
    """One attempt; fills outcome.status/post_id/error."""
    outcome.attempts += 1
    data = {"body": reply_body(run, member, seq), "client_token": outcome.token}
    try:
        async with session.post(
            f"{base}/t/{outcome.thread_id}/reply/",
            data=data,
            headers=member.headers,
            allow_redirects=False,
        ) as resp:
            outcome.status = resp.status
            text = await resp.text()
            if resp.status == 200:
                try:
                    outcome.post_id = int((await resp.json(content_type=None))["post_id"])
                except (ValueError, KeyError, TypeError):
                    outcome.error = "200 without post_id: " + text[:120]
            else:
                outcome.error = text[:200]
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        outcome.status = None
        outcome.error = type(exc).__name__


async def member_loop(
    session: aiohttp.ClientSession,
    base: str,
    run: ReplyRun,
    member: BenchMember,
    index: int,
    stop_at: float,
    retries: int,
    retry_pause: float,
) -> None:
    """Reply as fast as the server answers; a failed attempt (no answer or 5xx) is retried
    with the same client_token, as the forum's client does, up to `retries` times."""
    rng = random.Random(index)
    seq = 0
    while time.monotonic() < stop_at:
        seq += 1
        outcome = Outcome(
            member.id,
            rng.choice(run.thread_ids),
            f"{run.run_id}-{index}-{seq}",
            t_start=time.monotonic(),
        )
        run.outcomes.append(outcome)
        await post_reply(session, base, run, member, outcome, seq)
        while (outcome.status is None or outcome.status >= 500) and outcome.attempts <= retries:
            await asyncio.sleep(retry_pause)
            await post_reply(session, base, run, member, outcome, seq)
        outcome.t_done = time.monotonic()
        if not outcome.accepted:
            await asyncio.sleep(0.2)


async def run_replies(
    base: str, run: ReplyRun, duration: float, *, retries: int = 0, retry_pause: float = 1.0
) -> None:
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=len(run.members) + 10)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        stop_at = time.monotonic() + duration
        await asyncio.gather(
            *(
                member_loop(session, base, run, m, i, stop_at, retries, retry_pause)
                for i, m in enumerate(run.members)
            )
        )


def verify(run: ReplyRun) -> dict[str, Any]:
    """Check the database against what the clients were told. Returns the findings."""
    from django.contrib.auth import get_user_model

    from bench.checks import check_counters
    from forum.models import Board, Notification, NotificationKind, Post, Thread

    accepted = [o for o in run.outcomes if o.accepted]
    stored = list(
        Post.objects.filter(client_token__startswith=run.run_id + "-").values_list(
            "id", "client_token", "author_id", "thread_id"
        )
    )
    by_token: dict[str, list[tuple]] = defaultdict(list)
    for row in stored:
        by_token[row[1]].append(row)
    problems: list[str] = []
    dupes = {t: rows for t, rows in by_token.items() if len(rows) > 1}
    if dupes:
        problems.append(f"{len(dupes)} client tokens stored more than once")
    for o in accepted:
        rows = by_token.get(o.token, [])
        if len(rows) != 1:
            problems.append(f"accepted {o.token} (post {o.post_id}) stored {len(rows)} times")
        elif rows[0][0] != o.post_id or rows[0][2] != o.member_id or rows[0][3] != o.thread_id:
            problems.append(f"accepted {o.token}: stored as {rows[0]}, told post {o.post_id}")
    accepted_tokens = {o.token for o in accepted}
    unacknowledged = [t for t in by_token if t not in accepted_tokens]

    per_thread = Counter(r[3] for r in stored)
    per_user = Counter(r[2] for r in stored)
    after_threads = dict(
        Thread.objects.filter(pk__in=run.thread_ids).values_list("id", "post_count")
    )
    for tid, before in run.before["threads"].items():
        if after_threads[tid] - before != per_thread.get(tid, 0):
            problems.append(
                f"thread {tid}: post_count moved {after_threads[tid] - before}, "
                f"{per_thread.get(tid, 0)} new posts"
            )
    per_board: Counter = Counter()
    for tid, n in per_thread.items():
        per_board[run.before["thread_board"][tid]] += n
    after_boards = dict(
        Board.objects.filter(pk__in=run.before["boards"]).values_list("id", "post_count")
    )
    for bid, before in run.before["boards"].items():
        if after_boards[bid] - before < per_board.get(bid, 0):
            problems.append(
                f"board {bid}: post_count moved {after_boards[bid] - before}, "
                f"at least {per_board.get(bid, 0)} expected"
            )
    after_users = dict(
        get_user_model().objects.filter(pk__in=run.before["users"]).values_list("id", "post_count")
    )
    for uid, before in run.before["users"].items():
        if after_users[uid] - before != per_user.get(uid, 0):
            problems.append(
                f"member {uid}: post_count moved {after_users[uid] - before}, "
                f"{per_user.get(uid, 0)} new posts"
            )
    witness_of = {m.id: m.witness_id for m in run.members}
    notes = Counter(
        Notification.objects.filter(
            kind=NotificationKind.MENTION, post_id__in=[r[0] for r in stored]
        ).values_list("post_id", "recipient_id")
    )
    missing_notes = [r for r in stored if notes.get((r[0], witness_of[r[2]]), 0) != 1]
    if missing_notes:
        problems.append(
            f"{len(missing_notes)} replies without exactly one mention "
            f"notification for their witness (e.g. post {missing_notes[0][0]})"
        )
    if not accepted:
        problems.append("no reply was accepted at all")
    bad_counters = {k: v for k, v in check_counters(verbose=False).items() if v}
    if bad_counters:
        problems.append(f"counter checks failed: {bad_counters}")
    statuses = Counter(o.status for o in run.outcomes)
    return {
        "attempted": len(run.outcomes),
        "accepted": len(accepted),
        "stored": len(stored),
        "unacknowledged_but_stored": len(unacknowledged),
        "statuses": dict(statuses),
        "server_errors_5xx": sum(n for s, n in statuses.items() if s and s >= 500),
        "no_answer": statuses.get(None, 0),
        "retried": sum(1 for o in run.outcomes if o.attempts > 1),
        "notifications_checked": len(stored) - len(missing_notes),
        "problems": problems,
    }


def print_report(run: ReplyRun, result: dict[str, Any], duration: float) -> None:
    lat = sorted(o.t_done - o.t_start for o in run.outcomes if o.accepted)
    p = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: 0)
    print(
        f"attempted {result['attempted']}, accepted {result['accepted']} "
        f"({result['accepted'] / duration:.1f} replies/s), stored {result['stored']}, "
        f"stored but not acknowledged {result['unacknowledged_but_stored']}"
    )
    print(
        f"statuses {result['statuses']}; 5xx {result['server_errors_5xx']}; "
        f"no answer {result['no_answer']}; retried {result['retried']}"
    )
    print(f"reply latency p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms")
    print(
        f"mention notifications present for {result['notifications_checked']} of "
        f"{result['stored']} replies"
    )
    refusals = Counter(o.error[:80] for o in run.outcomes if o.status and 400 <= o.status < 500)
    if refusals:
        print(f"refusals: {dict(refusals.most_common(3))}")
    if result["problems"]:
        print("PROBLEMS:")
        for line in result["problems"][:20]:
            print("  " + line)
    else:
        print(
            "OK: every accepted reply stored exactly once, counters exact, "
            "notifications present, no 5xx"
            if not result["server_errors_5xx"]
            else "stored data OK, but there were 5xx answers"
        )


def main() -> None:
    p = argparse.ArgumentParser(description="Reply load without loss (issue 6.5)")
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench"),
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    p.add_argument("--members", type=int, default=50)
    p.add_argument("--threads", type=int, default=5)
    p.add_argument("--duration", type=float, default=120.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument(
        "--thread-ids",
        type=int,
        nargs="+",
        default=None,
        help="reply to these threads (default: the first --threads open threads of 5-60 posts)",
    )
    args = p.parse_args()

    env = bench_env(args.database_url, args.redis_url, extra=SERVER_EXTRA)
    setup_django(env)
    run = prepare(args.members, args.threads, thread_ids=args.thread_ids)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; {os.cpu_count()} cores; "
        f"run {run.run_id}: {len(run.members)} members -> threads {run.thread_ids} "
        f"(boards {sorted(set(run.before['thread_board'].values()))}), "
        f"{args.duration:.0f} s, {args.workers} daphne process(es), PostgreSQL, Redis"
    )
    servers = start_servers(env, workers=args.workers)
    try:
        t0 = time.monotonic()
        asyncio.run(run_replies(servers.base, run, args.duration))
        elapsed = time.monotonic() - t0
    finally:
        servers.stop()
    result = verify(run)
    print_report(run, result, elapsed)
    errors = servers.errors_in_logs()
    if errors:
        print(f"server logs: {len(errors)} error line(s), first: {errors[0]}")
    sys.exit(1 if result["problems"] or result["server_errors_5xx"] else 0)


if __name__ == "__main__":
    main()
