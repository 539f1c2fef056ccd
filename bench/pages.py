#!/usr/bin/env python3
"""Page benchmark: SQL queries per page, and throughput/latency under load, against the bench
dataset (bench/seed), on daphne as in production, next to a plain 5 KB Django view.

    .venv/bin/python bench/pages.py --database-url postgres://postgres@127.0.0.1:5432/bench \
        [--workers 1 2] [--concurrency 20] [--duration 10]

Query counts come from django.test.Client + CaptureQueriesContext in this process against the
same database (second request of each page, so one-off work such as the first visit's
last_visit_at write is not counted). Throughput comes from the servers over HTTP/1.1
keep-alive on 127.0.0.1; the load generator shares the machine's cores with the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadgen import run_load  # noqa: E402
from bench.servers import bench_env, start_servers  # noqa: E402

TARGET_FRACTION = 0.40
MAX_QUERIES = 12


@dataclass
class Row:
    page: str
    who: str
    url: str
    queries: int | None
    status: int | None
    size: int | None
    rps: float | None = None
    p50: float | None = None
    p99: float | None = None
    fraction: float | None = None
    non_2xx: int = 0
    conn_errors: int = 0


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(
        {
            k: env[k]
            for k in (
                "DJANGO_SETTINGS_MODULE",
                "DATABASE_URL",
                "REDIS_URL",
                "DATA_DIR",
                "DEBUG",
                "PRODUCTION",
                "SECRET_KEY",
                "ALLOWED_HOSTS",
                "LOG_LEVEL",
            )
        }
    )
    import django

    django.setup()


def pick_targets(search_q: str) -> tuple[list[tuple[str, str, bool]], Any]:
    """(name, url, member_only) for each page, and the member the bench signs in as."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from forum.models import Board, Thread, Visibility

    board = (
        Board.objects.filter(visibility=Visibility.ANYONE)
        .exclude(slug="announcements")
        .order_by("-post_count")
        .first()
    )
    if board is None:
        raise SystemExit("No boards: run bench/seed first.")
    typical = (
        Thread.objects.filter(
            board__visibility=Visibility.ANYONE, post_count__gte=20, post_count__lte=40
        )
        .order_by("id")
        .first()
    )
    big = Thread.objects.order_by("-post_count", "id").first()
    per = 20
    from django.conf import settings

    per = settings.FORUM["POSTS_PER_PAGE"]
    last_page = max(1, -(-big.post_count // per))
    board_last = max(1, -(-board.thread_count // settings.FORUM["THREADS_PER_PAGE"]))
    member = (
        get_user_model()
        .objects.filter(is_staff=False, is_active=True)
        .annotate(n=Count("notifications"))
        .order_by("-n", "id")
        .first()
    )
    pages = [
        ("board index", "/", False),
        (
            f"board page ({board.slug}, {board.thread_count} threads)",
            board.get_absolute_url(),
            False,
        ),
        (
            f"last board page ({board_last})",
            board.get_absolute_url() + f"?page={board_last}",
            False,
        ),
        (
            f"thread page 1 ({typical.post_count} posts)",
            typical.get_absolute_url() + "?page=1",
            False,
        ),
        (
            f"last page of {big.post_count}-post thread",
            big.get_absolute_url() + f"?page={last_page}",
            False,
        ),
        (f"search '{search_q}'", "/search/?q=" + search_q.replace(" ", "+"), False),
        ("inbox", "/notifications/", True),
    ]
    return pages, member


def member_cookie(member: Any) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(member)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def count_queries(url: str, cookie: str | None) -> tuple[int, int, int]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    if cookie:
        name, value = cookie.split("=", 1)
        client.cookies[name] = value
    client.get(url)
    with CaptureQueriesContext(connection) as ctx:
        resp = client.get(url)
    return len(ctx.captured_queries), resp.status_code, len(resp.content)


def fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_table(rows: list[Row], workers: int, plain_rps: float) -> None:
    print(
        f"\n== {workers} daphne process(es); plain 5 KB view (anonymous) = {plain_rps:.0f} req/s =="
    )
    print(
        f"{'page':<44} {'who':<9} {'queries':>7} {'status':>6} {'KB':>6} {'req/s':>7} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'of plain':>8}"
    )
    for r in rows:
        flag = ""
        if r.queries is not None and r.queries > MAX_QUERIES:
            flag += " >12 queries"
        if (
            r.page.startswith("thread page")
            and r.fraction is not None
            and (r.fraction < TARGET_FRACTION)
        ):
            flag += " <40%"
        if r.non_2xx or r.conn_errors:
            flag += f" non-2xx={r.non_2xx} errors={r.conn_errors}"
        print(
            f"{r.page[:44]:<44} {r.who:<9} {fmt(r.queries, 'd'):>7} {fmt(r.status, 'd'):>6} "
            f"{fmt((r.size or 0) / 1024, '.1f'):>6} {fmt(r.rps, '.0f'):>7} "
            f"{fmt(r.p50, '.1f'):>7} {fmt(r.p99, '.1f'):>7} "
            f"{fmt(r.fraction * 100 if r.fraction is not None else None, '.0f'):>7}%{flag}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description="Page benchmark (issue 6.2)")
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench"),
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--concurrency", type=int, default=20)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--search", default="advisory committee")
    p.add_argument("--only", default="", help="comma-separated substrings of page names")
    p.add_argument("--queries-only", action="store_true")
    p.add_argument("--json", default="", help="write the figures to this file too")
    args = p.parse_args()

    env = bench_env(args.database_url, args.redis_url)
    setup_django(env)
    pages, member = pick_targets(args.search)
    if args.only:
        keep = [s.strip() for s in args.only.split(",")]
        pages = [pg for pg in pages if any(k in pg[0] for k in keep)]
    cookie = member_cookie(member)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; {platform.node()}; "
        f"{os.cpu_count()} cores; Python {platform.python_version()}"
    )
    print(
        f"member: {member.username} (id {member.pk}); concurrency {args.concurrency}, "
        f"{args.duration:.0f} s per page after {args.warmup:.0f} s warm-up"
    )

    plain = ("plain 5 KB view", "/bench/plain/", False)
    base_rows: list[Row] = []
    for name, url, member_only in [plain, *pages]:
        for who, ck in (("anonymous", None), ("member", cookie)):
            if member_only and ck is None:
                continue
            q, status, size = count_queries(url, ck)
            base_rows.append(Row(name, who, url, q, status, size))
    if args.queries_only:
        print_table(base_rows, 0, 0.0)
        return

    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "cpus": os.cpu_count(),
        "runs": {},
    }
    for workers in args.workers:
        servers = start_servers(env, workers=workers)
        try:
            rows = [Row(**asdict(r)) for r in base_rows]
            plain_rps = 0.0
            for r in rows:
                headers = {"Cookie": cookie} if r.who == "member" else {}
                res = asyncio.run(
                    run_load(
                        servers.base + r.url,
                        concurrency=args.concurrency,
                        duration=args.duration,
                        warmup=args.warmup,
                        headers=headers,
                    )
                )
                r.rps, r.p50, r.p99 = res.rps, res.pct(50), res.pct(99)
                r.non_2xx = sum(n for s, n in res.statuses.items() if not 200 <= s < 300)
                r.conn_errors = sum(res.errors.values())
                if r.page == plain[0] and r.who == "anonymous":
                    plain_rps = r.rps
                r.fraction = r.rps / plain_rps if plain_rps else None
                print(f"  measured {r.page} / {r.who}: {r.rps:.0f} req/s", flush=True)
            print_table(rows, workers, plain_rps)
            errors = servers.errors_in_logs()
            if errors:
                print(f"server logged {len(errors)} error line(s), e.g. {errors[0]}")
            report["runs"][str(workers)] = [asdict(r) for r in rows]
        finally:
            servers.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
