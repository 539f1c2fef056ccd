"""Daily digest: one email per member with unread notifications not yet emailed.

Run once a day (cron or a systemd timer): `manage.py send_digest`. Running it again the same day
sends nothing: each member gets at most one digest a day and no notification is mailed twice.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from forum.notifications import send_daily_digests


class Command(BaseCommand):
    help = "Email each member one digest of their unread notifications not yet emailed."

    def handle(self, *args: Any, **options: Any) -> None:
        sent = send_daily_digests()
        self.stdout.write(f"Sent {sent} digest{'s' if sent != 1 else ''}.")
