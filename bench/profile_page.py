#!/usr/bin/env python3
"""Profile one page in-process (Django test client, production-like settings): wall time per
request, and optionally a cProfile of N requests sorted by cumulative or internal time.

    .venv/bin/python bench/profile_page.py --database-url postgres://postgres@127.0.0.1:5432/bench \
        --url /t/123/some-slug/?page=1 [--member] [--n 50] [--profile] [--sort tottime]

Used to find where a page's time goes before changing code (issue 6 point 2).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.servers import bench_env  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description="Profile one page in-process")
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench"),
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    p.add_argument("--url", required=True)
    p.add_argument("--member", action="store_true", help="as the bench member (pages.py's)")
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--sort", default="cumulative")
    p.add_argument("--lines", type=int, default=40)
    p.add_argument("--callers", default="", help="also print who calls functions matching this")
    args = p.parse_args()

    env = bench_env(args.database_url, args.redis_url)
    for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DATA_DIR", "DEBUG"):
        os.environ[key] = env[key]
    os.environ["SECRET_KEY"] = env["SECRET_KEY"]
    os.environ["ALLOWED_HOSTS"] = env["ALLOWED_HOSTS"]
    import django

    django.setup()
    from django.test import Client

    from bench.pages import pick_targets

    client = Client(HTTP_HOST="127.0.0.1")
    if args.member:
        _, member = pick_targets("x")
        client.force_login(member)
    for _ in range(3):
        resp = client.get(args.url)
    print(f"{args.url}: status {resp.status_code}, {len(resp.content)} bytes")
    times, cpu = [], []
    prof = cProfile.Profile() if args.profile else None
    for _ in range(args.n):
        t0, c0 = time.perf_counter(), time.process_time()
        if prof:
            prof.enable()
        client.get(args.url)
        if prof:
            prof.disable()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    print(
        f"{args.n} requests: median {statistics.median(times):.1f} ms, "
        f"min {min(times):.1f} ms, max {max(times):.1f} ms; CPU of this process median "
        f"{statistics.median(cpu):.1f} ms, min {min(cpu):.1f} ms"
    )
    if prof:
        stats = pstats.Stats(prof).sort_stats(args.sort)
        stats.print_stats(args.lines)
        if args.callers:
            stats.print_callers(args.callers)


if __name__ == "__main__":
    main()
