"""Fixtures for the security tests: rate limits on, a fixed clock, a cache that is down."""

from __future__ import annotations

import pytest

from forum import limits


@pytest.fixture
def limits_on(settings):
    """Turn the rate limits on (the rest of the suite runs without them)."""
    settings.FORUM = {**settings.FORUM, "RATE_LIMITS_ENABLED": True}
    return settings.FORUM


@pytest.fixture
def clock(monkeypatch):
    """A clock the test moves: windows never straddle a boundary by accident."""

    class Clock:
        now = 1_800_000_000.0 + 30  # 30 s into a minute, an hour, a day window

        def advance(self, seconds: float) -> None:
            self.now += seconds

    c = Clock()
    monkeypatch.setattr(limits, "_now", lambda: c.now)
    return c


@pytest.fixture
def cache_down(settings):
    """The cache is a Redis nobody listens on (connection refused at once)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    from django.core.cache import cache

    with pytest.raises(Exception):  # noqa: B017 (any redis-py error proves it is down)
        cache.get("probe")
    return settings.CACHES
