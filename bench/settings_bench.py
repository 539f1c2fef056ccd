"""Settings for the bench servers: the project's settings plus a bench-only URLconf
(/bench/plain/). Selected with DJANGO_SETTINGS_MODULE=bench.settings_bench; everything else
(database, Redis, SECRET_KEY, DEBUG off, FORUM_RATE_LIMITS, notification caps) comes from the
environment exactly as in production; bench/servers.py sets it."""

from __future__ import annotations

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"
