"""The README's two commands work from a fresh clone of the committed tree.

`git clone` HEAD into a temporary folder, then `make run` there (it creates the virtual
environment, installs the pinned project, migrates, loads the demo and serves with daphne on the
PORT we give it): / and /healthz answer, the address and demo logins are printed, and a second
load_demo adds nothing. Then `make test` runs a slice of the suite in the clone.

Slow (a minute or two: a virtual environment is built from scratch), so it runs in CI (CI=true,
as .ci/run sets) or with RUN_SLOW=1; tests/conftest.py says so when it is deselected. On the
production profile (DATABASE_URL and REDIS_URL set) the clone runs against a scratch PostgreSQL
database and its own Redis key prefix, so both profiles are checked from a fresh clone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parent.parent
# Variables of this test process that must not leak into the clone's commands.
DROP = (
    "DATA_DIR",
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "PRODUCTION",
    "DEBUG",
    "DJANGO_SETTINGS_MODULE",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTEST_ADDOPTS",
    "PYTEST_CURRENT_TEST",
    "PYTEST_XDIST_WORKER",
    "PYTEST_XDIST_WORKER_COUNT",
    "MEDIA_ROOT",
    "STATIC_ROOT",
    "CHANNEL_PREFIX",
    "CACHE_PREFIX",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, timeout: float = 5) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (localhost)
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.fixture
def clone_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if k not in DROP}
    outer_db = os.environ.get("DATABASE_URL", "")
    outer_redis = os.environ.get("REDIS_URL", "")
    scratch = ""
    if outer_db:
        import psycopg

        parts = urlsplit(outer_db)
        scratch = f"clone_{uuid.uuid4().hex[:10]}"
        admin_url = urlunsplit(parts._replace(path="/postgres"))
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{scratch}"')
        env["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{scratch}"))
    if outer_redis:
        env["REDIS_URL"] = outer_redis
        env["CHANNEL_PREFIX"] = env["CACHE_PREFIX"] = f"clone{uuid.uuid4().hex[:8]}"
    yield env
    if scratch:
        import psycopg

        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            conn.execute(f'DROP DATABASE IF EXISTS "test_{scratch}" WITH (FORCE)')


def test_fresh_clone_make_run_and_make_test_work(tmp_path: Path, clone_env: dict[str, str]):
    clone = tmp_path / "forum"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    port = free_port()
    log_path = tmp_path / "make-run.log"
    started = time.monotonic()
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            ["make", "run", f"PORT={port}"],
            cwd=clone,
            env=clone_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        status = 0
        deadline = started + 300
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"make run exited with {server.returncode}:\n{log_path.read_text()}")
            try:
                status, health = fetch(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail(f"make run did not serve within 300 s:\n{log_path.read_text()}")
        ready_after = time.monotonic() - started
        assert status == 200, health
        assert '"database": "ok"' in health and '"channel_layer": "ok"' in health

        status, home = fetch(f"http://127.0.0.1:{port}/")
        assert status == 200
        for board in ("Announcements", "Networking", "Advocacy", "Professional Development"):
            assert board in home
        assert "Board Room" not in home  # private to the Board members group
        status, css = fetch(f"http://127.0.0.1:{port}/static/css/forum.css")
        assert status == 200 and "hue-0" in css

        output = log_path.read_text()
        assert f"http://127.0.0.1:{port}/" in output
        assert "carocp-demo" in output
        for login in ("maria", "james", "dana", "mod", "admin"):
            assert login in output
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)

    again = subprocess.run(
        [str(clone / ".venv/bin/python"), "manage.py", "load_demo"],
        cwd=clone,
        env=clone_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert again.returncode == 0, again.stderr
    assert "created 0 groups, 0 members, 0 boards, 0 threads, 0 replies" in again.stdout

    tests = subprocess.run(
        ["make", "test", "PYTEST_ARGS=tests/accounts/test_directory.py -q -p no:cacheprovider"],
        cwd=clone,
        env=clone_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout
    print(f"fresh clone: make run served after {ready_after:.0f} s")
