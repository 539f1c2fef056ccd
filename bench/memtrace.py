"""Bench-only memory diagnostic for the server processes of a bench (issue 6.4, "memory flat").

bench/servers.py serves `bench.memtrace:application` instead of `config.asgi:application` when
the bench's environment has BENCH_TRACEMALLOC_DIR (never set by default; nothing outside bench/
imports this module). Each server process then runs a daemon thread that, every
BENCH_TRACEMALLOC_EVERY seconds (default 30), appends one JSON line to <dir>/<pid>.jsonl: RSS,
Python's allocated blocks (sys.getallocatedblocks: objects of any size), resident memory by
kind of mapping (glibc's main arena, its per-thread arenas, other anonymous memory such as
pymalloc's arenas, files), the live hub's tables and the per-process caches. Options (env):

    BENCH_TRACEMALLOC_FRAMES  frames per tracemalloc trace (default 6; 0: no tracemalloc). With
                              tracemalloc on, <dir>/<pid>-<seconds>.tmsnap snapshots are written
                              too. It costs ~2x CPU: 200 soak members overload 2 cores with it.
    BENCH_TRACEMALLOC_DELAY   seconds before tracemalloc starts (default 60): a snapshot then
                              holds only what was allocated after the warm-up and is still alive.
    BENCH_MALLOC_TRIM=1       after each sample call glibc's malloc_trim(0) and record RSS again:
                              what the trim gives back was free memory glibc kept, not a leak.
    BENCH_POST_FRAGMENTS_MAX  A/B: max entries of forum_tags.POST_FRAGMENTS (0: no post cache;
                              that per-process LRU existed from f549859 to a8ef8d8).
    BENCH_MEMTRACE_GC=1       also count objects by type (gc.get_objects). Caution: in CPython
                              3.11 a tuple being built by tuple(generator) in a request thread
                              can be caught by gc.get_objects() in this thread, and the request
                              then fails with "SystemError: Objects/tupleobject.c: bad argument
                              to internal function" (seen once in a soak with this on).

`python bench/memtrace.py DIR` prints each process's timeline, and with snapshots the allocation
sites (by line and by traceback) that grew between the first snapshot at or after
MEMTRACE_SKIP seconds and the last one.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import json
import os
import sys
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

FRAMES = int(os.environ.get("BENCH_TRACEMALLOC_FRAMES") or 6)
TRIM = os.environ.get("BENCH_MALLOC_TRIM") == "1"
GC_TYPES = os.environ.get("BENCH_MEMTRACE_GC") == "1"


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _mappings_kb() -> dict[str, int]:
    """Resident KiB by kind of mapping: the brk heap (glibc's main arena), anonymous mappings
    starting on a 64 MiB boundary (glibc's per-thread arenas), other anonymous ones (pymalloc
    arenas, large allocations, thread stacks) and the rest (files: code, libraries)."""
    out = {"heap": 0, "thread_arenas": 0, "anon": 0, "files": 0}
    kind = "files"
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5 and not line.startswith(("Rss", "Size")):
                start = int(head[0].split("-")[0], 16)
                name = head[5] if len(head) > 5 else ""
                if name == "[heap]":
                    kind = "heap"
                elif not name:
                    kind = "thread_arenas" if start % (64 << 20) == 0 else "anon"
                else:
                    kind = "files"
            elif line.startswith("Rss:"):
                out[kind] += int(head[1])
    return out


def _type_counts() -> dict[str, int]:
    counts = Counter(type(o).__qualname__ for o in gc.get_objects())
    return dict(counts.most_common(60))


def _hub_sizes() -> dict[str, int]:
    """The live hub's tables (read from this thread while the loop runs: retried if a dict
    changes size under us)."""
    from realtime import hub as hub_module

    for _ in range(5):
        try:
            hubs = list(hub_module._hubs.values())
            if not hubs:
                return {}
            hub = hubs[0]
            groups = list(hub.groups.values())
            sockets = {s for members in groups for s in members}
            return {
                "groups": len(groups),
                "registrations": sum(len(m) for m in groups),
                "sockets": len(sockets),
                "closed_sockets": sum(1 for s in sockets if getattr(s, "closed", False)),
                "stream_last": len(hub.stream_last),
                "stream_locks": len(hub.stream_locks),
                "presence": len(hub.presence),
                "presence_frame": len(hub.presence_frame),
                "background": len(hub.background),
                "tasks": len(asyncio.all_tasks(hub.task.get_loop())) if hub.task else 0,
            }
        except RuntimeError:
            time.sleep(0.01)
    return {}


def _cache_sizes() -> dict[str, int]:
    """The per-process caches: entries and bytes held."""
    out: dict[str, int] = {}
    with contextlib.suppress(Exception):
        from forum import pagecache

        pages = list(pagecache._pages._items.values())
        out["pages"] = len(pages)
        out["pages_kb"] = sum(len(v[1][0]) for v in pages) // 1024
    with contextlib.suppress(Exception):
        from forum.templatetags import forum_tags

        posts = list(forum_tags.POST_FRAGMENTS._items.values())
        out["post_fragments"] = len(posts)
        out["post_fragments_kb"] = sum(len(v[1]) for v in posts) // 1024
    return out


def _writer(out: Path, every: float, delay: float, t0: float) -> None:
    pid = os.getpid()
    time.sleep(delay)
    if FRAMES:
        tracemalloc.start(FRAMES)
    while True:
        time.sleep(every)
        t = time.monotonic() - t0
        if FRAMES:
            snapshot = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, tracemalloc.__file__)]
            )
            snapshot.dump(str(out / f"{pid}-{int(t):05d}.tmsnap"))
        traced, peak = tracemalloc.get_traced_memory()
        line = {
            "t": round(t, 1),
            "rss_kb": _rss_kb(),
            "blocks": sys.getallocatedblocks(),
            "maps_kb": _mappings_kb(),
            "traced": traced,
            "peak": peak,
            "hub": _hub_sizes(),
            "caches": _cache_sizes(),
        }
        if GC_TYPES:
            line["gc_objects"] = len(gc.get_objects())
            line["types"] = _type_counts()
        if TRIM:
            # How much of RSS is memory glibc holds free (returned by malloc_trim) rather than
            # memory in use: the RSS right after a trim is the process's floor.
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            line["rss_after_trim_kb"] = _rss_kb()
            line["maps_after_trim_kb"] = _mappings_kb()
        with open(out / f"{pid}.jsonl", "a") as f:
            f.write(json.dumps(line) + "\n")


def start() -> None:
    out = Path(os.environ["BENCH_TRACEMALLOC_DIR"])
    out.mkdir(parents=True, exist_ok=True)
    every = float(os.environ.get("BENCH_TRACEMALLOC_EVERY") or 30)
    delay = float(os.environ.get("BENCH_TRACEMALLOC_DELAY") or (60 if FRAMES else 0))
    threading.Thread(
        target=_writer, args=(out, every, delay, time.monotonic()), name="memtrace", daemon=True
    ).start()


def report(directory: str, top: int = 25) -> None:
    """Per process: the timeline, then the first snapshot at or after MEMTRACE_SKIP seconds
    against the last one (allocation sites and object types that grew)."""
    root = Path(directory)
    skip = float(os.environ.get("MEMTRACE_SKIP") or 0)
    for log in sorted(root.glob("*.jsonl")):
        pid = log.stem
        lines = [json.loads(x) for x in log.read_text().splitlines()]
        print(f"=== process {pid}")
        for x in lines:
            print(
                f"  t {x['t']:6.0f} s  RSS {x['rss_kb'] / 1024:6.1f} MB  "
                f"blocks {x.get('blocks', 0)}  maps {x.get('maps_kb')}  "
                f"traced {x['traced'] / 2**20:6.1f} MB  "
                f"gc objects {x.get('gc_objects', '-')}  hub {x['hub']}  caches {x.get('caches')}"
                + (
                    f"  after malloc_trim: RSS {x['rss_after_trim_kb'] / 1024:.1f} MB "
                    f"maps {x['maps_after_trim_kb']}"
                    if "rss_after_trim_kb" in x
                    else ""
                )
            )
        later = [x for x in lines if x["t"] >= skip] or lines
        first, last = later[0], later[-1]
        if "types" in first and "types" in last:
            grew = {
                k: last["types"].get(k, 0) - first["types"].get(k, 0)
                for k in set(first["types"]) | set(last["types"])
            }
            print(f"  object types that grew most, t {first['t']:.0f} -> {last['t']:.0f} s:")
            for k, n in sorted(grew.items(), key=lambda kv: -kv[1])[:15]:
                print(f"    {n:+8d}  {k} (now {last['types'].get(k, 0)})")
        files = [f for f in sorted(root.glob(f"{pid}-*.tmsnap"))]
        files = [f for f in files if int(f.stem.split("-")[1]) >= skip] or files
        if len(files) < 2:
            continue
        a = tracemalloc.Snapshot.load(str(files[0]))
        b = tracemalloc.Snapshot.load(str(files[-1]))
        total = sum(s.size_diff for s in b.compare_to(a, "filename"))
        print(f"  traced {files[0].name} -> {files[-1].name}: {total / 1024:+.0f} KiB; by line:")
        for stat in b.compare_to(a, "lineno")[:top]:
            print(f"    {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d}  {stat.traceback}")
        print("  by traceback:")
        for stat in b.compare_to(a, "traceback")[: top // 3]:
            print(f"    {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d}")
            for frame in stat.traceback.format(limit=FRAMES, most_recent_first=True):
                print(f"        {frame}")


if os.environ.get("BENCH_TRACEMALLOC_DIR") and __name__ != "__main__":
    start()
    from config.asgi import application  # noqa: E402, F401

    if os.environ.get("BENCH_POST_FRAGMENTS_MAX"):
        # An A/B knob for the per-process post-fragment LRU of f549859-d243dc7 (0 turns it
        # off); a8ef8d8 moved post fragments to the Django cache, and then it does nothing.
        from forum.templatetags import forum_tags

        if hasattr(forum_tags, "POST_FRAGMENTS"):
            forum_tags.POST_FRAGMENTS.max_entries = int(os.environ["BENCH_POST_FRAGMENTS_MAX"])

if __name__ == "__main__":
    report(sys.argv[1])
