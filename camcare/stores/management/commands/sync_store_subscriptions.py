"""The store job (cron it beside run_billing, every few minutes): for each account whose
store purchases entitle anything, make its subscription follow them as of now (a camera
registered since, a web subscription beside it that ended), then end every app_store
subscription whose service ended with no word from its store (an imported one, or a store's
whose last notification never came). Idempotent."""

from django.core.management.base import BaseCommand, CommandError

from camcare import clock
from camcare.billing.actions.store_entitlements import expire_store_subscriptions
from camcare.domain.periods import parse_instant
from camcare.stores.entitlements import sync


class Command(BaseCommand):
    help = "Bring app-store subscriptions in line with their purchases, and end those that ran out."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="ISO 8601 instant to sync as of (default: now, each account's clock)")

    def handle(self, *args, at=None, **options):
        try:
            when = parse_instant(at) if at else None
        except ValueError as exc:
            raise CommandError("--at must be an ISO 8601 instant with a zone, e.g. 2027-04-01T00:00:00Z") from exc
        synced = sync(when)
        ended = expire_store_subscriptions(at=when or clock.real_now())
        self.stdout.write(f"synced {synced} account(s), ended {ended} store subscription(s)")
