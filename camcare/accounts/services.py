"""Sign-up, API tokens and login throttling, shared by the API and the portal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from camcare import clock
from camcare.accounts import time_zones
from camcare.accounts.models import Account, ApiToken, LoginFailure
from camcare.audit.events import Event, audit
from camcare.tokens import hash_token, new_token

THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_LIMIT = 10  # failures per window, per e-mail and per IP


class EmailTaken(Exception):
    pass


def normalize_email(email: str) -> str:
    return email.strip()


def create_account(*, email: str, password: str, time_zone: str = time_zones.DEFAULT) -> Account:
    """Create an owner account reading dates in `time_zone` (POLICY.md section 16: the
    portal passes the browser's, the API none, i.e. UTC). Raises EmailTaken, ValidationError
    from the password validators (with the messages to show), or UnknownTimeZone."""
    email = normalize_email(email)
    time_zone = time_zones.clean_time_zone(time_zone)
    if Account.objects.filter(email__iexact=email).exists():
        raise EmailTaken(email)
    validate_password(password, user=Account(email=email))
    # Hash first: the hash takes about a second of CPU, and on SQLite a transaction holds
    # the database's write lock, so hashing inside it made concurrent sign-ups time out.
    account = Account(email=Account.objects.normalize_email(email).strip(), time_zone=time_zone)
    account.set_password(password)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as exc:  # a concurrent sign-up with the same e-mail won the race
        raise EmailTaken(email) from exc
    return account


def set_time_zone(account: Account, name: object, *, actor) -> bool:
    """Store the zone `name` on `account`, audited with the zone before. Raises
    UnknownTimeZone (nothing changes). True when it changed; False when it was the zone."""
    zone = time_zones.clean_time_zone(name)
    with transaction.atomic():
        old = Account.objects.select_for_update().values_list("time_zone", flat=True).get(pk=account.pk)
        if old != zone:
            Account.objects.filter(pk=account.pk).update(time_zone=zone)
            audit(actor=actor, account=account, action=Event.ACCOUNT_TIME_ZONE_CHANGED, old=old, new=zone)
    account.time_zone = zone
    return old != zone


def issue_token(account: Account) -> str:
    """A new API token for `account`; the caller shows it once, only its hash is kept."""
    token = new_token("cc")
    ApiToken.objects.create(account=account, token_hash=hash_token(token))
    return token


def revoke_token(token_hash: str) -> None:
    ApiToken.objects.filter(token_hash=token_hash).delete()


@dataclass(frozen=True)
class Throttled(Exception):
    retry_after: int  # seconds until one more attempt is allowed


def check_throttle(email: str, ip: str | None) -> None:
    """Raise Throttled after THROTTLE_LIMIT failures in THROTTLE_WINDOW for the e-mail or the IP."""
    now = clock.real_now()
    since = now - THROTTLE_WINDOW
    for field, value in (("email", email.strip().lower()), ("ip", ip)):
        if not value:
            continue
        recent = LoginFailure.objects.filter(**{field: value}, at__gte=since).order_by("-at")
        times = list(recent.values_list("at", flat=True)[:THROTTLE_LIMIT])
        if len(times) >= THROTTLE_LIMIT:
            oldest_counted = times[-1]
            wait = int((oldest_counted + THROTTLE_WINDOW - now).total_seconds()) + 1
            raise Throttled(retry_after=max(wait, 1))


def sign_in(*, email: str, password: str, ip: str | None, request=None) -> Account | None:
    """The account if the credentials are right, else None (the failure is recorded).
    Raises Throttled when too many failures came before."""
    check_throttle(email, ip)
    account = authenticate(request, username=normalize_email(email), password=password)
    if account is None:
        LoginFailure.objects.create(email=email.strip().lower()[:254], ip=ip, at=clock.real_now())
        LoginFailure.objects.filter(at__lt=clock.real_now() - THROTTLE_WINDOW * 4).delete()
    return account


def password_errors(password: str, email: str = "") -> list[str]:
    try:
        validate_password(password, user=Account(email=email))
    except ValidationError as exc:
        return list(exc.messages)
    return []


def client_ip(request) -> str | None:
    # Behind a proxy, set it up to pass REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips).
    return request.META.get("REMOTE_ADDR") or None
