#!/usr/bin/env python3
"""Fan-out latency of the live layer (issue 4.9, issue 6.4): from reply commit to receipt at
every one of N subscribed sockets, over two daphne processes sharing Redis.

    flock /tmp/bench.lock .venv/bin/python bench/fanout.py \
        --database-url postgres://postgres@127.0.0.1:5432/bench --sockets 100 1000

Per N: two daphne processes are started on two ports (so the sockets split exactly in half and
every event crosses Redis to a process that did not publish it); N raw websocket clients in a
separate client process subscribe to one public thread, half on each server. The bench process
then posts R replies as a member through forum.actions.reply_to_thread (paced, --interval),
inside an outer transaction whose first on_commit callback takes `time.time()`: the
measurement starts right after COMMIT, before the doorbell rings (the action's own on_commit
callbacks run after ours). Each socket timestamps a frame with `time.time()` when its bytes are
handed to the client's event loop, before any parsing; the same machine, the same clock.

The clients are raw asyncio websocket protocols (RFC 6455 framing, about 60 lines, no
compression, as daphne does not offer it), one process, frames kept as bytes and parsed only
after the run. Their cost is reported: CPU seconds of the client process per delivered frame,
and the event-loop lag (how late a 5 ms timer fires) while events arrive, which bounds how much
of the measured latency is the client's own queueing. `--calibrate` runs the same client
against a bare `websockets` broadcast server (one send per socket, nothing else) for the floor.

Checks per socket: every event of the stream recorded in the event log during the run
(realtime StreamEvent) received exactly once, in order; lost and duplicated are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

H4_EXTRA = {"CHANNEL_PREFIX": "h4", "CACHE_PREFIX": "h4"}


# ---------------------------------------------------------------- a raw websocket client


def raise_fd_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (children inherit it); returns the new soft."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _mask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "little")
    return (int.from_bytes(payload, "little") ^ k).to_bytes(n, "little")


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 5.2)."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + key + _mask(payload, key)


class RawWebSocket(asyncio.Protocol):
    """A minimal websocket client: handshake, unmasked server frames, masked client frames,
    answers pings. `on_text(t, payload)` gets each text message with the time its last bytes
    reached the event loop. `abort()` drops the TCP connection without a closing handshake
    (a killed tab or a lost network)."""

    def __init__(self, on_text: Callable[[float, bytes], None]) -> None:
        self.on_text = on_text
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.open = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        # A handshake that failed after ws_connect gave up on it: not an unhandled error.
        self.open.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.upgraded = False
        self.fragments: list[bytes] = []
        self.close_code: int | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buf[: self.buf.find(b"\r\n")])
            del self.buf[: end + 4]
            if b" 101 " not in status:
                if not self.open.done():
                    self.open.set_exception(ConnectionError(status.decode("latin1")))
                self.transport.close()
                return
            self.upgraded = True
            self.open.set_result(None)
        buf = self.buf
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n, off = b1 & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, off = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, off = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < off + n:
                return
            payload = bytes(buf[off : off + n])
            del buf[: off + n]
            opcode = b0 & 0x0F
            if opcode == 0:
                self.fragments.append(payload)
                if b0 & 0x80:
                    self.on_text(now, b"".join(self.fragments))
                    self.fragments = []
            elif opcode == 1:
                if b0 & 0x80:
                    self.on_text(now, payload)
                else:
                    self.fragments = [payload]
            elif opcode == 9:
                self.transport.write(client_frame(10, payload))
            elif opcode == 8:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                with contextlib.suppress(Exception):
                    self.transport.write(client_frame(8, payload[:2]))
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(exc or ConnectionError("closed before the handshake"))
        if not self.closed.done():
            self.closed.set_result(self.close_code)

    def send_json(self, message: dict[str, Any]) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(1, json.dumps(message).encode()))

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(8, (1000).to_bytes(2, "big")))
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def ws_connect(
    host: str,
    port: int,
    on_text: Callable[[float, bytes], None],
    *,
    cookie: str = "",
    path: str = "/ws/",
    timeout: float = 20.0,
) -> RawWebSocket:
    loop = asyncio.get_running_loop()
    _, proto = await asyncio.wait_for(
        loop.create_connection(lambda: RawWebSocket(on_text), host, port), timeout
    )
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: http://{host}:{port}\r\n" + (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n"
    )
    proto.transport.write(request.encode())
    try:
        await asyncio.wait_for(asyncio.shield(proto.open), timeout)
    except BaseException:
        proto.abort()
        raise
    return proto


class LoopLag:
    """How late a 5 ms timer fires: the client's own queueing while it receives."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self.task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            t = time.perf_counter()
            await asyncio.sleep(0.005)
            self.samples.append(time.perf_counter() - t - 0.005)

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self.task:
            self.task.cancel()


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile (same as bench/loadgen)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs)) - 1))]


