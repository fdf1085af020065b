"""`manage.py seed_demo` gives the demo support login a confirmed authenticator whose fixed
key it prints, so a demo passes the console's second factor."""

import re
from base64 import b32decode
from io import StringIO

from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from camcare.accounts.models import Account
from tests.conftest import PASSWORD
from tests.support.otp import signed_in


def test_it_prints_the_key_of_the_demo_staffs_confirmed_authenticator(db, settings):
    settings.TEST_CLOCKS = True
    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=StringIO())  # again: still one device
    printed = re.search(r"authenticator key \(TOTP, 6 digits, 30 s\): ([A-Z2-7]+)", out.getvalue()).group(1)
    staff = Account.objects.get(email="support@camcare.example")
    device = TOTPDevice.objects.get(user=staff)
    assert device.confirmed and device.bin_key == b32decode(printed)
    staff.set_password(PASSWORD)
    staff.save()
    client = signed_in(staff)
    assert "seed_demo" in client.get("/support/verify/").content.decode()  # the console's help says so
    assert client.post("/support/verify/", {"token": f"{totp(b32decode(printed)):06d}"}).status_code == 302
    assert client.get("/support/").status_code == 200
