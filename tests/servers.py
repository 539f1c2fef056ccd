"""Start real daphne processes against the test database, for tests that need a real server.

Usage (in a test that uses the `transactional_db` fixture, so data is committed and visible to
the server processes):

    from tests.servers import start_servers, session_cookie

    def test_something(transactional_db):
        member = make_member()
        with start_servers(2) as (a, b):          # two daphne processes
            cookie = session_cookie(member)        # {"sessionid": "..."} valid on every server
            requests/urllib/websockets against a.url, b.ws_url ...

Each server listens on 127.0.0.1 on a free port: the listening socket is bound here (port 0)
and handed to daphne with `--fd`, so there is no race for the port. The child gets the parent's
settings environment plus:
- DATABASE_URL pointing at the *test* database (SQLite file or test_<name> on PostgreSQL);
- SECRET_KEY equal to the parent's, so sessions and signed values made in the test are valid;
- REDIS_URL as in the parent (or as given with `redis_url=`; "" means the in-memory layer,
  which only works with one process).

Servers are stopped (SIGTERM, then SIGKILL) when the `with` block ends; the log of each is kept
in `server.log_path` and its tail is shown if a server fails to start.

Passwords: the test settings hash with MD5 (fast) but a daphne child is not a test process and
would not accept those hashes; sign members in with `session_cookie(user)` instead of posting
the login form (or call `set_real_password(user, pw)` first if a test needs the login form).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    """One running daphne process."""

    port: int
    process: subprocess.Popen
    log_path: Path
    env: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/"

    @property
    def origin(self) -> str:
        """The Origin header a browser on this server's pages sends."""
        return self.url

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout)


