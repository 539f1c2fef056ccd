"""Full-text search over thread titles and posts: PostgreSQL FTS in production, SQLite FTS5 on
the embedded default.

Design
------
* **The index holds words, not permissions.** Each backend keeps one search document per post
  (the thread title, weighted above the body, for a thread's first post; the post's text as plain
  words). Nothing about who may see a post is copied into the index: every search joins the live
  `forum_post` / `forum_thread` rows and filters by `permissions.visible_board_ids`, hidden and
  removed posts and threads. So a moderator hiding a post, hiding a thread or moving a thread to a
  private board changes search results at once without telling the index.
* **PostgreSQL**: table `forum_postsearch (post_id bigint primary key, document tsvector)` with a
  GIN index, created by migration 0002 only on PostgreSQL. It is deliberately not a Django model
  and has no foreign key, so Django's test flush (TRUNCATE of model tables) is unaffected; a
  document whose post was hard-deleted is ignored by the join and dropped by the rebuild
  command. Documents are built in SQL (`DOCUMENT_SQL`) by both `index_post` and the rebuild, so
  they cannot drift apart. Queries use `websearch_to_tsquery('english', ...)` (quotes, `or`,
  `-word`), rank at most `RANK_CAP` matches with `ts_rank_cd` (ranking every match of a common
  word is what makes search slow on a big forum), and `ts_headline` for snippets.
* **SQLite**: FTS5 virtual table `forum_postsearch_fts(title, body)` whose rowid is the post id,
  created by migration 0002 only on SQLite; `bm25()` ranks (title weighted 10:1), `highlight()`
  and `snippet()` mark the hits. The member's query is translated to an FTS5 expression by
  `fts5_query` (every word quoted, so FTS5 syntax can never be injected).
* **Snippets are escaped text plus our own <mark> tags only.** The engines wrap hits in the
  control characters START/STOP, which are stripped from every indexed text beforehand; we then
  HTML-escape the whole snippet and only afterwards turn START/STOP into <mark></mark>. So a post
  containing `<script>` or `<mark onclick=...>` shows as text.

Keeping the index in step
-------------------------
`index_post(post)` and `remove_post(post)` are called by forum/actions.py inside the writing
transaction (create, reply, edit, delete). Visibility changes (hide, unhide, move, lock) need no
call. Two cases do: a thread renamed outside `edit_post`, and a removed post restored (its words
were dropped from the index on removal, so removed text does not linger): call
`reindex_thread(thread)` for those. `manage.py rebuild_search_index` rebuilds everything.
"""

from __future__ import annotations

import contextlib
import html
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from .models import Board, Post, Thread

PG_TABLE = "forum_postsearch"
FTS_TABLE = "forum_postsearch_fts"
# How many matches get ranked at most (DESIGN.md: ranking every match of a common word on a big
# forum costs seconds). The newest-first order in which the cap cuts is the engine's scan order.
RANK_CAP = 1000
# PostgreSQL looks for matches among the newest RECENT_WINDOW posts before the older ones.
RECENT_WINDOW = 20000
FLOOR_CACHE_KEY = "forum:search:recent-floor"
PER_PAGE = 20
QUERY_MAX = 200
QUERY_MAX_TERMS = 16
# Sentinels the engines put around hits; stripped from indexed text so a post cannot fake them.
START, STOP = "\x01", "\x02"

_TAG_RE = re.compile(r"<[^>]*>")
_SENTINEL_RE = re.compile("[\x01\x02]")
_TOKEN_RE = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD_RE = re.compile(r"\w+", re.UNICODE)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


# ---------------------------------------------------------------- documents


def plain_text(rendered_html: str) -> str:
    """The words of a post: its sanitized HTML without tags and entities, sentinels removed."""
    return _SENTINEL_RE.sub("", html.unescape(_TAG_RE.sub(" ", rendered_html or "")))


