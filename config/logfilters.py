"""Logging filters for config/settings.py LOGGING."""

from __future__ import annotations

import logging

# Answers that are the site working as meant: a refusal, a missing page, a bad request.
EXPECTED_STATUSES = frozenset({400, 403, 404, 405})


class QuietRefusals(logging.Filter):
    """Keep the one-line record of a refused request (403 to a member, 400 for a probe without
    the site's Host header) but drop its traceback: it is not a fault, and a traceback per
    refusal buried the real errors in the log. Server errors (5xx) keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        expected = getattr(record, "status_code", None) in EXPECTED_STATUSES or (
            record.name.startswith("django.security.")
        )
        if expected and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True
