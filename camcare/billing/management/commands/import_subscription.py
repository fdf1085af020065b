"""Import a subscription bought outside the web portal (API.md "Subscription").

For migrations from the old app: support imports a subscription that the old app sold (or
an app-store one the notifications never reached) by hand. App-store subscriptions are
otherwise kept in sync by the stores' notifications (camcare/stores/).

    manage.py import_subscription --email owner@example.com --channel app_store --store apple \\
        --plan premium --camera cam_1 --camera cam_2 --period-end 2027-04-01T00:00:00Z

A refusal prints its code and reason and exits non-zero; nothing is written then.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from camcare import clock
from camcare.accounts.models import Account
from camcare.billing import actions
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import Channel
from camcare.domain.periods import iso_z, parse_instant


class Command(BaseCommand):
    help = "Import an app_store or legacy_app subscription for an account (no money is moved)."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="the account's login e-mail (any case)")
        parser.add_argument("--channel", required=True, choices=[Channel.APP_STORE, Channel.LEGACY_APP])
        parser.add_argument("--store", choices=["apple", "google"], default="", help="required for app_store")
        parser.add_argument("--plan", required=True, help="paid plan code, e.g. plus or premium")
        parser.add_argument("--camera", action="append", default=[], dest="cameras", metavar="CAMERA_ID",
                            help="a camera id of the account the subscription pays for (repeat for several)")
        parser.add_argument("--period-end", required=True, help="end of the paid period, ISO 8601 with a zone")
        parser.add_argument("--cycle", choices=["monthly", "annual"], default="monthly")

    def handle(self, *args, email, channel, store, plan, cameras, period_end, cycle, **options):
        account = Account.objects.filter(email__iexact=email.strip()).first()
        if account is None:
            raise CommandError(f"No account with the e-mail {email!r}.")
        if not cameras:
            raise CommandError("Name at least one camera with --camera CAMERA_ID.")
        end = self._period_end(period_end)
        if end <= clock.now(account):
            raise CommandError(f"--period-end {iso_z(end)} is not after the account's clock ({iso_z(clock.now(account))}).")
        try:
            subscription = actions.import_store_subscription(
                account=account, channel=channel, store=store, plan=plan, camera_ids=cameras,
                period_end=end, cycle=cycle, actor=None,
            )
        except BillingRefusal as refusal:
            raise CommandError(f"refused ({refusal.code}): {refusal.message}") from refusal
        self.stdout.write(
            f"imported {channel} subscription for {account.email}: {plan} on {', '.join(cameras)}, "
            f"{cycle}, period {iso_z(subscription.period_start)} to {iso_z(subscription.period_end)}"
        )

    @staticmethod
    def _period_end(text: str):
        try:
            return parse_instant(text)
        except ValueError as exc:
            raise CommandError(f"--period-end must be an ISO 8601 instant with a zone, e.g. 2027-04-01T00:00:00Z; got {text!r}.") from exc