# The same expression in SQL, for PostgreSQL (entities the sanitizer emits, &amp; last).
_PLAIN_SQL = (
    "translate(replace(replace(replace(replace(replace(replace("
    "regexp_replace(p.html, '<[^>]*>', ' ', 'g'),"
    " '&lt;', '<'), '&gt;', '>'), '&quot;', '\"'), '&#39;', ''''), '&nbsp;', ' '),"
    " '&amp;', '&'), E'\\x01\\x02', '')"
)
_TITLE_SQL = "translate(t.title, E'\\x01\\x02', '')"
DOCUMENT_SQL = (
    "setweight(to_tsvector('english', CASE WHEN p.number = 1 THEN "
    + _TITLE_SQL
    + " ELSE '' END), 'A') || setweight(to_tsvector('english', "
    + _PLAIN_SQL
    + "), 'B')"
)
# Only module constants are interpolated into this module's SQL; values go as parameters.
_PG_COLUMNS = "post_id, thread_id, author_id, created_at, document"
_PG_SELECT = " ".join(
    [  # noqa: S608
        f"SELECT p.id, p.thread_id, p.author_id, p.created_at, {DOCUMENT_SQL}",
        "FROM forum_post p JOIN forum_thread t ON t.id = p.thread_id",
        "WHERE NOT p.is_hidden AND NOT p.is_deleted AND {where}",
    ]
)
_PG_UPSERT = " ".join(
    [  # noqa: S608
        f"INSERT INTO {PG_TABLE} ({_PG_COLUMNS})",
        _PG_SELECT,
        "ON CONFLICT (post_id) DO UPDATE SET thread_id = EXCLUDED.thread_id,",
        "author_id = EXCLUDED.author_id, created_at = EXCLUDED.created_at,",
        "document = EXCLUDED.document",
    ]
)
_FTS_INSERT = f"INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (%s, %s, %s)"  # noqa: S608
_FTS_DELETE = f"DELETE FROM {FTS_TABLE} WHERE rowid = %s"  # noqa: S608
_PG_DELETE = f"DELETE FROM {PG_TABLE} WHERE post_id = %s"  # noqa: S608


def pg_table_sql(table: str) -> list[str]:
    """DDL of the PostgreSQL search table (also used for the rebuild's build table). No foreign
    key: Django's test flush truncates model tables only. fastupdate=off keeps GIN lookups
    steady (a pending list makes every search scan it); parallel workers only add start-up
    latency to these small, capped scans."""
    return [
        f"CREATE TABLE {table} (post_id bigint NOT NULL, thread_id bigint NOT NULL, "
        "author_id bigint NOT NULL, created_at timestamptz NOT NULL, document tsvector NOT NULL)"
        " WITH (parallel_workers = 0)",
    ]


def pg_index_sql(table: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY (post_id)",
        f"CREATE INDEX {table}_document ON {table} USING gin (document) WITH (fastupdate = off)",
    ]


def _fts_row(post: Post, thread: Thread) -> tuple[int, str, str]:
    title = _SENTINEL_RE.sub("", thread.title) if post.number == 1 else ""
    return post.pk, title, plain_text(post.html)


def index_post(post: Post, *, thread: Thread | None = None) -> None:
    """Keep the search index in step with a written post (called by actions and moderation, in
    their transaction). Hidden or removed posts are taken out instead."""
    if not post.is_visible:
        remove_post(post)
        return
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(_PG_UPSERT.format(where="p.id = %s"), [post.pk])
        else:
            thread = thread if thread is not None else post.thread
            cursor.execute(_FTS_DELETE, [post.pk])
            cursor.execute(_FTS_INSERT, _fts_row(post, thread))


def remove_post(post: Post) -> None:
    """Drop a post from the search index (called when a post is removed or hidden)."""
    with connection.cursor() as cursor:
        cursor.execute(_PG_DELETE if is_postgres() else _FTS_DELETE, [post.pk])


def reindex_thread(thread: Thread) -> int:
    """Re-index every post of one thread: after a rename outside edit_post, or when posts
    changed visibility without index_post/remove_post."""
    with transaction.atomic():
        return _rebuild_in_place(thread_id=thread.pk)


