"""The daily retention sweep: erase clips that aged out of their camera's window, and the
held clips whose 14-day hold ended (POLICY.md section 6, camcare.cameras.holds).

Idempotent (a second run at the same --at erases nothing) and safe to run while the site
serves: it works in batches of short statements. Run it daily from cron or a timer:
    manage.py sweep_clips                  # now
    manage.py sweep_clips --dry-run        # what it would erase
    manage.py sweep_clips --orphans        # also remove files left without a row
"""

from django.core.management.base import BaseCommand, CommandError

from camcare import clock
from camcare.cameras import erasure, holds
from camcare.domain.periods import parse_instant

# One statement names every id of a batch; databases cap the parameters of a statement.
MAX_BATCH = 10_000


class Command(BaseCommand):
    help = "Erase clips older than their camera's video history, and held clips whose hold ended (POLICY.md section 6)."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="the instant to sweep at, ISO 8601 (default: now)")
        parser.add_argument("--dry-run", action="store_true", help="count, erase nothing")
        parser.add_argument("--batch-size", type=int, default=erasure.BATCH_SIZE,
                            help=f"clips per statement (default {erasure.BATCH_SIZE})")
        parser.add_argument("--orphans", action="store_true",
                            help="also list the storage and remove clip files without a row, older than 1 hour")

    def handle(self, *args, at=None, dry_run=False, batch_size=erasure.BATCH_SIZE, orphans=False, **options):
        if not 1 <= batch_size <= MAX_BATCH:
            raise CommandError(f"--batch-size must be from 1 to {MAX_BATCH}")
        try:
            instant = parse_instant(at) if at else clock.real_now()
        except ValueError as exc:
            raise CommandError(f"--at must be an ISO 8601 instant with a time zone: {exc}") from exc
        report = erasure.sweep(instant, batch_size=batch_size, dry_run=dry_run, orphans=orphans)
        report.holds_ended = holds.erase_expired_holds(at=instant, batch_size=batch_size, dry_run=dry_run)
        for line in report.lines():
            self.stdout.write(line)