# ---------------------------------------------------------------- client process


async def client_main(args: argparse.Namespace) -> None:
    """Open args.sockets sockets round-robin over args.ports, subscribe each to args.stream,
    print READY, record frames until STOP on stdin, then write the frames as JSON."""
    raise_fd_limit()
    ports = [int(p) for p in args.ports.split(",")]
    frames: list[list[tuple[float, bytes]]] = [[] for _ in range(args.sockets)]
    subscribed = [asyncio.Event() for _ in range(args.sockets)]
    sockets: list[RawWebSocket | None] = [None] * args.sockets
    sub = {"type": "subscribe", "stream": args.stream}
    last_rx = [time.time()]

    def recorder(i: int) -> Callable[[float, bytes], None]:
        box = frames[i]
        ready = subscribed[i]

        def on_text(t: float, payload: bytes) -> None:
            last_rx[0] = t
            box.append((t, payload))
            if not ready.is_set() and b'"type":"subscribed"' in payload:
                ready.set()

        return on_text

    gate = asyncio.Semaphore(args.connect_concurrency)

    async def open_one(i: int) -> None:
        async with gate:
            for attempt in range(5):
                try:
                    ws = await ws_connect("127.0.0.1", ports[i % len(ports)], recorder(i))
                    break
                except (OSError, TimeoutError, ConnectionError):
                    await asyncio.sleep(0.5 * (attempt + 1))
            else:
                raise RuntimeError(f"socket {i} could not connect")
            sockets[i] = ws
            ws.send_json(sub)
            await asyncio.wait_for(subscribed[i].wait(), 30)

    t0 = time.monotonic()
    await asyncio.gather(*(open_one(i) for i in range(args.sockets)))
    connect_s = time.monotonic() - t0
    # Wait for the connect storm's presence frames to stop (2 s without a frame, 120 s at most)
    # so that the measurement sees the steady state of N idle readers.
    quiet_until = time.monotonic() + 120
    while time.time() - last_rx[0] < 2.0 and time.monotonic() < quiet_until:
        await asyncio.sleep(0.2)
    for box in frames:
        box.clear()  # hello, subscribed, presence: not part of the measurement
    lag = LoopLag()
    lag.start()
    cpu0 = time.process_time()
    print(f"READY {args.sockets} {connect_s:.2f}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    cpu = time.process_time() - cpu0
    lag.stop()
    closed = sum(1 for ws in sockets if ws is None or ws.closed.done())
    out = {
        "connect_seconds": connect_s,
        "cpu_seconds": cpu,
        "loop_lag_ms": {
            "p50": pct(lag.samples, 50) * 1000,
            "p99": pct(lag.samples, 99) * 1000,
            "max": max(lag.samples, default=0) * 1000,
        },
        "closed_early": closed,
        # Parsed only now, after the measurement: [time, server index, frame type, event id].
        "frames": [
            [[t, i % len(ports), *_kind_and_id(payload)] for t, payload in box]
            for i, box in enumerate(frames)
        ],
    }
    for ws in sockets:
        if ws is not None:
            ws.close()
    Path(args.out).write_text(json.dumps(out))
    print("DONE", flush=True)


def _kind_and_id(payload: bytes) -> tuple[str, int | None]:
    frame = json.loads(payload)
    return frame.get("type", ""), frame.get("id") if frame.get("type") == "event" else None


class ClientProcess:
    def __init__(self, ports: list[int], sockets: int, stream: str, out: str) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--client",
                "--ports",
                ",".join(map(str, ports)),
                "--client-sockets",
                str(sockets),
                "--stream",
                stream,
                "--out",
                out,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, timeout: float = 300.0) -> float:
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.proc.kill()
            raise RuntimeError(f"client failed: {line!r}")
        return float(line.split()[2])

    def finish(self) -> dict[str, Any]:
        self.proc.stdin.write("STOP\n")
        self.proc.stdin.flush()
        self.proc.stdout.readline()
        self.proc.wait(timeout=120)
        return json.loads(Path(self.out).read_text())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# ---------------------------------------------------------------- measurement


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024 // 1024
    return f"{os.cpu_count()} cores ({model}), {mem} GB RAM"


