"""manage.py rerender_posts: re-render every post whose cached HTML came from an older renderer.

Posts keep their rendered HTML (markdown.RENDER_VERSION says which renderer made it). Thread pages
re-render stale posts when they are shown; after a renderer upgrade (a sanitizer fix above all)
this command does every stale post at once, as Discourse's `posts:rebake` does, so no old HTML
waits in a thread nobody opens, and the search index (made from the HTML) follows.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import Q

from forum import actions, search
from forum.markdown import RENDER_VERSION
from forum.models import Post


def rerender_stale_posts(*, batch_size: int = 500) -> int:
    """Re-render (and re-index) posts rendered by another renderer version; returns how many.
    Walks the posts by id in batches, each batch in its own transaction."""
    stale = ~Q(render_version=RENDER_VERSION) | Q(html="")
    done, last_id = 0, 0
    while True:
        batch = list(
            Post.objects.filter(stale, pk__gt=last_id)
            .select_related("thread")
            .order_by("pk")[:batch_size]
        )
        if not batch:
            return done
        with transaction.atomic():
            for post in batch:
                actions.ensure_rendered(post)
                search.index_post(post, thread=post.thread)
        done += len(batch)
        last_id = batch[-1].pk


class Command(BaseCommand):
    help = "Re-render posts whose HTML came from an older Markdown renderer, and re-index them."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Posts per transaction. Default 500."
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            self.stderr.write("--batch-size must be at least 1.")
            return
        started = time.monotonic()
        count = rerender_stale_posts(batch_size=batch_size)
        self.stdout.write(
            f"Re-rendered {count} posts (renderer version {RENDER_VERSION}) "
            f"in {time.monotonic() - started:.1f} s."
        )
