"""manage.py rebuild_search_index: rebuild the full-text index from the posts.

Use after a bulk import (bench/seed), a restore, or to drop documents of hard-deleted posts.
PostgreSQL builds each batch in SQL (INSERT ... SELECT to_tsvector(...)) into a fresh table,
indexes it once and swaps it in while searches keep working; SQLite re-fills FTS5.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from forum import search


class Command(BaseCommand):
    help = "Rebuild the full-text search index (PostgreSQL tsvector table or SQLite FTS5)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=20000,
            help="Posts per statement (by id range). Default 20000.",
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            self.stderr.write("--batch-size must be at least 1.")
            return
        started = time.monotonic()
        indexed = search.rebuild_index(batch_size=batch_size)
        self.stdout.write(
            f"Indexed {indexed} posts ({connection.vendor}) in {time.monotonic() - started:.1f} s."
        )