def rebuild_index(*, batch_size: int = 20000) -> int:
    """Rebuild the whole index from the posts; returns how many posts are indexed.

    PostgreSQL: documents are built in SQL (INSERT ... SELECT, one statement per id batch) into
    a fresh table, indexed once at the end (much faster than growing a GIN index row by row),
    then swapped in; posts written meanwhile are caught up after the swap. Searches keep
    working throughout. SQLite: refilled in one transaction."""
    if not is_postgres():
        with transaction.atomic():
            return _rebuild_in_place(batch_size=batch_size)
    build = PG_TABLE + "_build"
    with connection.cursor() as cursor:
        cursor.execute("SELECT now(), coalesce(max(id), 0) FROM forum_post")
        started, high = cursor.fetchone()
        cursor.execute(f"DROP TABLE IF EXISTS {build}")
        for statement in pg_table_sql(build):
            cursor.execute(statement)
        insert = f"INSERT INTO {build} ({_PG_COLUMNS}) " + _PG_SELECT.format(  # noqa: S608
            where="p.id >= %(low)s AND p.id < %(high)s"
        )
        for low in range(0, high + 1, batch_size):
            cursor.execute(insert, {"low": low, "high": low + batch_size})
        for statement in pg_index_sql(build):
            cursor.execute(statement)
        with transaction.atomic():
            cursor.execute(f"DROP TABLE IF EXISTS {PG_TABLE}")
            cursor.execute(f"ALTER TABLE {build} RENAME TO {PG_TABLE}")
            cursor.execute(f"ALTER INDEX {build}_pkey RENAME TO {PG_TABLE}_pkey")
            cursor.execute(f"ALTER INDEX {build}_document RENAME TO {PG_TABLE}_document")
        # Catch up with what was written while the build ran.
        cursor.execute(
            _PG_UPSERT.format(where="(p.id > %(high)s OR p.edited_at >= %(started)s)"),
            {"high": high, "started": started},
        )
        cursor.execute(
            f"DELETE FROM {PG_TABLE} s USING forum_post p WHERE p.id = s.post_id "  # noqa: S608
            "AND (p.is_hidden OR p.is_deleted)"
        )
        cursor.execute(f"ANALYZE {PG_TABLE}")
        cursor.execute(f"SELECT count(*) FROM {PG_TABLE}")  # noqa: S608
        with contextlib.suppress(Exception):  # Redis down: the cached floor expires in 5 min
            cache.delete(FLOOR_CACHE_KEY)
        return cursor.fetchone()[0]


def _rebuild_in_place(*, batch_size: int = 20000, thread_id: int | None = None) -> int:
    """Delete and re-create the documents of every post, or of one thread's posts."""
    scope = "" if thread_id is None else " AND p.thread_id = %(thread)s"
    params: dict[str, Any] = {"thread": thread_id}
    table, key = (PG_TABLE, "post_id") if is_postgres() else (FTS_TABLE, "rowid")
    indexed = 0
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(id), max(id) FROM forum_post p WHERE 1 = 1" + scope,  # noqa: S608
            params,
        )
        low, high = cursor.fetchone()
        cursor.execute(
            f"DELETE FROM {table} WHERE {key} IN "  # noqa: S608
            "(SELECT id FROM forum_post p WHERE 1 = 1" + scope + ")"
            if thread_id is not None
            else f"DELETE FROM {table}",  # noqa: S608
            params,
        )
        if low is None:
            return 0
        where = "p.id >= %(low)s AND p.id < %(high)s" + scope
        for start in range(low, high + 1, batch_size):
            params.update(low=start, high=start + batch_size)
            if is_postgres():
                cursor.execute(_PG_UPSERT.format(where=where), params)
                indexed += cursor.rowcount
                continue
            cursor.execute(
                "SELECT p.id, p.number, p.html, t.title FROM forum_post p "  # noqa: S608
                "JOIN forum_thread t ON t.id = p.thread_id "
                "WHERE NOT p.is_hidden AND NOT p.is_deleted AND " + where,
                params,
            )
            rows = [
                (pid, _SENTINEL_RE.sub("", title) if number == 1 else "", plain_text(body))
                for pid, number, body, title in cursor.fetchall()
            ]
            cursor.executemany(_FTS_INSERT, rows)
            indexed += len(rows)
    return indexed


# ---------------------------------------------------------------- queries


@dataclass
class ParsedQuery:
    """A websearch-style query: words, "quoted phrases", `or`, and -excluded words."""

    groups: list[list[str]] = field(default_factory=list)  # OR of AND-groups of phrases
    excluded: list[str] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not any(self.groups)


def parse_query(q: str) -> ParsedQuery:
    parsed = ParsedQuery(groups=[[]])
    for match in _TOKEN_RE.finditer(q):
        negate, quoted, bare = match.group(1), match.group(2), match.group(3)
        if bare is not None and bare.lower() == "or":
            if parsed.groups[-1]:
                parsed.groups.append([])
            continue
        if bare is not None and bare.startswith("-") and len(bare) > 1:
            negate, bare = "-", bare[1:]
        words = _WORD_RE.findall(quoted if quoted is not None else bare)
        if not words:
            continue
        phrase = " ".join(words)
        if negate:
            parsed.excluded.append(phrase)
        else:
            parsed.groups[-1].append(phrase)
    parsed.groups = [g for g in parsed.groups if g]
    return parsed


def fts5_query(parsed: ParsedQuery) -> str:
    """The FTS5 MATCH expression: every phrase quoted (only word characters survive parsing)."""

    def quote(phrase: str) -> str:
        return '"' + phrase.replace('"', '""') + '"'

    ors = ["(" + " AND ".join(quote(p) for p in group) + ")" for group in parsed.groups]
    expression = "(" + " OR ".join(ors) + ")"
    for phrase in parsed.excluded:
        expression += " NOT " + quote(phrase)
    return expression


