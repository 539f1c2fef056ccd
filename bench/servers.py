"""Start the forum as in production for a bench: N daphne processes sharing one listening
socket (passed with --fd, as systemd socket activation or gunicorn would), so the kernel
spreads connections over the processes with no proxy in between. DEBUG off, a real
SECRET_KEY, ALLOWED_HOSTS=127.0.0.1, PostgreSQL and Redis from the command line."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAPHNE = str(Path(sys.executable).parent / "daphne")


def daphne_command() -> list[str]:
    """daphne on uvloop as in production (config/serve.py); plain `daphne` with BENCH_UVLOOP=0,
    for A/B runs."""
    if os.environ.get("BENCH_UVLOOP") == "0":
        return [DAPHNE]
    return [sys.executable, "-m", "config.serve"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_env(
    database_url: str,
    redis_url: str = "",
    *,
    data_dir: str = "",
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a production-like server (plain HTTP on loopback: PRODUCTION=0)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FORUM_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings_bench",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DATA_DIR=data_dir or os.environ.get("DATA_DIR", "/tmp/carocp-bench-data"),
        DEBUG="0",
        PRODUCTION="0",
        # One key per bench process: sessions made in-process must be valid in the servers.
        SECRET_KEY=os.environ.setdefault("BENCH_SECRET_KEY", secrets.token_urlsafe(60)),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    if extra:
        env.update(extra)
    return env


@dataclass
class Servers:
    port: int
    env: dict[str, str]
    sock: socket.socket
    log_dir: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self, index: int) -> subprocess.Popen:
        log = open(self.log_dir / f"daphne-{index}.log", "ab")  # noqa: SIM115 (child owns it)
        proc = subprocess.Popen(
            [
                *daphne_command(),
                "--fd",
                str(self.sock.fileno()),
                "-v",
                "0",
                "-t",
                "60",
                # bench/memtrace.py: tracemalloc snapshots, only when asked for
                "bench.memtrace:application"
                if self.env.get("BENCH_TRACEMALLOC_DIR")
                else "config.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(self.sock.fileno(),),
        )
        log.close()
        return proc

    def kill(self, index: int, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[index]
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        proc.wait(timeout=10)

    def restart(self, index: int) -> None:
        self.procs[index] = self.spawn(index)

    def alive(self) -> list[bool]:
        return [p.poll() is None for p in self.procs]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.sock.close()

    def errors_in_logs(self) -> list[str]:
        """Tracebacks the servers logged (500s are logged by django.request)."""
        out = []
        for f in sorted(self.log_dir.glob("daphne-*.log")):
            text = f.read_text(errors="replace")
            out += [
                line
                for line in text.splitlines()
                if line.startswith(("Internal Server Error", "Traceback"))
            ]
        return out


def start_servers(
    env: dict[str, str],
    *,
    workers: int = 1,
    port: int = 0,
    log_dir: str = "",
    wait: float = 60.0,
) -> Servers:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(1024)
    sock.set_inheritable(True)
    logs = Path(log_dir or os.path.join(env.get("DATA_DIR", "/tmp"), "bench-logs"))
    logs.mkdir(parents=True, exist_ok=True)
    for f in logs.glob("daphne-*.log"):
        f.unlink()
    servers = Servers(port=sock.getsockname()[1], env=env, sock=sock, log_dir=logs)
    servers.procs = [servers.spawn(i) for i in range(workers)]
    wait_ready(servers, wait)
    return servers


def wait_ready(servers: Servers, wait: float = 60.0) -> None:
    """Until every process answers: ask a few times more than there are processes."""
    deadline = time.monotonic() + wait
    ok = 0
    while time.monotonic() < deadline:
        if not all(servers.alive()):
            raise RuntimeError(f"a daphne process exited; see {servers.log_dir}")
        try:
            with urllib.request.urlopen(servers.base + "/bench/plain/", timeout=2) as r:
                if r.status == 200:
                    ok += 1
                    if ok >= 4 * len(servers.procs):
                        return
                    continue
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"servers not ready after {wait:.0f} s; see {servers.log_dir}")
