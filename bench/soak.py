#!/usr/bin/env python3
"""The live soak (issue 6.4): members replying and reading for ten minutes while their sockets
are killed at random; nothing lost, nothing duplicated, memory flat.

    flock /tmp/bench.lock .venv/bin/python bench/soak.py \
        --database-url postgres://postgres@127.0.0.1:5432/bench [--members 200] [--duration 600]

Two daphne processes share one listening socket (as in production behind systemd or a proxy;
bench/servers.py) with channels-redis. Each of --members signed-in members (sessions made as in
bench/load_replies.py) has one tab: one websocket (bench/fanout.RawWebSocket) subscribed to its
inbox and to the --follow threads it reads, out of --threads public threads. Each member loads
one of its thread pages about every --read-every seconds and replies to one of its threads about
every --reply-every seconds (HTTP POST with CSRF, retried with the same client_token after a
5xx or no answer, as the forum's client does). Every --kill-every seconds one tab's TCP
connection is aborted (no closing handshake: a lost network); the tab reconnects after a
jittered pause and resubscribes each stream with the last event id it saw, like static/js.

At the end (once every tab is connected and has resubscribed, then --settle seconds) every
tab's received event ids per stream are compared with the event log (realtime StreamEvent):
every event after the one the tab first subscribed at must have arrived exactly once.
bench/load_replies.verify checks
that every accepted reply is stored exactly once with its notification and that counters are
exact. The servers' RSS is sampled every 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import load_replies as lr  # noqa: E402
from bench.fanout import (  # noqa: E402
    H4_EXTRA,
    RawWebSocket,
    add_live_bench_args,
    load_avg,
    machine,
    raise_fd_limit,
    rss_kb,
    ws_connect,
)


class Tab:
    """One browser tab of one member: one socket, several streams, resume with last_id."""

    def __init__(self, member: lr.BenchMember, streams: list[str], port: int) -> None:
        self.member = member
        self.streams = streams
        self.port = port
        self.cookie = member.headers["Cookie"]
        self.first: dict[str, int] = {}  # last_id the stream was first subscribed at
        self.last: dict[str, int] = {}  # highest event id seen (what a reconnect resumes from)
        self.seen: dict[str, list[int]] = {s: [] for s in streams}
        self.resets: Counter = Counter()
        self.errors: Counter = Counter()
        self.ws: RawWebSocket | None = None
        self.connects = 0
        self.connect_failures = 0
        self.live_streams: set[str] = set()  # subscribed on the current connection

    @property
    def caught_up(self) -> bool:
        """Connected, and every stream (re)subscribed on this connection."""
        return (
            self.ws is not None
            and not self.ws.closed.done()
            and len(self.live_streams) == len(self.streams)
        )

    def on_text(self, t: float, payload: bytes) -> None:
        frame = json.loads(payload)
        kind = frame.get("type")
        stream = frame.get("stream")
        if kind == "event" and stream in self.seen:
            self.seen[stream].append(frame["id"])
            self.last[stream] = max(self.last.get(stream, 0), frame["id"])
        elif kind == "subscribed" and stream in self.seen:
            if stream not in self.first:
                self.first[stream] = frame["last_id"]
            self.live_streams.add(stream)
            self.last[stream] = max(self.last.get(stream, 0), frame["last_id"])
        elif kind == "reset":
            self.resets[stream] += 1
        elif kind == "error":
            self.errors[frame.get("code")] += 1

    async def run(self, end: list[float]) -> None:
        """Until end[0] (moved by the soak once every tab has caught up)."""
        backoff = 0.25
        while time.monotonic() < end[0]:
            try:
                ws = await ws_connect("127.0.0.1", self.port, self.on_text, cookie=self.cookie)
            except Exception:  # noqa: BLE001 (any failure: back off and retry, as the client)
                self.connect_failures += 1
                await asyncio.sleep(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.25
            self.live_streams = set()
            self.ws = ws
            self.connects += 1
            for stream in self.streams:
                message: dict[str, Any] = {"type": "subscribe", "stream": stream}
                if stream in self.last:
                    message["last_id"] = self.last[stream]
                ws.send_json(message)
            while time.monotonic() < end[0] and not ws.closed.done():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(ws.closed), 1.0)
            self.ws = None
            if not ws.closed.done():
                ws.close()
                break
            await asyncio.sleep(random.uniform(0.2, 1.0))  # jittered, as static/js reconnects

    def kill(self) -> bool:
        if self.ws is None or self.ws.closed.done():
            return False
        self.ws.abort()
        return True


def rss_sampler(pids: list[int], every: float, samples: list[tuple[float, list[int]]]) -> Any:
    async def sample(end: list[float]) -> None:
        t0 = time.monotonic()
        while time.monotonic() < end[0]:
            try:
                samples.append((time.monotonic() - t0, [rss_kb(pid) for pid in pids]))
            except OSError:
                samples.append((time.monotonic() - t0, [0 for _ in pids]))
            await asyncio.sleep(every)

    return sample


async def soak(
    args: argparse.Namespace,
    base: str,
    port: int,
    run: lr.ReplyRun,
    tabs: list[Tab],
    thread_urls: dict[int, str],
    rss_samples: list[tuple[float, list[int]]],
    pids: list[int],
) -> dict[str, Any]:
    t0 = time.monotonic()
    load_until = t0 + args.duration
    end = [math.inf]  # the tabs run until every one has caught up after the load, + settle
    settled: dict[str, Any] = {}
    reads: Counter = Counter()
    replies: Counter = Counter()
    kills = 0
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=len(tabs) + 10)

    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:

        async def member(i: int, tab: Tab) -> None:
            rng = random.Random(i)
            threads = [int(s.split(":")[1]) for s in tab.streams if s.startswith("thread:")]
            next_read = time.monotonic() + rng.uniform(0, args.read_every)
            next_reply = time.monotonic() + rng.uniform(0, args.reply_every)
            seq = 0
            while time.monotonic() < load_until:
                now = time.monotonic()
                if now >= next_read:
                    next_read = now + args.read_every * rng.uniform(0.5, 1.5)
                    headers = {"Cookie": tab.cookie}
                    try:
                        url = base + thread_urls[rng.choice(threads)]
                        async with session.get(url, headers=headers) as r:
                            await r.read()
                            reads[r.status] += 1
                    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                        reads[type(exc).__name__] += 1
                if now >= next_reply:
                    next_reply = now + args.reply_every * rng.uniform(0.5, 1.5)
                    seq += 1
                    outcome = lr.Outcome(
                        tab.member.id,
                        rng.choice(threads),
                        f"{run.run_id}-{i}-{seq}",
                        t_start=time.monotonic(),
                    )
                    run.outcomes.append(outcome)
                    while True:
                        await lr.post_reply(session, base, run, tab.member, outcome, seq)
                        replies[outcome.status] += 1
                        if outcome.status is not None and outcome.status < 500:
                            break
                        if outcome.attempts > 20:
                            break
                        await asyncio.sleep(1.0)
                    outcome.t_done = time.monotonic()
                await asyncio.sleep(max(0.05, min(next_read, next_reply) - time.monotonic()))

        async def killer() -> None:
            nonlocal kills
            rng = random.Random(99)
            while time.monotonic() < load_until:
                await asyncio.sleep(args.kill_every * rng.uniform(0.5, 1.5))
                if rng.choice(tabs).kill():
                    kills += 1

        async def progress() -> None:
            next_line = time.monotonic() + 60
            while time.monotonic() < end[0]:
                await asyncio.sleep(1.0)
                if time.monotonic() < next_line:
                    continue
                next_line += 60
                rss = rss_samples[-1][1] if rss_samples else []
                print(
                    f"  [{time.monotonic() - t0:4.0f} s] replies {sum(replies.values())}, "
                    f"reads {sum(reads.values())}, kills {kills}, "
                    f"connected {sum(1 for t in tabs if t.ws is not None)}/{len(tabs)}, "
                    f"RSS {[round(kb / 1024, 1) for kb in rss]} MB",
                    flush=True,
                )

        async def finisher() -> None:
            """After the load: wait (at most --max-catch-up s) until every tab is connected
            and resubscribed, so that what it has not received is lost, not merely late."""
            await asyncio.sleep(max(0.0, load_until - time.monotonic()))
            give_up = time.monotonic() + args.max_catch_up
            while not all(tab.caught_up for tab in tabs) and time.monotonic() < give_up:
                await asyncio.sleep(0.5)
            settled["catch_up_seconds"] = round(time.monotonic() - load_until, 1)
            settled["not_caught_up"] = sum(1 for tab in tabs if not tab.caught_up)
            await asyncio.sleep(args.settle)
            end[0] = time.monotonic()

        await asyncio.gather(
            finisher(),
            *(tab.run(end) for tab in tabs),
            *(member(i, tab) for i, tab in enumerate(tabs)),
            killer(),
            progress(),
            rss_sampler(pids, 10.0, rss_samples)(end),
        )
    return {"reads": dict(reads), "reply_attempts": dict(replies), "kills": kills, **settled}


def slope(ts: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over ts, per minute (0 with fewer than 3 samples)."""
    if len(ts) < 3:
        return 0.0
    mt, my = sum(ts) / len(ts), sum(ys) / len(ys)
    var = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (y - my) for t, y in zip(ts, ys, strict=True)) / var * 60 if var else 0.0


