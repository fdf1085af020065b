"""The console's second factor in tests: a TOTP device for a staff member, its current code,
and a client that signed in and passed the step through the real pages.

Other suites that open console pages as staff can use `verified_client(staff)` in place of
`Client().force_login(staff)`."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from camcare.support.roles import Role
from tests.conftest import PASSWORD


def device_of(user) -> TOTPDevice:
    """The user's confirmed device, made on first use (a random key, as enrolment makes)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="test phone", confirmed=True)


def code_of(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The 6 digits the device's app shows now (or `steps_ahead` 30-second steps later: a
    code is accepted once, so a second sign-in in the same step uses the next one)."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + steps_ahead):06d}"


def wrong_code(device: TOTPDevice) -> str:
    """Six digits that are none of the codes the device accepts now."""
    accepted = {code_of(device, steps_ahead=step) for step in (-1, 0, 1)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in accepted)


def signed_in(user) -> Client:
    """A client signed in with the password on the portal's sign-in page, not verified yet."""
    client = Client()
    response = client.post("/login/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    return client


def verified_client(user, *, steps_ahead: int = 0) -> Client:
    """Signed in, and through the console's TOTP step with a valid code."""
    client = signed_in(user)
    response = client.post("/support/verify/", {"token": code_of(device_of(user), steps_ahead=steps_ahead)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client


def make_billing_admin(user):
    user.groups.add(Group.objects.get(name=Role.BILLING_ADMIN))
    return user
