"""PostgreSQL search table v2 (see forum/search.py): each document also stores its post's
thread, author and date, so a search filters without joining forum_post; GIN without a pending
list (fastupdate off); no parallel workers for these small capped scans. The table is rebuilt
from the posts here. SQLite: no change (FTS5 joins the live rows)."""

from django.db import migrations

# A snapshot of forum.search's document SQL at the time of this migration (migrations must not
# depend on code that may change later).
PLAIN = (
    "translate(replace(replace(replace(replace(replace(replace("
    "regexp_replace(p.html, '<[^>]*>', ' ', 'g'),"
    " '&lt;', '<'), '&gt;', '>'), '&quot;', '\"'), '&#39;', ''''), '&nbsp;', ' '),"
    " '&amp;', '&'), E'\\x01\\x02', '')"
)
DOCUMENT = (
    "setweight(to_tsvector('english', CASE WHEN p.number = 1 THEN "
    "translate(t.title, E'\\x01\\x02', '') ELSE '' END), 'A') || "
    "setweight(to_tsvector('english', " + PLAIN + "), 'B')"
)
FORWARD = [
    "DROP TABLE IF EXISTS forum_postsearch",
    "CREATE TABLE forum_postsearch (post_id bigint NOT NULL, thread_id bigint NOT NULL, "
    "author_id bigint NOT NULL, created_at timestamptz NOT NULL, document tsvector NOT NULL) "
    "WITH (parallel_workers = 0)",
    "INSERT INTO forum_postsearch (post_id, thread_id, author_id, created_at, document) "
    "SELECT p.id, p.thread_id, p.author_id, p.created_at, " + DOCUMENT + " "
    "FROM forum_post p JOIN forum_thread t ON t.id = p.thread_id "
    "WHERE NOT p.is_hidden AND NOT p.is_deleted",
    "ALTER TABLE forum_postsearch ADD CONSTRAINT forum_postsearch_pkey PRIMARY KEY (post_id)",
    "CREATE INDEX forum_postsearch_document ON forum_postsearch USING gin (document) "
    "WITH (fastupdate = off)",
]
BACKWARD = [
    "DROP TABLE IF EXISTS forum_postsearch",
    "CREATE TABLE forum_postsearch (post_id bigint PRIMARY KEY, document tsvector NOT NULL)",
    "INSERT INTO forum_postsearch (post_id, document) SELECT p.id, " + DOCUMENT + " "
    "FROM forum_post p JOIN forum_thread t ON t.id = p.thread_id WHERE NOT p.is_deleted",
    "CREATE INDEX forum_postsearch_document ON forum_postsearch USING gin (document)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("forum", "0002_search_index")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
