#!/usr/bin/env python3
"""Faults during load (issue 6.6). Three scenarios, each under a bounded reply + read load:

  redis     a private Redis (servers use it for the channel layer and cache) is stopped for
            --outage seconds, then restarted on the same port
  daphne    one of two daphne processes (sharing one listening socket) is killed with SIGKILL
  database  the bench database refuses connections for --outage seconds
            (ALTER DATABASE ... ALLOW_CONNECTIONS false + pg_terminate_backend on its sessions;
            the cluster and every other database keep running)

    .venv/bin/python bench/faults.py --database-url postgres://postgres@127.0.0.1:5432/bench \
        [--scenarios redis daphne database] [--duration 40] [--fault-at 12] [--outage 5]

During each run: M members reply to T threads (a reply that gets no answer or a 5xx is retried
with the same client_token, as the forum's client does), R readers fetch a thread page, and a
websocket client follows one thread's stream (reconnecting with last_id like static/js). A
per-second timeline shows what clients saw. Afterwards bench/load_replies.verify checks that
every accepted reply is stored exactly once with its mention notification and that every
counter is exact; the websocket client's events are compared with the event log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load_replies as lr  # noqa: E402
from bench.servers import bench_env, free_port, start_servers  # noqa: E402

DATA = os.environ.get("DATA_DIR", "/tmp/carocp-bench-data")


class Timeline:
    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.rows: dict[int, Counter] = defaultdict(Counter)
        self.marks: list[tuple[float, str]] = []

    def add(self, what: str, n: int = 1) -> None:
        self.rows[int(time.monotonic() - self.t0)][what] += n

    def mark(self, text: str) -> None:
        self.marks.append((time.monotonic() - self.t0, text))
        print(f"  [{time.monotonic() - self.t0:5.1f} s] {text}", flush=True)

    def print(self) -> None:
        cols = sorted({k for c in self.rows.values() for k in c})
        print("  second " + " ".join(f"{c:>14}" for c in cols))
        for sec in sorted(self.rows):
            marks = "; ".join(t for at, t in self.marks if int(at) == sec)
            print(
                f"  {sec:6d} "
                + " ".join(f"{self.rows[sec].get(c, 0):>14}" for c in cols)
                + (f"   <- {marks}" if marks else "")
            )


# ---------------------------------------------------------------- load pieces


async def readers(base: str, urls: list[str], stop_at: float, tl: Timeline, n: int = 3) -> Counter:
    statuses: Counter = Counter()
    timeout = aiohttp.ClientTimeout(total=30)

    async def one(i: int) -> None:
        async with aiohttp.ClientSession(timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()) as s:
            k = i
            while time.monotonic() < stop_at:
                url = urls[k % len(urls)]
                k += 1
                try:
                    async with s.get(base + url, allow_redirects=False) as r:
                        body = await r.text()
                        statuses[r.status] += 1
                        tl.add(f"read {r.status}")
                        if r.status >= 500 and "read_5xx_sample" not in statuses:
                            statuses["read_5xx_sample"] = 0
                            print(f"    reader got {r.status}: {body[:160]!r}")
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                    statuses[type(exc).__name__] += 1
                    tl.add("read no-answer")
                    await asyncio.sleep(0.2)
                await asyncio.sleep(0.1)

    await asyncio.gather(*(one(i) for i in range(n)))
    return statuses


async def watcher(base: str, stream: str, stop_at: float, tl: Timeline) -> dict[str, Any]:
    """Follow one stream like the browser: reconnect with backoff, resume with last_id."""
    import websockets

    ws_url = base.replace("http://", "ws://") + "/ws/"
    seen: list[int] = []
    reconnects = 0
    last_id: int | None = None
    while time.monotonic() < stop_at:
        try:
            async with websockets.connect(ws_url, origin=base, open_timeout=5) as ws:
                sub: dict[str, Any] = {"type": "subscribe", "stream": stream}
                if last_id is not None:
                    sub["last_id"] = last_id
                await ws.send(json.dumps(sub))
                while time.monotonic() < stop_at:
                    try:
                        raw = await asyncio.wait_for(ws.recv(), timeout=1.0)
                    except TimeoutError:
                        continue
                    frame = json.loads(raw)
                    if frame.get("type") == "event" and frame.get("stream") == stream:
                        seen.append(frame["id"])
                        last_id = max(last_id or 0, frame["id"])
                        tl.add("ws event")
                    elif frame.get("type") == "subscribed" and last_id is None:
                        last_id = frame.get("last_id")
        except Exception as exc:  # noqa: BLE001 (any failure: reconnect, as the client does)
            reconnects += 1
            tl.add("ws reconnect")
            if reconnects < 3 or reconnects % 10 == 0:
                print(f"    websocket: {type(exc).__name__}: {str(exc)[:100]}")
            await asyncio.sleep(min(5.0, 0.5 * reconnects))
    return {"seen": seen, "reconnects": reconnects}


async def replies(base: str, run: lr.ReplyRun, stop_at: float, tl: Timeline) -> None:
    """Like lr.run_replies, but feeding the timeline."""
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=len(run.members) + 10)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:

        async def loop(i: int, m: lr.BenchMember) -> None:
            seq = 0
            while time.monotonic() < stop_at:
                seq += 1
                o = lr.Outcome(
                    m.id,
                    run.thread_ids[(i + seq) % len(run.thread_ids)],
                    f"{run.run_id}-{i}-{seq}",
                    t_start=time.monotonic(),
                )
                run.outcomes.append(o)
                while True:
                    await lr.post_reply(session, base, run, m, o, seq)
                    tl.add("reply " + (str(o.status) if o.status else "no-answer"))
                    if o.status is not None and o.status < 500:
                        break
                    if o.status and o.status >= 500 and not getattr(replies, "_shown", 0):
                        replies._shown = 1  # type: ignore[attr-defined]
                        print(f"    reply got {o.status}: {o.error[:160]!r}")
                    if o.attempts > 20 or time.monotonic() > stop_at + 20:
                        break
                    await asyncio.sleep(1.0)
                o.t_done = time.monotonic()
                await asyncio.sleep(0.3)

        await asyncio.gather(*(loop(i, m) for i, m in enumerate(run.members)))


# ---------------------------------------------------------------- faults


def redis_server(port: int) -> None:
    subprocess.run(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--pidfile",
            f"{DATA}/bench-redis-{port}.pid",
            "--logfile",
            f"{DATA}/bench-redis-{port}.log",
        ],
        check=True,
    )
    for _ in range(50):
        if (
            subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True
            ).stdout.strip()
            == "PONG"
        ):
            return
        time.sleep(0.1)
    raise RuntimeError("private redis did not start")


def redis_stop(port: int) -> None:
    subprocess.run(["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True)


def db_admin(database_url: str) -> tuple[str, str]:
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    return admin, name


def db_block(database_url: str) -> None:
    import psycopg

    admin, name = db_admin(database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )


def db_unblock(database_url: str) -> None:
    import psycopg

    admin, name = db_admin(database_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


# ---------------------------------------------------------------- one scenario


def scenario(name: str, args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connections

    from realtime.models import StreamEvent

    print(f"\n=== {name}: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())} ===")
    redis_port = 0
    redis_url = args.redis_url
    if name == "redis":
        redis_port = free_port()
        redis_server(redis_port)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
    env = bench_env(args.database_url, redis_url, extra=lr.SERVER_EXTRA)
    run = lr.prepare(args.members, args.threads, seed=sum(map(ord, name)))
    from forum.models import Thread

    urls = [t.get_absolute_url() + "?page=1" for t in Thread.objects.filter(pk__in=run.thread_ids)]
    stream = f"thread:{run.thread_ids[0]}"
    top_before = (
        StreamEvent.objects.filter(stream=stream)
        .order_by("-seq")
        .values_list("seq", flat=True)
        .first()
        or 0
    )
    connections.close_all()
    servers = start_servers(env, workers=2, log_dir=f"{DATA}/bench-logs-{name}")
    tl = Timeline()
    try:

        async def main() -> tuple[Counter, dict[str, Any]]:
            stop_at = time.monotonic() + args.duration

            async def fault() -> None:
                await asyncio.sleep(args.fault_at)
                if name == "redis":
                    tl.mark("redis stopped")
                    await asyncio.to_thread(redis_stop, redis_port)
                    await asyncio.sleep(args.outage)
                    await asyncio.to_thread(redis_server, redis_port)
                    tl.mark("redis restarted")
                elif name == "daphne":
                    tl.mark(f"SIGKILL daphne pid {servers.procs[0].pid}")
                    await asyncio.to_thread(servers.kill, 0)
                    await asyncio.sleep(args.outage)
                    tl.mark(f"still alive: {servers.alive()}")
                elif name == "database":
                    tl.mark("database refuses connections, sessions terminated")
                    await asyncio.to_thread(db_block, args.database_url)
                    await asyncio.sleep(args.outage)
                    await asyncio.to_thread(db_unblock, args.database_url)
                    tl.mark("database accepts connections again")

            results = await asyncio.gather(
                replies(servers.base, run, stop_at, tl),
                readers(servers.base, urls, stop_at, tl),
                watcher(servers.base, stream, stop_at + 3, tl),
                fault(),
            )
            return results[1], results[2]

        read_statuses, ws = asyncio.run(main())
    finally:
        servers.stop()
        if redis_port:
            redis_stop(redis_port)
        if name == "database":
            db_unblock(args.database_url)
    tl.print()
    connections.close_all()
    result = lr.verify(run)
    lr.print_report(run, result, args.duration)
    db_seqs = set(
        StreamEvent.objects.filter(stream=stream, seq__gt=top_before).values_list("seq", flat=True)
    )
    seen = ws["seen"]
    first = min(seen) if seen else None
    expected = {s for s in db_seqs if first is not None and s >= first}
    missed = sorted(expected - set(seen))
    dup = len(seen) - len(set(seen))
    after_fault = [s for s in seen]  # every event id, in arrival order
    print(f"reads: {dict(read_statuses)}")
    print(
        f"websocket on {stream}: {len(seen)} events received, {len(db_seqs)} in the log "
        f"since start, missed {len(missed)} (from first received), duplicates {dup}, "
        f"reconnects {ws['reconnects']}"
    )
    errors = servers.errors_in_logs()
    print(f"server log error lines: {len(errors)}" + (f", first: {errors[0]}" if errors else ""))
    return {
        "scenario": name,
        "verify": result,
        "reads": dict(read_statuses),
        "ws_events": len(seen),
        "ws_missed": len(missed),
        "ws_duplicates": dup,
        "ws_reconnects": ws["reconnects"],
        "log_errors": len(errors),
        "last_event_ids": after_fault[-3:],
    }


def main() -> None:
    p = argparse.ArgumentParser(description="Faults under load (issue 6.6)")
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench"),
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    p.add_argument("--scenarios", nargs="+", default=["redis", "daphne", "database"])
    p.add_argument("--members", type=int, default=20)
    p.add_argument("--threads", type=int, default=5)
    p.add_argument("--duration", type=float, default=40.0)
    p.add_argument("--fault-at", type=float, default=12.0)
    p.add_argument("--outage", type=float, default=5.0)
    args = p.parse_args()
    env = bench_env(args.database_url, args.redis_url, extra=lr.SERVER_EXTRA)
    lr.setup_django(env)
    print(
        f"{os.cpu_count()} cores; {args.members} members replying, 3 readers, 1 websocket; "
        f"{args.duration:.0f} s per scenario, fault at {args.fault_at:.0f} s for "
        f"{args.outage:.0f} s"
    )
    summary = [scenario(name, args) for name in args.scenarios]
    print("\n=== summary ===")
    bad = False
    for s in summary:
        v = s["verify"]
        print(
            f"{s['scenario']:<9} accepted {v['accepted']:>5}  lost 0 of them: "
            f"{'yes' if not v['problems'] else 'NO'}  5xx to writers {v['server_errors_5xx']}"
            f"  reads {s['reads']}  ws missed {s['ws_missed']} dup {s['ws_duplicates']}"
        )
        bad = bad or bool(v["problems"])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