def check_events(tabs: list[Tab]) -> dict[str, Any]:
    from realtime.models import StreamEvent

    streams = {s for tab in tabs for s in tab.streams}
    log: dict[str, list[int]] = {s: [] for s in streams}
    for stream, seq in (
        StreamEvent.objects.filter(stream__in=streams).order_by("seq").values_list("stream", "seq")
    ):
        log[stream].append(seq)
    lost = duplicated = unexpected = checked = never_subscribed = 0
    examples: list[str] = []
    for tab in tabs:
        for stream in tab.streams:
            if stream not in tab.first:
                never_subscribed += 1
                continue
            expected = {seq for seq in log[stream] if seq > tab.first[stream]}
            got = tab.seen[stream]
            checked += len(expected)
            missing = expected - set(got)
            extra = set(got) - expected
            dup = len(got) - len(set(got))
            lost += len(missing)
            unexpected += len(extra)
            duplicated += dup
            if (missing or extra or dup) and len(examples) < 5:
                examples.append(
                    f"member {tab.member.id} {stream}: first {tab.first[stream]}, "
                    f"missing {sorted(missing)[:5]}, extra {sorted(extra)[:5]}, dup {dup}"
                )
    return {
        "stream_subscriptions": sum(len(t.streams) for t in tabs),
        "never_subscribed": never_subscribed,
        "events_expected": checked,
        "events_received": sum(len(v) for t in tabs for v in t.seen.values()),
        "lost": lost,
        "duplicated": duplicated,
        "unexpected": unexpected,
        "resets": sum(sum(t.resets.values()) for t in tabs),
        "error_frames": dict(sum((t.errors for t in tabs), Counter())),
        "connects": sum(t.connects for t in tabs),
        "connect_failures": sum(t.connect_failures for t in tabs),
        "examples": examples,
    }


