"""config/serve.py: daphne on uvloop, as `make run`, production and the server tests run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import BASE_DIR, start_server


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_use_uvloop_makes_new_event_loops_uvloop_loops():
    out = _run(
        "import asyncio\n"
        "from config.serve import use_uvloop\n"
        "print(use_uvloop(), type(asyncio.new_event_loop()).__module__)\n"
    )
    assert out == "True uvloop", out


def test_daphne_reactor_runs_on_uvloop_when_serve_sets_it_up():
    out = _run(
        "from config.serve import use_uvloop\n"
        "use_uvloop()\n"
        "import daphne.server  # installs Twisted's asyncio reactor on a new loop\n"
        "from twisted.internet import reactor\n"
        "print(type(reactor._asyncioEventloop).__module__)\n"
    )
    assert out == "uvloop", out


def test_serve_takes_daphnes_arguments():
    result = subprocess.run(
        [sys.executable, "-m", "config.serve", "--help"],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "--proxy-headers" in result.stdout and "application" in result.stdout


@pytest.mark.servers
def test_a_served_process_answers_on_uvloop(transactional_db):
    server = start_server()
    try:
        maps = Path(f"/proc/{server.pid}/maps")
        if not maps.exists():
            pytest.fail("/proc is needed to see which event loop the server process loaded")
        loaded = maps.read_text()
        assert "uvloop/loop." in loaded, "the server process did not load uvloop's loop"
    finally:
        server.stop()


def test_make_run_and_deployment_serve_through_config_serve():
    makefile = (BASE_DIR / "Makefile").read_text()
    assert "$(BIN)/python -m config.serve -b $(HOST) -p $(PORT)" in makefile
    deployment = (BASE_DIR / "docs" / "DEPLOYMENT.md").read_text()
    assert "venv/bin/python -m config.serve -b 127.0.0.1 -p %i" in deployment