@dataclass
class SearchHit:
    post: Post
    title_html: SafeString
    snippet_html: SafeString
    rank: float


@dataclass
class SearchResults:
    hits: list[SearchHit]
    total: int  # matches found, at most RANK_CAP
    page: int
    page_count: int
    per_page: int = PER_PAGE

    @property
    def first_number(self) -> int:
        return (self.page - 1) * self.per_page + 1

    @property
    def capped(self) -> bool:
        return self.total >= RANK_CAP


EMPTY = SearchResults(hits=[], total=0, page=1, page_count=1)


def marked(text: str) -> SafeString:
    """Escape engine output, then turn our sentinels (and only those) into <mark> tags."""
    escaped = html.escape(text or "", quote=True)
    return mark_safe(escaped.replace(START, "<mark>").replace(STOP, "</mark>"))  # noqa: S308


def _db_datetime(day: date) -> Any:
    """The start of `day` in the site's time zone, as the database stores datetimes."""
    start = timezone.make_aware(datetime.combine(day, time.min))
    return connection.ops.adapt_datetimefield_value(start)


def search_posts(
    user: Any,
    q: str,
    *,
    board_ids: frozenset[int] | set[int],
    author: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
    page: int = 1,
    per_page: int = PER_PAGE,
) -> SearchResults:
    """Ranked posts matching `q` among `board_ids` (the caller passes the searcher's visible
    boards, or one of them), only visible posts in visible threads. One SQL query, plus one to
    load the page's posts: the count is the same for 0, 1 or 20 hits."""
    parsed = parse_query(q)
    if parsed.is_empty or not board_ids:
        return EMPTY
    # PostgreSQL filters on the columns stored with each document (post visibility is kept by
    # index_post/remove_post); SQLite joins the live post row.
    row = "s" if is_postgres() else "p"
    filters = (
        []
        if is_postgres()
        else ["NOT t.is_hidden", "NOT t.is_deleted", "NOT p.is_hidden", "NOT p.is_deleted"]
    )
    params: dict[str, Any] = {}
    boards = sorted(board_ids)
    if author:
        filters.append(
            f"{row}.author_id IN (SELECT id FROM accounts_user "  # noqa: S608
            "WHERE lower(username) = lower(%(author)s))"
        )
        params["author"] = author
    if date_from:
        filters.append(f"{row}.created_at >= %(date_from)s")
        params["date_from"] = _db_datetime(date_from)
    if date_to:
        filters.append(f"{row}.created_at < %(date_to)s")
        params["date_to"] = _db_datetime(date_to + timedelta(days=1))
    page = max(1, page)
    params.update(cap=RANK_CAP, limit=per_page, offset=(page - 1) * per_page)
    rows = _run(parsed, q, boards, filters, params)
    if not rows and page > 1:
        return SearchResults(hits=[], total=0, page=page, page_count=page, per_page=per_page)
    total = rows[0][2] if rows else 0
    posts = (
        Post.objects.select_related("thread__board", "author")
        .defer("body", "html", "thread__board__description")
        .in_bulk([row[0] for row in rows])
    )
    hits = [
        SearchHit(
            post=posts[pid],
            title_html=marked(title),
            snippet_html=marked(snippet),
            rank=float(rank),
        )
        for pid, rank, _total, title, snippet in rows
        if pid in posts
    ]
    return SearchResults(
        hits=hits,
        total=total,
        page=page,
        page_count=max(1, -(-total // per_page)),
        per_page=per_page,
    )


_PG_THREAD_VISIBLE = (
    "(SELECT t.board_id FROM forum_thread t WHERE t.id = s.thread_id "
    "AND NOT t.is_hidden AND NOT t.is_deleted) = ANY(%(boards)s)"
)


def _recent_floor() -> int:
    """The post id below which posts count as older for the tiered scan. A literal (not a
    subquery) so the planner estimates both tiers from statistics; cached, as it only has to be
    roughly right. Reading never depends on Redis: with the cache down it is computed."""
    try:
        floor = cache.get(FLOOR_CACHE_KEY)
    except Exception:  # redis-py's ConnectionError/TimeoutError
        floor = None
    if floor is None:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT coalesce(max(post_id), 0) FROM {PG_TABLE}")  # noqa: S608
            floor = max(0, cursor.fetchone()[0] - RECENT_WINDOW)
        with contextlib.suppress(Exception):  # an outage costs one cheap max() per search
            cache.set(FLOOR_CACHE_KEY, floor, 300)
    return floor


def _run(
    parsed: ParsedQuery, q: str, boards: list[int], filters: list[str], params: dict[str, Any]
) -> list[tuple]:
    if is_postgres():
        params.update(q=q, boards=boards, floor=_recent_floor())
        # The thread's live state is read per candidate through a scalar subquery: one primary
        # key lookup each, a plan shape the planner cannot turn into hashing every thread.
        where = " AND ".join([*filters, _PG_THREAD_VISIBLE])
        # Two tiers: the newest RECENT_WINDOW posts first; older posts are scanned only when
        # the newest ones hold fewer than the cap (so a common word ranks recent matches, and
        # the engine never reads all of its thousands of matches).
        sql = f"""
            WITH query AS (SELECT websearch_to_tsquery('english', %(q)s) AS q),
            recent AS (
                SELECT s.post_id, s.document FROM {PG_TABLE} s
                WHERE s.document @@ websearch_to_tsquery('english', %(q)s)
                  AND s.post_id > %(floor)s AND {where}
                LIMIT %(cap)s
            ),
            older AS (
                SELECT s.post_id, s.document FROM {PG_TABLE} s
                WHERE (SELECT count(*) FROM recent) < %(cap)s
                  AND s.document @@ websearch_to_tsquery('english', %(q)s)
                  AND s.post_id <= %(floor)s AND {where}
                LIMIT %(cap)s
            ),
            matches AS (
                SELECT * FROM recent
                UNION ALL
                (SELECT * FROM older LIMIT %(cap)s - (SELECT count(*) FROM recent))
            ),
            ranked AS (
                SELECT m.post_id, ts_rank_cd(
                    m.document, websearch_to_tsquery('english', %(q)s)) AS rank,
                       count(*) OVER () AS total
                FROM matches m ORDER BY rank DESC, m.post_id DESC
                LIMIT %(limit)s OFFSET %(offset)s
            )
            SELECT r.post_id, r.rank, r.total,
                ts_headline('english', {_TITLE_SQL}, query.q,
                    'HighlightAll=true, StartSel=\x01, StopSel=\x02'),
                ts_headline('english', {_PLAIN_SQL}, query.q,
                    'StartSel=\x01, StopSel=\x02, MaxWords=30, MinWords=12, '
                    'MaxFragments=2, FragmentDelimiter=" … "')
            FROM ranked r JOIN forum_post p ON p.id = r.post_id
            JOIN forum_thread t ON t.id = p.thread_id CROSS JOIN query
            WHERE NOT p.is_hidden AND NOT p.is_deleted
            ORDER BY r.rank DESC, r.post_id DESC
        """  # noqa: S608
    else:
        params["match"] = fts5_query(parsed)
        board_params = {f"b{i}": board for i, board in enumerate(boards)}
        params.update(board_params)
        in_list = ", ".join(f"%({name})s" for name in board_params)
        where = " AND ".join([*filters, f"t.board_id IN ({in_list})"])
        # bm25 is "lower is better"; the title column weighs ten times the body.
        sql = f"""
            WITH matches AS (
                SELECT f.rowid AS post_id, bm25({FTS_TABLE}, 10.0, 1.0) AS score
                FROM {FTS_TABLE} f
                JOIN forum_post p ON p.id = f.rowid
                JOIN forum_thread t ON t.id = p.thread_id
                WHERE {FTS_TABLE} MATCH %(match)s AND {where}
                ORDER BY f.rowid DESC LIMIT %(cap)s
            ),
            ranked AS (
                SELECT post_id, score, count(*) OVER () AS total FROM matches
                ORDER BY score, post_id DESC LIMIT %(limit)s OFFSET %(offset)s
            )
            SELECT r.post_id, -r.score, r.total,
                CASE WHEN f.title != '' THEN highlight({FTS_TABLE}, 0, char(1), char(2))
                     ELSE t.title END,
                snippet({FTS_TABLE}, 1, char(1), char(2), ' … ', 32)
            FROM ranked r JOIN {FTS_TABLE} f ON f.rowid = r.post_id
            JOIN forum_post p ON p.id = r.post_id JOIN forum_thread t ON t.id = p.thread_id
            WHERE {FTS_TABLE} MATCH %(match)s
            ORDER BY r.score, r.post_id DESC
        """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def board_choices(user: Any) -> list[Board]:
    """The boards this searcher may filter by (the same rule as everywhere: visible_boards)."""
    from . import permissions

    return list(
        permissions.visible_boards(user).only("id", "name", "slug").order_by("position", "name")
    )
