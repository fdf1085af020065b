"""Forget Idempotency-Key records older than 24 h of real time (POLICY.md section 10).

Idempotent; run it from cron or a timer (hourly is plenty): an expired key is also
forgotten when it is used again, so this only keeps the table small.
"""

from django.core.management.base import BaseCommand

from camcare.api.idempotency import purge_expired


class Command(BaseCommand):
    help = "Delete Idempotency-Key records older than 24 hours."

    def handle(self, *args, **options):
        deleted = purge_expired()
        self.stdout.write(f"purged {deleted} idempotency record(s)")
