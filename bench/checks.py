"""Invariant checks on the forum's counters, shared by bench/seed and the load and fault
scripts. Each check is one SQL query counting the rows that break an invariant."""

from __future__ import annotations

COUNTER_CHECKS: dict[str, str] = {
    "thread post_count == posts == max(number), reply_count == visible replies": (
        "SELECT COUNT(*) FROM forum_thread t LEFT JOIN (SELECT thread_id, COUNT(*) c, "
        "MAX(number) m, COUNT(*) FILTER (WHERE NOT is_hidden AND NOT is_deleted "
        "AND number > 1) r FROM forum_post GROUP BY thread_id) p ON p.thread_id = t.id "
        "WHERE t.post_count <> COALESCE(p.c, 0) OR t.post_count <> COALESCE(p.m, 0) "
        "OR t.reply_count <> COALESCE(p.r, 0)"
    ),
    "thread last_post is its last visible post (its last post when none is)": (
        "SELECT COUNT(*) FROM forum_thread t JOIN forum_post p ON p.id = t.last_post_id "
        "WHERE p.thread_id <> t.id OR p.number <> COALESCE((SELECT MAX(v.number) FROM "
        "forum_post v WHERE v.thread_id = t.id AND NOT v.is_hidden AND NOT v.is_deleted), "
        "t.post_count)"
    ),
    # forum.moderation.recount_boards: a board counts its listed threads (not hidden, deleted
    # or merged away) and the visible posts of those threads.
    "board thread_count and post_count (listed threads, their visible posts)": (
        "SELECT COUNT(*) FROM forum_board b LEFT JOIN (SELECT t.board_id, "
        "COUNT(DISTINCT t.id) tc, COUNT(p.id) pc FROM forum_thread t LEFT JOIN forum_post p "
        "ON p.thread_id = t.id AND NOT p.is_hidden AND NOT p.is_deleted "
        "WHERE NOT t.is_hidden AND NOT t.is_deleted AND t.merged_into_id IS NULL "
        "GROUP BY t.board_id) s ON s.board_id = b.id "
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
