#!/usr/bin/env python3
"""Idle-socket capacity of ONE daphne process (issue 4.9, issue 6.4): how many subscribed,
idle websockets it holds, and its memory per socket.

    flock /tmp/bench.lock .venv/bin/python bench/idle_sockets.py \
        --database-url postgres://postgres@127.0.0.1:5432/bench --sockets 5000

One daphne process (DEBUG off, PostgreSQL, channels-redis) is started; a separate client
process opens up to --sockets raw websockets (bench/fanout.RawWebSocket; they answer daphne's
pings like a browser) --batch at a time. Each socket does what a thread page's tab does: it
subscribes to one of --threads public threads and, when signed in (--signed-in fraction of the
sockets, spread over up to --members member sessions), to its member's inbox. The sockets then
stay idle for --hold seconds.

Reported: sockets held at the end, failures while opening, the server's RSS before the first
socket (after a warm-up of a few requests and sockets) and after the hold, memory per socket
(kB), the time to open them all, that the process still answers HTTP (the plain bench page and
a thread page, timed), and that a reply posted to a sample of the threads reaches every socket
subscribed to them (event latency from commit, measured as in bench/fanout.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout import (  # noqa: E402
    H4_EXTRA,
    RawWebSocket,
    add_live_bench_args,
    load_avg,
    machine,
    pct,
    raise_fd_limit,
    rss_kb,
    ws_connect,
)

# ---------------------------------------------------------------- client process


async def client_main(args: argparse.Namespace) -> None:
    """Open the sockets described in args.plan (JSON: [[cookie, [streams]], ...]); report
    progress; on SAMPLE, report event frames received per socket since the last SAMPLE."""
    raise_fd_limit()
    plan = json.loads(Path(args.plan).read_text())
    n = len(plan)
    events: list[list[tuple[float, str, int]]] = [[] for _ in range(n)]
    subscribed = [0] * n
    sockets: list[RawWebSocket | None] = [None] * n
    failures: Counter = Counter()

    def recorder(i: int) -> Any:
        box = events[i]

        def on_text(t: float, payload: bytes) -> None:
            if payload.startswith(b'{"type":"event"'):
                frame = json.loads(payload)
                box.append((t, frame["stream"], frame["id"]))
            elif payload.startswith(b'{"type":"subscribed"'):
                subscribed[i] += 1

        return on_text

    async def open_one(i: int) -> None:
        cookie, streams = plan[i]
        try:
            ws = await ws_connect("127.0.0.1", args.port, recorder(i), cookie=cookie, timeout=60)
        except Exception as exc:  # noqa: BLE001 (counted and reported, as a browser would retry)
            failures[type(exc).__name__ + ": " + str(exc)[:60]] += 1
            return
        sockets[i] = ws
        for stream in streams:
            ws.send_json({"type": "subscribe", "stream": stream})
        deadline = time.monotonic() + 60
        while subscribed[i] < len(streams) and time.monotonic() < deadline:
            if ws.closed.done():
                failures["closed while subscribing"] += 1
                return
            await asyncio.sleep(0.05)
        if subscribed[i] < len(streams):
            failures["subscribe timed out"] += 1

    t0 = time.monotonic()
    for start in range(0, n, args.batch):
        await asyncio.gather(*(open_one(i) for i in range(start, min(n, start + args.batch))))
        print(f"OPENED {min(n, start + args.batch)} {time.monotonic() - t0:.1f}", flush=True)
    print(f"READY {time.monotonic() - t0:.2f} {json.dumps(dict(failures))}", flush=True)
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        command = line.strip()
        if command == "COUNT":
            open_now = sum(1 for ws in sockets if ws is not None and not ws.closed.done())
            fully = sum(1 for i, (_, s) in enumerate(plan) if subscribed[i] >= len(s))
            print(f"COUNT {open_now} {fully}", flush=True)
        elif command == "SAMPLE":
            out = [box[:] for box in events]
            for box in events:
                box.clear()
            Path(args.out).write_text(json.dumps(out))
            print("SAMPLED", flush=True)
        else:
            for ws in sockets:
                if ws is not None:
                    ws.close()
            await asyncio.sleep(1)
            print("DONE", flush=True)
            return


class IdleClient:
    def __init__(self, port: int, plan_file: str, out: str, batch: int) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--client",
                "--port",
                str(port),
                "--plan",
                plan_file,
                "--out",
                out,
                "--batch",
                str(batch),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, command: str, answer: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("idle client exited")
            if line.startswith(answer):
                return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- bench process


def member_cookies(count: int) -> list[tuple[int, str]]:
    """Signed-in sessions (in the database, as the servers use) for up to `count` members."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    users = (
        get_user_model()
        .objects.filter(
            is_active=True,
            membership_status="approved",
            suspended_until__isnull=True,
            groups__isnull=True,
        )
        .order_by("id")[:count]
    )
    out = []
    for user in users:
        client = Client()
        client.force_login(user)
        out.append(
            (
                user.pk,
                f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}",
            )
        )
    return out


