"""GET /healthz: the database and a round trip through the channel layer; 200 only if both work."""

from __future__ import annotations

import asyncio

import pytest
from django.db import OperationalError, connection

from realtime import health
from tests.conftest import client_for


class BrokenLayer:
    """A channel layer whose backend is gone (what a Redis outage looks like to us)."""

    async def new_channel(self, prefix: str = "specific.") -> str:
        raise ConnectionError("Redis is not reachable")


class SilentLayer:
    """A layer that accepts messages but never delivers them."""

    async def new_channel(self, prefix: str = "specific.") -> str:
        return prefix + "x"

    async def send(self, channel: str, message: dict) -> None:
        return None

    async def receive(self, channel: str) -> dict:
        await asyncio.sleep(30)
        return {}


@pytest.mark.django_db
def test_healthz_reports_ok_when_database_and_layer_work():
    response = client_for().get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "static": "ok",
        "channel_layer": "ok",
    }


@pytest.mark.django_db
def test_healthz_503_when_channel_layer_fails(monkeypatch):
    monkeypatch.setattr(health, "get_channel_layer", lambda *a, **k: BrokenLayer())
    response = client_for().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == "ok"
    assert body["channel_layer"] == "error: ConnectionError"


@pytest.mark.django_db
def test_healthz_503_when_channel_layer_never_delivers(monkeypatch):
    monkeypatch.setattr(health, "get_channel_layer", lambda *a, **k: SilentLayer())
    response = client_for().get("/healthz")
    assert response.status_code == 503
    assert response.json()["channel_layer"] == "error: TimeoutError"


@pytest.mark.django_db
def test_healthz_503_when_redis_is_unreachable(settings):
    # A real channels-redis layer pointed at a port where nothing listens.
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    response = client_for().get("/healthz")
    assert response.status_code == 503
    assert response.json()["channel_layer"].startswith("error: ")


@pytest.mark.django_db
def test_healthz_503_when_database_fails(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server")

    client = client_for()
    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "error: OperationalError"
    assert body["channel_layer"] == "ok"
    assert body["status"] == "degraded"
    assert client.get("/readyz").status_code == 503


@pytest.mark.django_db
def test_readyz_stays_200_through_a_channel_layer_outage(monkeypatch):
    """A proxy's health check: a Redis outage costs live updates, not the pages (a proxy that
    took every worker out for it turned a live-updates outage into a full one)."""
    assert client_for().get("/readyz").json() == {"status": "ok", "database": "ok", "static": "ok"}
    monkeypatch.setattr(health, "get_channel_layer", lambda *a, **k: SilentLayer())
    response = client_for().get("/readyz")  # the layer is not asked: no 2 s wait either
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "static": "ok"}
    monkeypatch.setattr(health, "get_channel_layer", lambda *a, **k: BrokenLayer())
    assert client_for().get("/healthz").status_code == 503
    assert client_for().head("/readyz").status_code == 200


@pytest.mark.django_db
def test_health_fails_without_the_static_files_manifest(settings, tmp_path):
    """Production storage with no manifest in STATIC_ROOT (collectstatic not run, or run with
    another STATIC_ROOT): every page would be a 500, so the worker is not ready."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    from django.utils.functional import empty

    staticfiles_storage._wrapped = empty  # re-created from the new settings on next use
    try:
        for url in ("/readyz", "/healthz"):
            response = client_for().get(url)
            assert response.status_code == 503, url
            assert response.json()["static"] == "error: ValueError"
    finally:
        staticfiles_storage._wrapped = empty


def test_refusals_log_one_line_and_server_errors_keep_their_traceback():
    import logging

    from config.logfilters import QuietRefusals

    def record(name: str, status: int | None) -> logging.LogRecord:
        try:
            raise PermissionError("refused")
        except PermissionError:
            import sys

            rec = logging.LogRecord(name, logging.WARNING, __file__, 1, "msg", (), sys.exc_info())
        if status is not None:
            rec.status_code = status
        return rec

    quiet = QuietRefusals()
    for name, status in (
        ("django.request", 403),
        ("django.request", 404),
        ("django.security.DisallowedHost", None),
    ):
        rec = record(name, status)
        assert quiet.filter(rec) and rec.exc_info is None, (name, status)
    rec = record("django.request", 500)
    assert quiet.filter(rec) and rec.exc_info is not None