def shared_database_url() -> str:
    """A DATABASE_URL for the database the current test process uses (the test database)."""
    from django.db import connection

    db = connection.settings_dict
    engine = db["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError(
                "The SQLite test database is in memory; real servers cannot see it. "
                "Set DATABASES['default']['TEST']['NAME'] to a file."
            )
        return f"sqlite:///{Path(name).resolve()}"
    if engine == "django.db.backends.postgresql":
        user = quote(db.get("USER") or "", safe="")
        password = quote(db.get("PASSWORD") or "", safe="")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or "5432"
        return f"postgres://{auth}{host}:{port}/{db['NAME']}"
    raise RuntimeError(f"tests/servers.py does not know how to share a {engine} database")


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def server_env(redis_url: str | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment a child server runs with (see the module docstring)."""
    from django.conf import settings

    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env["DATABASE_URL"] = shared_database_url()
    env["SECRET_KEY"] = settings.SECRET_KEY
    env["DATA_DIR"] = str(settings.DATA_DIR)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(BASE_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    env["REDIS_URL"] = settings.REDIS_URL if redis_url is None else redis_url
    env.setdefault("LOG_LEVEL", "WARNING")
    # The child is not a test process: make sure nothing test-only leaks into it by accident.
    env.pop("PYTEST_CURRENT_TEST", None)
    env.pop("PYTEST_XDIST_WORKER", None)
    if extra:
        env.update(extra)
    return env


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last_error = ""
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"daphne on port {server.port} exited with {server.process.returncode}:\n"
                f"{server.log_tail()}"
            )
        try:
            # Any HTTP answer (even 503 "degraded") means the process serves requests.
            with urllib.request.urlopen(server.url + "/healthz", timeout=2):  # noqa: S310
                return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last_error = repr(exc)
        time.sleep(0.1)
    raise RuntimeError(
        f"daphne on port {server.port} not ready after {timeout}s ({last_error}):\n"
        f"{server.log_tail()}"
    )


def _spawn(
    *,
    redis_url: str | None,
    env: dict[str, str] | None,
    daphne_args: list[str] | None,
    log_dir: Path,
) -> Server:
    child_env = server_env(redis_url, env)
    sock = _listening_socket()
    port = sock.getsockname()[1]
    log_path = log_dir / f"daphne-{port}.log"
    log_file = log_path.open("wb")
    args = [
        sys.executable,
        "-m",
        "config.serve",  # daphne on uvloop, as `make run` and production run it
        "--fd",
        str(sock.fileno()),
        "--access-log",
        os.devnull,
        *(daphne_args or []),
        "config.asgi:application",
    ]
    try:
        process = subprocess.Popen(
            args,
            cwd=BASE_DIR,
            env=child_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            pass_fds=(sock.fileno(),),
            start_new_session=True,
        )
    finally:
        sock.close()  # the child holds its own copy
        log_file.close()
    return Server(port=port, process=process, log_path=log_path, env=child_env)


def start_server(
    *,
    redis_url: str | None = None,
    env: dict[str, str] | None = None,
    daphne_args: list[str] | None = None,
    log_dir: Path | None = None,
) -> Server:
    """Start one daphne process and wait until it answers HTTP. Stop it with `server.stop()`."""
    log_dir = log_dir or Path(tempfile.mkdtemp(prefix="daphne-"))
    server = _spawn(redis_url=redis_url, env=env, daphne_args=daphne_args, log_dir=log_dir)
    try:
        _wait_ready(server, timeout=30)
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def start_servers(
    count: int = 1,
    *,
    redis_url: str | None = None,
    env: dict[str, str] | None = None,
    daphne_args: list[str] | None = None,
) -> Iterator[list[Server]]:
    """Start `count` daphne processes (in parallel), yield them, stop them afterwards."""
    if count > 1 and not (settings_redis_url() if redis_url is None else redis_url):
        raise RuntimeError("Several processes need REDIS_URL (the in-memory layer is per process).")
    servers: list[Server] = []
    log_dir = Path(tempfile.mkdtemp(prefix="daphne-"))
    try:
        for _ in range(count):
            servers.append(
                _spawn(redis_url=redis_url, env=env, daphne_args=daphne_args, log_dir=log_dir)
            )
        for server in servers:
            _wait_ready(server, timeout=30)
        yield servers
    finally:
        for server in servers:
            server.stop()


def settings_redis_url() -> str:
    from django.conf import settings

    return settings.REDIS_URL


def session_cookie(user: Any) -> dict[str, str]:
    """Cookies of a signed-in session for `user`, valid on every started server."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


def set_real_password(user: Any, password: str) -> None:
    """Store `password` with a hasher the (non-test) server processes accept (PBKDF2)."""
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(password, hasher.salt())
    user.save(update_fields=["password"])


# ---------------------------------------------------------------- a private Redis


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of our own on a free port (no persistence), so a test can stop and
    restart it without touching the shared Redis other tests use."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="redis-"))
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--protected-mode",
                "no",
            ],
            stdout=(self.dir / "redis.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    redis = PrivateRedis()
    redis.start()
    try:
        yield redis
    finally:
        redis.stop()


# ---------------------------------------------------------------- HTTP as a member


class HttpMember:
    """A signed-in member talking HTTP to a started server (cookies, CSRF), standard library
    only. `post_form` answers (status, location or body) without following redirects."""

    def __init__(self, server: Server, user: Any) -> None:
        self.server = server
        self.cookies = session_cookie(user)
        self.opener = urllib.request.build_opener(_NoRedirect)

    def get(self, path: str) -> tuple[int, str]:
        request = urllib.request.Request(
            self.server.url + path, headers={"Cookie": cookie_header(self.cookies)}
        )
        try:
            with self.opener.open(request, timeout=10) as response:
                self._keep_cookies(response)
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def csrf(self) -> str:
        if "csrftoken" not in self.cookies:
            self.get("/")
        return self.cookies.get("csrftoken", "")

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, str]:
        from urllib.parse import urlencode

        token = self.csrf()
        data = urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        request = urllib.request.Request(
            self.server.url + path,
            data=data,
            method="POST",
            headers={
                "Cookie": cookie_header(self.cookies),
                "Referer": self.server.url + "/",
                "Origin": self.server.url,
                "X-CSRFToken": token,
            },
        )
        try:
            with self.opener.open(request, timeout=20) as response:
                self._keep_cookies(response)
                return response.status, response.headers.get("Location") or response.read().decode()
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                return exc.code, exc.headers.get("Location", "")
            return exc.code, exc.read().decode(errors="replace")

    def reply(self, thread_id: int, body: str) -> tuple[int, str]:
        import secrets

        return self.post_form(
            f"/t/{thread_id}/reply/", {"body": body, "client_token": secrets.token_hex(8)}
        )

    def _keep_cookies(self, response: Any) -> None:
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# ---------------------------------------------------------------- a websocket client