def public_threads(count: int) -> list[Any]:
    from forum.models import Board, PostingRule, Thread, Visibility

    boards = Board.objects.filter(visibility=Visibility.ANYONE, reply_rule=PostingRule.MEMBERS)
    return list(
        Thread.objects.filter(
            board__in=boards,
            is_locked=False,
            is_hidden=False,
            is_deleted=False,
            merged_into__isnull=True,
        )
        .select_related("board")
        .order_by("-last_post_at")[:count]
    )


def http_check(base: str, paths: list[str]) -> list[tuple[str, int, float]]:
    out = []
    for path in paths:
        t = time.perf_counter()
        try:
            with urllib.request.urlopen(base + path, timeout=30) as r:
                r.read()
                status = r.status
        except Exception as exc:  # noqa: BLE001 (reported)
            status = getattr(exc, "code", 0) or 0
        out.append((path, status, (time.perf_counter() - t) * 1000))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description="Idle websockets held by one daphne process")
    add_live_bench_args(p, "idle")
    p.add_argument("--sockets", type=int, default=5000)
    p.add_argument("--batch", type=int, default=100, help="sockets opening at once")
    p.add_argument("--threads", type=int, default=50)
    p.add_argument("--signed-in", type=float, default=0.5, help="fraction of signed-in sockets")
    p.add_argument("--members", type=int, default=500)
    p.add_argument("--hold", type=float, default=30.0, help="idle seconds before the checks")
    p.add_argument("--sample-threads", type=int, default=5)
    p.add_argument("--json", help="write the figures here")
    p.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--plan", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.client:
        asyncio.run(client_main(args))
        return

    from bench import load_replies as lr
    from bench.fanout import pick_thread_and_poster, post_replies
    from bench.servers import bench_env, start_servers

    fd_limit = raise_fd_limit()
    env = bench_env(
        args.database_url,
        args.redis_url,
        data_dir=args.data_dir,
        extra={**lr.SERVER_EXTRA, **H4_EXTRA},
    )
    os.environ.update(H4_EXTRA)
    lr.setup_django(env)
    from django.db import connections

    from realtime import access

    print(
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; {machine()}\n"
        f"load before: {load_avg()}\n"
        f"one daphne process, channels-redis on {args.redis_url}, database "
        f"{args.database_url.rsplit('/', 1)[-1]}; file-descriptor limit {fd_limit}",
        flush=True,
    )
    rng = random.Random(11)
    threads = public_threads(args.threads)
    members = member_cookies(args.members) if args.signed_in > 0 else []
    plan = []
    for i in range(args.sockets):
        thread = threads[i % len(threads)]
        streams = [f"thread:{thread.pk}"]
        cookie = ""
        if members and rng.random() < args.signed_in:
            uid, cookie = members[i % len(members)]
            streams.append(f"inbox:{uid}")
        plan.append((cookie, streams))
    signed_in = sum(1 for c, _ in plan if c)
    plan_file = f"{args.log_dir}-plan.json"
    Path(plan_file).write_text(json.dumps(plan))
    _, poster = pick_thread_and_poster()
    connections.close_all()

    servers = start_servers(env, workers=1, log_dir=args.log_dir)
    pid = servers.procs[0].pid
    client = None
    rss_samples: list[tuple[float, int]] = []
    try:
        # Warm-up: the code paths a socket and a page take, so RSS "before" is not imports.
        http_check(servers.base, ["/bench/plain/", threads[0].get_absolute_url()] * 3)

        async def warm() -> None:
            for _ in range(5):
                ws = await ws_connect("127.0.0.1", servers.port, lambda t, b: None)
                ws.send_json({"type": "subscribe", "stream": f"thread:{threads[0].pk}"})
                await asyncio.sleep(0.3)
                ws.close()
            await asyncio.sleep(2)

        asyncio.run(warm())
        rss_before = rss_kb(pid)
        print(f"daphne pid {pid} RSS before: {rss_before / 1024:.1f} MB", flush=True)
        client = IdleClient(servers.port, plan_file, f"{args.log_dir}-events.json", args.batch)
        t0 = time.monotonic()
        while True:
            line = client.proc.stdout.readline()
            if not line:
                raise RuntimeError("idle client exited while opening")
            rss_samples.append((time.monotonic() - t0, rss_kb(pid)))
            if line.startswith("READY"):
                _, seconds, failures_json = line.split(" ", 2)
                open_seconds = float(seconds)
                failures = json.loads(failures_json)
                break
            count = int(line.split()[1])
            if count % 1000 == 0 or count == args.sockets:
                print(
                    f"  {count} sockets opened in {line.split()[2]} s, "
                    f"RSS {rss_samples[-1][1] / 1024:.1f} MB",
                    flush=True,
                )
        print(f"holding them idle for {args.hold:.0f} s", flush=True)
        hold_until = time.monotonic() + args.hold
        while time.monotonic() < hold_until:
            time.sleep(min(5.0, max(0.0, hold_until - time.monotonic())))
            rss_samples.append((time.monotonic() - t0, rss_kb(pid)))
        rss_after = rss_kb(pid)
        held, fully = map(int, client.ask("COUNT", "COUNT").split()[1:3])
        http = http_check(
            servers.base,
            ["/bench/plain/", threads[0].get_absolute_url(), "/bench/plain/"],
        )
        # One reply in each sample thread; every socket subscribed to it must get the event.
        client.ask("SAMPLE", "SAMPLED")  # clear what arrived while idle (inbox etc.)
        sample = threads[: args.sample_threads]
        tops = {f"thread:{t.pk}": access.last_seq(f"thread:{t.pk}") for t in sample}
        committed: dict[int, float] = {}
        for t in sample:
            committed.update(post_replies(t, poster, 1, 0.2, f"idle-{int(time.time())}-{t.pk}"))
        time.sleep(3)
        client.ask("SAMPLE", "SAMPLED")
        received = json.loads(Path(f"{args.log_dir}-events.json").read_text())
        connections.close_all()
        from realtime.models import StreamEvent

        expected: dict[str, set[int]] = {}
        commit_at: dict[tuple[str, int], float] = {}
        for stream, top in tops.items():
            for seq, payload in StreamEvent.objects.filter(stream=stream, seq__gt=top).values_list(
                "seq", "payload"
            ):
                expected.setdefault(stream, set()).add(seq)
                if payload.get("post_id") in committed:
                    commit_at[(stream, seq)] = committed[payload["post_id"]]
        should = [i for i, (_, streams) in enumerate(plan) if streams[0] in expected]
        got_all = 0
        duplicates = 0
        latencies = []
        for i in should:
            stream = plan[i][1][0]
            ids = [seq for _, s, seq in received[i] if s == stream]
            duplicates += len(ids) - len(set(ids))
            if set(ids) >= expected[stream]:
                got_all += 1
            latencies += [
                (t - commit_at[(s, seq)]) * 1000
                for t, s, seq in received[i]
                if (s, seq) in commit_at
            ]
        client.ask("CLOSE", "DONE")
    finally:
        if client is not None:
            client.kill()
        servers.stop()
    errors = servers.errors_in_logs()
    per_socket = (rss_after - rss_before) / max(1, held)
    figures = {
        "sockets_requested": args.sockets,
        "signed_in": signed_in,
        "held": held,
        "fully_subscribed": fully,
        "open_failures": failures,
        "open_seconds": open_seconds,
        "rss_before_mb": rss_before / 1024,
        "rss_after_mb": rss_after / 1024,
        "kb_per_socket": per_socket,
        "rss_max_mb": max(kb for _, kb in rss_samples) / 1024,
        "http": http,
        "sample_sockets": len(should),
        "sample_got_all": got_all,
        "sample_duplicates": duplicates,
        "sample_latency_ms": {
            "p50": pct(latencies, 50),
            "p99": pct(latencies, 99),
            "max": max(latencies, default=float("nan")),
        },
        "server_log_errors": len(errors),
    }
    print(
        f"held {held} of {args.sockets} sockets ({signed_in} signed in: thread + inbox; the "
        f"rest anonymous: thread), {fully} fully subscribed; opened in {open_seconds:.1f} s; "
        f"failures {failures or 'none'}\n"
        f"daphne RSS {rss_before / 1024:.1f} MB -> {rss_after / 1024:.1f} MB after "
        f"{args.hold:.0f} s idle (max {figures['rss_max_mb']:.1f} MB): "
        f"{per_socket:.1f} kB per socket\n"
        f"HTTP while holding them: "
        + ", ".join(f"{path} {status} in {ms:.0f} ms" for path, status, ms in http)
        + f"\nevent to a sample: {got_all} of {len(should)} sockets subscribed to "
        f"{len(sample)} threads got it, duplicates {duplicates}; commit->socket p50 "
        f"{figures['sample_latency_ms']['p50']:.0f} ms p99 "
        f"{figures['sample_latency_ms']['p99']:.0f} ms max "
        f"{figures['sample_latency_ms']['max']:.0f} ms\n"
        f"server log errors {len(errors)}" + (f", first: {errors[0]}" if errors else ""),
        flush=True,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1))
    ok = held == args.sockets and got_all == len(should) and not duplicates and not errors
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
