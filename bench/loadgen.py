"""A bounded async HTTP load generator (aiohttp): C concurrent keep-alive clients, for a fixed
time, recording status and latency of every request. Redirects are not followed, so a page
that redirects is visible as 3xx instead of being measured as another page."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp


@dataclass
class LoadResult:
    duration: float
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)  # connection errors by type
    bytes: int = 0

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if 200 <= s < 300)

    @property
    def rps(self) -> float:
        return self.ok / self.duration if self.duration else 0.0

    def pct(self, p: float) -> float:
        """Latency percentile in milliseconds (nearest rank)."""
        if not self.latencies:
            return float("nan")
        xs = sorted(self.latencies)
        k = min(len(xs) - 1, max(0, round(p / 100 * len(xs)) - 1))
        return xs[k] * 1000


async def _worker(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    stop_at: float,
    result: LoadResult,
    record: bool,
) -> None:
    while time.monotonic() < stop_at:
        t0 = time.perf_counter()
        try:
            async with session.get(url, headers=headers, allow_redirects=False) as resp:
                body = await resp.read()
                dt = time.perf_counter() - t0
                if record:
                    result.statuses[resp.status] += 1
                    result.bytes += len(body)
                    if 200 <= resp.status < 300:
                        result.latencies.append(dt)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if record:
                result.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.05)


async def run_load(
    url: str,
    *,
    concurrency: int = 20,
    duration: float = 10.0,
    warmup: float = 2.0,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """GET `url` from `concurrency` clients for `duration` seconds after `warmup` seconds."""
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        hdrs = headers or {}
        if warmup:
            warm = LoadResult(duration=warmup)
            stop = time.monotonic() + warmup
            await asyncio.gather(
                *(_worker(session, url, hdrs, stop, warm, False) for _ in range(concurrency))
            )
        result = LoadResult(duration=duration)
        t0 = time.monotonic()
        stop = t0 + duration
        await asyncio.gather(
            *(_worker(session, url, hdrs, stop, result, True) for _ in range(concurrency))
        )
        result.duration = time.monotonic() - t0
        return result