def main() -> None:
    p = argparse.ArgumentParser(description="Live soak with random socket kills (issue 6.4)")
    add_live_bench_args(p, "soak")
    p.add_argument("--members", type=int, default=200)
    p.add_argument("--threads", type=int, default=20)
    p.add_argument("--follow", type=int, default=3, help="threads each member reads")
    p.add_argument("--duration", type=float, default=600.0)
    p.add_argument("--reply-every", type=float, default=120.0, help="seconds, per member")
    p.add_argument("--read-every", type=float, default=30.0, help="seconds, per member")
    p.add_argument("--kill-every", type=float, default=1.0, help="seconds between socket kills")
    p.add_argument("--settle", type=float, default=10.0, help="seconds after all caught up")
    p.add_argument("--max-catch-up", type=float, default=180.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", help="write the figures here")
    args = p.parse_args()

    from bench.servers import bench_env, start_servers

    raise_fd_limit()
    env = bench_env(
        args.database_url,
        args.redis_url,
        data_dir=args.data_dir,
        extra={**lr.SERVER_EXTRA, **H4_EXTRA},
    )
    os.environ.update(H4_EXTRA)
    lr.setup_django(env)
    from django.db import connections

    from forum.models import Thread

    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    print(f"{started}; {machine()}\nload before: {load_avg()}", flush=True)
    run = lr.prepare(args.members, args.threads, seed=17)
    thread_urls = {t.pk: t.get_absolute_url() for t in Thread.objects.filter(pk__in=run.thread_ids)}
    rng = random.Random(5)
    connections.close_all()
    servers = start_servers(env, workers=args.workers, log_dir=args.log_dir)
    tabs = [
        Tab(
            m,
            [f"inbox:{m.id}"]
            + [
                f"thread:{t}"
                for t in rng.sample(run.thread_ids, min(args.follow, len(run.thread_ids)))
            ],
            servers.port,
        )
        for m in run.members
    ]
    print(
        f"run {run.run_id}: {len(tabs)} members, {args.workers} daphne processes on port "
        f"{servers.port}, channels-redis {args.redis_url}, database "
        f"{args.database_url.rsplit('/', 1)[-1]}; threads {run.thread_ids}; each member "
        f"follows {args.follow} threads + inbox, reads every ~{args.read_every:.0f} s, replies "
        f"every ~{args.reply_every:.0f} s; a socket killed every ~{args.kill_every} s; "
        f"{args.duration:.0f} s + {args.settle:.0f} s settle",
        flush=True,
    )
    rss_samples: list[tuple[float, list[int]]] = []
    pids = [proc.pid for proc in servers.procs]
    try:
        load = asyncio.run(
            soak(args, servers.base, servers.port, run, tabs, thread_urls, rss_samples, pids)
        )
        alive = servers.alive()
    finally:
        servers.stop()
    connections.close_all()
    events = check_events(tabs)
    result = lr.verify(run)
    lr.print_report(run, result, args.duration)
    errors = servers.errors_in_logs()
    per_proc = list(zip(*[kb for _, kb in rss_samples], strict=True)) if rss_samples else []
    rss = [
        {
            "first_mb": round(xs[0] / 1024, 1),
            "last_mb": round(xs[-1] / 1024, 1),
            "max_mb": round(max(xs) / 1024, 1),
            "after_first_minute_mb": round(xs[min(6, len(xs) - 1)] / 1024, 1),
            "after_two_minutes_mb": round(xs[min(12, len(xs) - 1)] / 1024, 1),
            "slope_after_two_minutes_mb_per_min": slope(
                [t for t, _ in rss_samples][12:], [kb / 1024 for kb in xs][12:]
            ),
        }
        for xs in per_proc
    ]
    print(
        f"load: reads {load['reads']}, reply attempts {load['reply_attempts']}, "
        f"sockets killed {load['kills']}, connects {events['connects']} "
        f"(failed attempts {events['connect_failures']}), servers alive {alive}; after the "
        f"load every tab was connected and resubscribed within {load['catch_up_seconds']} s "
        f"(not: {load['not_caught_up']})\n"
        f"events: {events['events_expected']} expected over {events['stream_subscriptions']} "
        f"tab subscriptions, {events['events_received']} received; lost {events['lost']}, "
        f"duplicated {events['duplicated']}, unexpected {events['unexpected']}, resets "
        f"{events['resets']}, never subscribed {events['never_subscribed']}, error frames "
        f"{events['error_frames'] or 'none'}\n"
        + "".join(f"  {line}\n" for line in events["examples"])
        + "server RSS (MB, sampled every 10 s): "
        + "; ".join(
            f"process {i}: first {r['first_mb']}, at 60 s {r['after_first_minute_mb']}, at "
            f"120 s {r['after_two_minutes_mb']}, last {r['last_mb']}, max {r['max_mb']}, "
            f"trend after 120 s {r['slope_after_two_minutes_mb_per_min']:+.2f} MB/min"
            for i, r in enumerate(rss)
        )
        + f"\nserver log errors {len(errors)}"
        + (f", first: {errors[0]}" if errors else ""),
        flush=True,
    )
    figures = {
        "started": started,
        "args": vars(args),
        "load": load,
        "events": events,
        "verify": {k: v for k, v in result.items()},
        "rss": rss,
        "rss_samples": rss_samples,
        "server_log_errors": len(errors),
    }
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1, default=str))
    bad = (
        events["lost"]
        or events["duplicated"]
        or events["unexpected"]
        or events["never_subscribed"]
        or result["problems"]
        or result["server_errors_5xx"]
    )
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