def load_avg() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def pick_thread_and_poster() -> tuple[Any, Any]:
    """A public, open thread of ordinary length and a member who may reply to it."""
    from django.contrib.auth import get_user_model

    from forum import permissions
    from forum.models import Board, PostingRule, Thread, Visibility

    boards = Board.objects.filter(visibility=Visibility.ANYONE, reply_rule=PostingRule.MEMBERS)
    thread = (
        Thread.objects.filter(
            board__in=boards,
            is_locked=False,
            is_hidden=False,
            is_deleted=False,
            merged_into__isnull=True,
            post_count__gte=5,
            post_count__lte=60,
        )
        .select_related("board")
        .order_by("-id")
        .first()
    )
    if thread is None:
        raise SystemExit("no public open thread: run bench/seed first")
    for user in (
        get_user_model()
        .objects.filter(
            is_active=True,
            is_staff=False,
            membership_status="approved",
            suspended_until__isnull=True,
            silenced_until__isnull=True,
        )
        .order_by("-id")[:50]
    ):
        if permissions.can_reply(user, thread):
            return thread, user
    raise SystemExit("no member may reply to the chosen thread")


def post_replies(
    thread: Any, poster: Any, count: int, interval: float, tag: str
) -> dict[int, float]:
    """Reply `count` times; {post_id: time.time() right after COMMIT}.

    Each reply runs in a worker thread under an event loop, as a sync view does under daphne,
    so the doorbell's async_to_sync goes back to that loop and reuses its Redis connections
    (a fresh loop per publish would pay a new connection each time)."""
    from asgiref.sync import sync_to_async
    from django.db import transaction

    from forum.actions import reply_to_thread

    def one(k: int) -> tuple[int, float]:
        stamp: list[float] = []
        with transaction.atomic():
            transaction.on_commit(lambda: stamp.append(time.time()))
            result = reply_to_thread(
                poster,
                thread,
                body=f"Fan-out {tag} reply {k + 1}: the advisory board agreed the schedule for "
                f"the spring internship fair; rooms and sign-up sheets are in the shared folder.",
                client_token=f"{tag}-{k}",
            )
        return result.post.pk, stamp[0]

    async def run() -> dict[int, float]:
        committed: dict[int, float] = {}
        # Reply 0 warms the loop's Redis connection and the servers' code paths; its event is
        # checked for loss and duplicates like every other, but not timed.
        for k in range(count + 1):
            post_id, at = await sync_to_async(one, thread_sensitive=True)(k)
            if k:
                committed[post_id] = at
            await asyncio.sleep(interval * random.uniform(0.8, 1.2))
        return committed

    return asyncio.run(run())


def stream_seqs(stream: str, after: int) -> list[tuple[int, str, int | None]]:
    from realtime.models import StreamEvent

    return [
        (seq, kind, (payload or {}).get("post_id"))
        for seq, kind, payload in StreamEvent.objects.filter(stream=stream, seq__gt=after)
        .order_by("seq")
        .values_list("seq", "type", "payload")
    ]


def analyse(
    result: dict[str, Any], expected: list[int], committed_by_seq: dict[int, float]
) -> dict[str, Any]:
    latencies: list[float] = []
    per_server: dict[int, list[float]] = {}
    lost = duplicated = out_of_order = 0
    other_frames: Counter = Counter()
    worst_socket_lost = 0
    expected_set = set(expected)
    for frames in result["frames"]:
        seen: list[int] = []
        for t, server, kind, seq in frames:
            if kind != "event":
                other_frames[kind] += 1
                continue
            seen.append(seq)
            if seq in committed_by_seq:
                ms = (t - committed_by_seq[seq]) * 1000
                latencies.append(ms)
                per_server.setdefault(server, []).append(ms)
        unique = set(seen)
        missing = len(expected_set - unique)
        lost += missing
        worst_socket_lost = max(worst_socket_lost, missing)
        duplicated += len(seen) - len(unique)
        out_of_order += sum(1 for a, b in zip(seen, seen[1:], strict=False) if b <= a)
    return {
        "deliveries": len(latencies),
        "p50": pct(latencies, 50),
        "p95": pct(latencies, 95),
        "p99": pct(latencies, 99),
        "max": max(latencies, default=float("nan")),
        "per_server_p99": {k: pct(v, 99) for k, v in sorted(per_server.items())},
        "lost": lost,
        "worst_socket_lost": worst_socket_lost,
        "duplicated": duplicated,
        "out_of_order": out_of_order,
        "other_frames": dict(other_frames),
    }


