"""`make run`'s demo: an owner with cameras, clips and a paid plan, an app-store owner, and
a support login. Safe to run again: existing demo accounts are kept as they are."""

from base64 import b32encode
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from camcare import clock
from camcare.accounts.models import Account
from camcare.billing import actions
from camcare.billing.models import Channel, Store
from camcare.cameras.demo import add_demo_clips
from camcare.cameras.services import register_camera

DEMO_PASSWORD = "camcare-demo-2027"
OWNER = "demo@camcare.example"
STORE_OWNER = "appstore@camcare.example"
STAFF = "support@camcare.example"
# The demo staff's authenticator key (the console's second factor): fixed and printed, so a
# demo can sign in; a real staff member enrols their own at /support/enrol/.
DEMO_TOTP_SECRET = b"camcare-demo-totp-20"  # 20 bytes, django-otp's key length
DEMO_TOTP_BASE32 = b32encode(DEMO_TOTP_SECRET).decode()  # as authenticator apps take it


class Command(BaseCommand):
    help = "Create the demo accounts (idempotent) and print their logins."

    def handle(self, *args, **options):
        if not Account.objects.filter(email__iexact=OWNER).exists():
            self._owner()
        if not Account.objects.filter(email__iexact=STORE_OWNER).exists():
            self._store_owner()
        if not Account.objects.filter(email__iexact=STAFF).exists():
            Account.objects.create_user(email=STAFF, password=DEMO_PASSWORD, is_staff=True)
        staff = Account.objects.get(email__iexact=STAFF)
        if not TOTPDevice.objects.filter(user=staff, confirmed=True).exists():
            TOTPDevice.objects.create(user=staff, name="demo authenticator", key=DEMO_TOTP_SECRET.hex(), confirmed=True)
        self.stdout.write(self.style.SUCCESS(
            "\nDemo ready on http://127.0.0.1:8000/\n"
            f"  owner with a paid plan:   {OWNER} / {DEMO_PASSWORD}\n"
            f"  app-store subscription:   {STORE_OWNER} / {DEMO_PASSWORD}\n"
            f"  support staff (/support/): {STAFF} / {DEMO_PASSWORD}\n"
            f"    its authenticator key (TOTP, 6 digits, 30 s): {DEMO_TOTP_BASE32}\n"
            f"    (add it to an authenticator app, or: oathtool --totp -b {DEMO_TOTP_BASE32})\n"
            "  sandbox cards: 4242 4242 4242 4242 (pays), 4000 0000 0000 0002 (declined),\n"
            "                 4000 0000 0000 9995 (insufficient funds)\n"
        ))

    def _owner(self) -> None:
        with transaction.atomic():
            owner = Account.objects.create_user(email=OWNER, password=DEMO_PASSWORD)
            front, _ = register_camera(owner, "Front door", "KC420WS", "DEMO-FRONT-0001")
            back, _ = register_camera(owner, "Backyard", "KC410S", "DEMO-BACK-0002")
            garage, _ = register_camera(owner, "Garage", "EC70", "DEMO-GARAGE-0003")
        actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
        actions.change_plan(account=owner, cameras={front.pk: "premium", back.pk: "premium"}, actor=owner)
        now = clock.now(owner)
        add_demo_clips(front, now, 12, days=30)
        add_demo_clips(back, now, 10, days=30)
        add_demo_clips(garage, now, 3, days=2)

    def _store_owner(self) -> None:
        with transaction.atomic():
            owner = Account.objects.create_user(email=STORE_OWNER, password=DEMO_PASSWORD)
            porch, _ = register_camera(owner, "Porch", "KC401", "DEMO-PORCH-0004")
        actions.import_store_subscription(
            account=owner, channel=Channel.APP_STORE, store=Store.APPLE, plan="plus", camera_ids=[porch.pk],
            period_end=clock.now(owner) + timedelta(days=20), actor=None,
        )
        add_demo_clips(porch, clock.now(owner), 6, days=14)
