#!/usr/bin/env python3
"""Save the HTML of the pages bench/pages.py measures (anonymous and member), with CSRF tokens
masked, so that a performance change to templates can be checked to leave the markup as it
was: run before and after, then diff the two directories.

    .venv/bin/python bench/snapshot_pages.py --out /tmp/before
    (change templates)
    .venv/bin/python bench/snapshot_pages.py --out /tmp/after && diff -r /tmp/before /tmp/after
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.servers import bench_env  # noqa: E402

TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+(")')
CLIENT_TOKEN = re.compile(r'(name="client_token" value=")[^"]+(")')


def main() -> None:
    p = argparse.ArgumentParser(description="Save page HTML for before/after diffs")
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench"),
    )
    p.add_argument("--out", required=True)
    args = p.parse_args()
    env = bench_env(args.database_url, "redis://127.0.0.1:6379/8")
    for key in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "DATA_DIR", "DEBUG"):
        os.environ[key] = env[key]
    os.environ["SECRET_KEY"] = env["SECRET_KEY"]
    import django

    django.setup()
    from django.test import Client

    from bench.pages import pick_targets

    pages, member = pick_targets("advisory committee")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for who in ("anonymous", "member"):
        client = Client(HTTP_HOST="127.0.0.1")
        if who == "member":
            client.force_login(member)
        for i, (name, url, member_only) in enumerate(pages):
            if member_only and who == "anonymous":
                continue
            client.get(url)
            html = client.get(url).content.decode()
            html = CLIENT_TOKEN.sub(r"\1X\2", TOKEN.sub(r"\1X\2", html))
            (out / f"{i}-{who}.html").write_text(f"<!-- {name}: {url} -->\n{html}")
    print(f"saved {len(list(out.iterdir()))} pages in {out}")


if __name__ == "__main__":
    main()
