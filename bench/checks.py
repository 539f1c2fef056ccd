"""Invariant checks on the forum's counters, shared by bench/seed and the load and fault
scripts. Each check is one SQL query counting the rows that break an invariant."""

from __future__ import annotations

COUNTER_CHECKS: dict[str, str] = {
    "thread post_count == posts == max(number), reply_count == visible - 1": (
        "SELECT COUNT(*) FROM forum_thread t LEFT JOIN (SELECT thread_id, COUNT(*) c, "
        "MAX(number) m, COUNT(*) FILTER (WHERE NOT is_hidden AND NOT is_deleted) v "
        "FROM forum_post GROUP BY thread_id) p ON p.thread_id = t.id "
        "WHERE t.post_count <> COALESCE(p.c, 0) OR t.post_count <> COALESCE(p.m, 0) "
        "OR t.reply_count <> GREATEST(COALESCE(p.v, 0) - 1, 0)"
    ),
    "thread last_post is its highest number": (
        "SELECT COUNT(*) FROM forum_thread t JOIN forum_post p ON p.id = t.last_post_id "
        "WHERE p.number <> t.post_count OR p.thread_id <> t.id"
    ),
    "board thread_count and post_count": (
        "SELECT COUNT(*) FROM forum_board b LEFT JOIN (SELECT board_id, COUNT(*) tc, "
        "SUM(post_count) pc FROM forum_thread GROUP BY board_id) s ON s.board_id = b.id "
        "WHERE b.thread_count <> COALESCE(s.tc, 0) OR b.post_count <> COALESCE(s.pc, 0)"
    ),
    "user post_count and thread_count": (
        "SELECT COUNT(*) FROM accounts_user u LEFT JOIN (SELECT author_id, COUNT(*) c FROM "
        "forum_post GROUP BY author_id) p ON p.author_id = u.id LEFT JOIN (SELECT author_id, "
        "COUNT(*) c FROM forum_thread GROUP BY author_id) t ON t.author_id = u.id "
        "WHERE u.post_count <> COALESCE(p.c, 0) OR u.thread_count <> COALESCE(t.c, 0)"
    ),
    "reaction_counts match Reaction rows": (
        "SELECT COUNT(*) FROM forum_post p LEFT JOIN (SELECT post_id, jsonb_object_agg(kind, c) "
        "agg FROM (SELECT post_id, kind, COUNT(*) c FROM forum_reaction GROUP BY post_id, kind) "
        "k GROUP BY post_id) r ON r.post_id = p.id "
        "WHERE p.reaction_counts <> COALESCE(r.agg, '{}'::jsonb)"
    ),
}


def check_counters(verbose: bool = True) -> dict[str, int]:
    """{check name: number of rows breaking it}; all zeros means every counter is exact."""
    from django.db import connection

    out: dict[str, int] = {}
    with connection.cursor() as c:
        for name, sql in COUNTER_CHECKS.items():
            c.execute(sql)
            out[name] = c.fetchone()[0]
            if verbose:
                print(f"  check {name}: {'ok' if out[name] == 0 else f'{out[name]} WRONG'}")
    return out