def healthz(server: Server) -> tuple[int, dict]:
    """GET /healthz on a started server: (status, the JSON state)."""
    import json

    try:
        with urllib.request.urlopen(server.url + "/healthz", timeout=10) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for(condition: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll `condition()` until it returns something truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class LiveClient:
    """A real websocket client (the `websockets` package, threaded API) on a started server,
    keeping what live.js keeps: every frame, and per stream the event ids seen and the last one.

    `reconnect()` opens a new socket (optionally on another server) and resubscribes every
    stream with its last id, as live.js does after a disconnect."""

    def __init__(self, server: Server, user: Any = None, *, cookies: dict | None = None) -> None:
        self.cookies = cookies if cookies is not None else (session_cookie(user) if user else {})
        self.frames: list[dict] = []
        self.events: dict[str, list[dict]] = {}
        self.streams: list[str] = []
        self.ws: Any = None
        self.hello: dict = {}
        self.closed_by = ""
        self.open(server)

    def open(self, server: Server) -> None:
        from websockets.sync.client import connect

        self.server = server
        self.closed_by = ""
        headers = {"Cookie": cookie_header(self.cookies)} if self.cookies else {}
        self.stack = contextlib.ExitStack()
        self.ws = self.stack.enter_context(
            connect(
                server.ws_url,
                origin=server.origin,
                additional_headers=headers,
                open_timeout=10,
                proxy=None,
                max_queue=None,
                compression=None,
            )
        )
        self.hello = self.expect("hello")

    def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                self.stack.close()
        self.ws = None

    def send(self, frame: dict) -> None:
        import json

        self.ws.send(json.dumps(frame))

    def next(self, timeout: float) -> dict | None:
        """The next frame (recorded), or None if none arrives within timeout."""
        import json

        from websockets.exceptions import ConnectionClosed

        try:
            text = self.ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as exc:  # the server went away: what was read stays recorded
            self.closed_by = repr(exc)
            return None
        frame = json.loads(text)
        self.frames.append(frame)
        if frame.get("type") == "event":
            self.events.setdefault(frame["stream"], []).append(frame)
        return frame

    def expect(self, type_: str, timeout: float = 10, **fields: Any) -> dict:
        """Read frames until one of this type (and these fields) arrives."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            frame = self.next(max(left, 0)) if left > 0 else None
            if frame is None:
                raise AssertionError(
                    f"no {type_} frame {fields} within {timeout}s on {self} {self.closed_by}"
                )
            if frame.get("type") == type_ and all(frame.get(k) == v for k, v in fields.items()):
                return frame

    def last_id(self, stream: str) -> int | None:
        seen = self.events.get(stream)
        return seen[-1]["id"] if seen else None

    def subscribe(self, stream: str, *, last_id: int | None = None) -> dict:
        frame: dict[str, Any] = {"type": "subscribe", "stream": stream}
        if last_id is not None:
            frame["last_id"] = last_id
        self.send(frame)
        if stream not in self.streams:
            self.streams.append(stream)
        return self.expect("subscribed", stream=stream)

    def reconnect(self, server: Server | None = None) -> None:
        """Close, open a new socket, resubscribe each stream from the last id seen."""
        self.close()
        self.open(server or self.server)
        for stream in self.streams:
            last = self.last_id(stream)
            self.subscribe(stream, last_id=last if last is not None else 0)

    def drain(self, seconds: float = 0.0) -> None:
        """Record whatever arrives within `seconds` (0: only what is already buffered)."""
        deadline = time.monotonic() + seconds
        while not self.closed_by and self.next(max(deadline - time.monotonic(), 0)) is not None:
            pass

    def wait_events(self, stream: str, count: int, timeout: float) -> list[dict]:
        """Read until `count` events of `stream` have been seen (in total), or fail."""
        deadline = time.monotonic() + timeout
        while len(self.events.get(stream, [])) < count:
            left = deadline - time.monotonic()
            if left <= 0 or self.next(left) is None:
                got = [e["id"] for e in self.events.get(stream, [])]
                raise AssertionError(
                    f"{stream}: {len(got)} of {count} events within {timeout}s on "
                    f"{self.server.url}: ids {got} {self.closed_by}"
                )
        return self.events[stream]

    def __repr__(self) -> str:
        return f"<LiveClient {getattr(self, 'server', None) and self.server.url}>"
