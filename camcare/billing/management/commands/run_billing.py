"""The billing job (cron it every few minutes): renewals and retries due at --at (default
now), then the reconciler for payments a crash left pending, then the app-store
subscriptions whose store went silent past their expiry. Idempotent: running it twice,
or two at once, never charges twice (POLICY.md section 5)."""

from django.core.management.base import BaseCommand, CommandError

from camcare import clock
from camcare.billing import actions
from camcare.domain.periods import parse_instant


class Command(BaseCommand):
    help = "Renew and retry every subscription due, then settle stale pending payments."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="ISO 8601 instant to bill as of (default: now)")
        parser.add_argument("--limit", type=int, default=None, help="at most this many subscriptions")

    def handle(self, *args, at=None, limit=None, **options):
        try:
            when = parse_instant(at) if at else clock.real_now()
        except ValueError as exc:
            raise CommandError("--at must be an ISO 8601 instant with a zone, e.g. 2027-04-01T00:00:00Z") from exc
        ran = actions.run_billing(at=when, limit=limit)
        settled = actions.reconcile_pending()
        ended = actions.expire_store_subscriptions(at=when)
        self.stdout.write(f"billed {ran} subscription(s), settled {settled} pending payment(s), "
                          f"ended {ended} lapsed store subscription(s) as of {when:%Y-%m-%dT%H:%M:%SZ}")