def run_one(n: int, args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    from django.db import connections

    from bench.servers import start_servers
    from realtime import access

    thread, poster = pick_thread_and_poster()
    stream = f"thread:{thread.pk}"
    connections.close_all()
    servers = [
        start_servers(env, workers=1, log_dir=f"{args.log_dir}-{name}") for name in ("a", "b")
    ]
    client = None
    try:
        client = ClientProcess([s.port for s in servers], n, stream, f"{args.log_dir}-frames.json")
        connect_s = client.wait_ready()
        time.sleep(args.settle)  # presence frames of the connect storm die down
        rss_before = [rss_kb(s.procs[0].pid) for s in servers]
        top = access.last_seq(stream)
        tag = f"fan{n}-{int(time.time())}"
        committed = post_replies(thread, poster, args.replies, args.interval, tag)
        time.sleep(args.drain)
        rss_after = [rss_kb(s.procs[0].pid) for s in servers]
        result = client.finish()
    finally:
        if client is not None:
            client.kill()
        for s in servers:
            s.stop()
    events = stream_seqs(stream, top)
    committed_by_seq = {seq: committed[pid] for seq, kind, pid in events if pid in committed}
    figures = analyse(result, [seq for seq, _, _ in events], committed_by_seq)
    errors = [line for s in servers for line in s.errors_in_logs()]
    figures.update(
        sockets=n,
        stream=stream,
        events=len(events),
        replies=len(committed),
        connect_seconds=connect_s,
        client_cpu_us_per_frame=result["cpu_seconds"] / max(1, figures["deliveries"]) * 1e6,
        client_cpu_seconds=result["cpu_seconds"],
        client_loop_lag_ms=result["loop_lag_ms"],
        closed_early=result["closed_early"],
        server_rss_mb=[round(kb / 1024, 1) for kb in rss_after],
        server_rss_before_mb=[round(kb / 1024, 1) for kb in rss_before],
        server_log_errors=len(errors),
    )
    return figures


def print_figures(f: dict[str, Any]) -> None:
    lag = f["client_loop_lag_ms"]
    print(
        f"N={f['sockets']:>5}: {f['replies']} replies -> {f['events']} events on {f['stream']}, "
        f"{f['deliveries']} deliveries timed\n"
        f"  latency commit->socket  p50 {f['p50']:.1f} ms  p95 {f['p95']:.1f} ms  "
        f"p99 {f['p99']:.1f} ms  max {f['max']:.1f} ms  (p99 per server {f['per_server_p99']})\n"
        f"  lost {f['lost']} (worst socket {f['worst_socket_lost']})  duplicated "
        f"{f['duplicated']}  out of order {f['out_of_order']}  other frames "
        f"{f['other_frames']}  sockets closed early {f['closed_early']}\n"
        f"  client: {f['client_cpu_us_per_frame']:.0f} us CPU per frame "
        f"({f['client_cpu_seconds']:.2f} s), loop lag p50 {lag['p50']:.2f} ms p99 "
        f"{lag['p99']:.2f} ms max {lag['max']:.1f} ms; connect+subscribe "
        f"{f['connect_seconds']:.1f} s\n"
        f"  daphne RSS {f['server_rss_before_mb']} -> {f['server_rss_mb']} MB; "
        f"server log errors {f['server_log_errors']}",
        flush=True,
    )


# ---------------------------------------------------------------- calibration


async def broadcast_server_main(port: int) -> None:
    """A bare `websockets` server: subscribers wait; a 'go' message from the bench makes it
    broadcast a stamped 2 KB frame to every other socket (the client-side floor)."""
    from websockets.asyncio.server import broadcast, serve

    clients: set[Any] = set()
    filler = "x" * 2000

    async def handler(ws: Any) -> None:
        clients.add(ws)
        try:
            async for message in ws:
                if message == "go":
                    for k in range(30):
                        text = json.dumps(
                            {"type": "event", "id": k + 1, "t": time.time(), "f": filler}
                        )
                        broadcast([c for c in clients if c is not ws], text)
                        await asyncio.sleep(0.3)
                else:
                    await ws.send('{"type":"subscribed"}')
        finally:
            clients.discard(ws)

    async with serve(handler, "127.0.0.1", port, max_size=None, compression=None):
        print("LISTENING", flush=True)
        await asyncio.Future()


async def calibrate(n: int) -> dict[str, Any]:
    from bench.servers import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--broadcast-server", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        server.stdout.readline()
        received: list[list[tuple[float, bytes]]] = [[] for _ in range(n)]
        gate = asyncio.Semaphore(100)

        async def one(i: int) -> RawWebSocket:
            async with gate:
                ws = await ws_connect(
                    "127.0.0.1", port, lambda t, p, box=received[i]: box.append((t, p))
                )
                ws.send_json({"type": "subscribe"})
                return ws

        sockets = await asyncio.gather(*(one(i) for i in range(n)))
        await asyncio.sleep(1)
        for box in received:
            box.clear()
        trigger_received: list[tuple[float, bytes]] = []
        trigger = await ws_connect("127.0.0.1", port, lambda t, p: trigger_received.append((t, p)))
        cpu0 = time.process_time()
        trigger.transport.write(client_frame(1, b"go"))
        await asyncio.sleep(30 * 0.3 + 2)
        cpu = time.process_time() - cpu0
        lat = [(t - json.loads(p)["t"]) * 1000 for box in received for t, p in box if b'"t"' in p]
        for ws in [*sockets, trigger]:
            ws.close()
        return {
            "sockets": n,
            "deliveries": len(lat),
            "p50": pct(lat, 50),
            "p99": pct(lat, 99),
            "max": max(lat, default=float("nan")),
            "client_cpu_us_per_frame": cpu / max(1, len(lat)) * 1e6,
        }
    finally:
        server.kill()
        server.wait()


# ---------------------------------------------------------------- main


def add_live_bench_args(p: argparse.ArgumentParser, name: str) -> None:
    """The options every live benchmark (fanout, idle_sockets, soak) shares."""
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench"),
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    p.add_argument("--data-dir", default=os.environ.get("DATA_DIR", "/tmp/carocp-bench"))
    p.add_argument("--log-dir", default=f"/tmp/carocp-bench-logs-{name}")


def main() -> None:
    p = argparse.ArgumentParser(description="Live fan-out latency (issue 4.9)")
    add_live_bench_args(p, "fanout")
    p.add_argument("--sockets", type=int, nargs="+", default=[100, 1000])
    p.add_argument("--replies", type=int, default=30)
    p.add_argument("--interval", type=float, default=0.5, help="seconds between replies")
    p.add_argument("--settle", type=float, default=3.0)
    p.add_argument("--drain", type=float, default=3.0)
    p.add_argument("--calibrate", action="store_true", help="also measure the client floor")
    p.add_argument("--json", help="write the figures here")
    # internal: the client process and the calibration server
    p.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--ports", help=argparse.SUPPRESS)
    p.add_argument("--client-sockets", type=int, help=argparse.SUPPRESS)
    p.add_argument("--stream", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--connect-concurrency", type=int, default=50, help=argparse.SUPPRESS)
    p.add_argument("--broadcast-server", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.client:
        args.sockets = args.client_sockets
        if os.environ.get("BENCH_CLIENT_UVLOOP") == "1":
            from config.serve import use_uvloop

            use_uvloop()
        asyncio.run(client_main(args))
        return
    if args.broadcast_server:
        asyncio.run(broadcast_server_main(args.broadcast_server))
        return

    from bench import load_replies as lr
    from bench.servers import bench_env

    raise_fd_limit()
    env = bench_env(
        args.database_url,
        args.redis_url,
        data_dir=args.data_dir,
        extra={**lr.SERVER_EXTRA, **H4_EXTRA},
    )
    os.environ.update(H4_EXTRA)  # the bench process publishes under the servers' prefix
    lr.setup_django(env)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; {machine()}\n"
        f"load before: {load_avg()}\n"
        f"two daphne processes (one port each), channels-redis on {args.redis_url}, "
        f"database {args.database_url.rsplit('/', 1)[-1]}; {args.replies} replies every "
        f"~{args.interval} s through forum.actions.reply_to_thread",
        flush=True,
    )
    all_figures = []
    for n in args.sockets:
        figures = run_one(n, args, env)
        print_figures(figures)
        all_figures.append(figures)
    if args.calibrate:
        for n in args.sockets:
            c = asyncio.run(calibrate(n))
            print(
                f"calibration (same client, bare websockets broadcast server, one process) "
                f"N={n}: p50 {c['p50']:.1f} ms p99 {c['p99']:.1f} ms max {c['max']:.1f} ms, "
                f"client {c['client_cpu_us_per_frame']:.0f} us CPU per frame",
                flush=True,
            )
            all_figures.append({"calibration": c})
    if args.json:
        Path(args.json).write_text(json.dumps(all_figures, indent=1))
    bad = [f for f in all_figures if f.get("lost") or f.get("duplicated")]
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
