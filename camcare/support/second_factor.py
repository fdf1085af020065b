"""The console's second factor: one TOTP device (django-otp) per staff member.

A device is created unconfirmed when its owner asks to enrol (after re-entering their
password); its secret is shown to them once, in that answer, and the device is confirmed
by the first valid code it accepts. Wrong codes are throttled by django-otp's
ThrottlingMixin: after n failures in a row the next try waits 2**(n-1) seconds (times
OTP_TOTP_THROTTLE_FACTOR), whatever the code; a valid code resets the count."""

from __future__ import annotations

import math
from base64 import b32encode
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

DEVICE_NAME = "camcare console"
ISSUER = "camcare support"


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def pending_device(user) -> TOTPDevice | None:
    """The device an enrolment started and no valid code has confirmed yet."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()


def start_enrolment(user) -> TOTPDevice:
    """A new unconfirmed device with a fresh random key (django-otp's: 20 random bytes); an
    enrolment left unfinished before is dropped, so only the key shown last works."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)


def secret_of(device: TOTPDevice) -> str:
    """The key as authenticator apps take it typed by hand: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def otpauth_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI of the device (Google's Key URI format), named for the console."""
    issuer = getattr(settings, "OTP_TOTP_ISSUER", None) or ISSUER
    label = quote(f"{issuer}:{device.user.get_username()}")
    params = urlencode({"secret": secret_of(device).replace(" ", ""), "issuer": issuer, "algorithm": "SHA1",
                        "digits": device.digits, "period": device.step})
    return f"otpauth://totp/{label}?{params}"


@dataclass(frozen=True)
class CodeCheck:
    accepted: bool
    tried: bool = True  # False: throttled, the code was not even looked at
    wait_seconds: int = 0  # seconds before the next code is tried
    failures: int = 0  # wrong codes in a row so far


def check_code(device: TOTPDevice, token: str) -> CodeCheck:
    """Try `token` on `device`, unless throttling refuses any try now. The device row is
    locked while it is checked (PostgreSQL), so two tries at once cannot both count as
    the first; a code is accepted once (django-otp keeps the last time step used)."""
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        wait = _wait_seconds(locked)
        if wait:
            return CodeCheck(False, tried=False, wait_seconds=wait, failures=locked.throttling_failure_count)
        if locked.verify_token(token):
            return CodeCheck(True)
        return CodeCheck(False, wait_seconds=_wait_seconds(locked), failures=locked.throttling_failure_count)


def _wait_seconds(device: TOTPDevice) -> int:
    allowed, info = device.verify_is_allowed()
    if allowed:
        return 0
    locked_until = (info or {}).get("locked_until")
    if locked_until is None:
        return 1
    return max(1, math.ceil((locked_until - timezone.now()).total_seconds()))
