"""Search index structures (see forum/search.py): a tsvector table with a GIN index on
PostgreSQL, an FTS5 virtual table on SQLite. Neither is a Django model: each exists only on its
own backend, and migrations on the other backend are a no-op."""

from django.db import migrations

PG_CREATE = [
    "CREATE TABLE IF NOT EXISTS forum_postsearch "
    "(post_id bigint PRIMARY KEY, document tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS forum_postsearch_document ON forum_postsearch "
    "USING gin (document)",
]
SQLITE_CREATE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS forum_postsearch_fts USING fts5("
    "title, body, tokenize = 'porter unicode61 remove_diacritics 2')",
]


def create_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = {"postgresql": PG_CREATE, "sqlite": SQLITE_CREATE}.get(vendor, [])
    for statement in statements:
        schema_editor.execute(statement)


def drop_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP TABLE IF EXISTS forum_postsearch")
    elif vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS forum_postsearch_fts")


class Migration(migrations.Migration):
    dependencies = [("forum", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
