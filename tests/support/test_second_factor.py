"""The console's second factor (TOTP, django-otp): staff who signed in with their password
answer nothing but the TOTP step until they pass it; a wrong or missing code is refused and
throttled; a staff member without an authenticator enrols one, confirmed by its first code."""

from __future__ import annotations

import re
from datetime import timedelta
from uuid import uuid4

import pytest
import time_machine
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from camcare.audit.models import AuditEvent
from camcare.billing.models import LedgerEntry, Order
from camcare.notices.models import Notice
from tests.conftest import PASSWORD
from tests.support.otp import code_of, device_of, signed_in, verified_client, wrong_code


def _routes(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route


def console_pages(account_id: str) -> list[str]:
    """Every page of the console app (not its second-factor pages), ids filled in."""
    step = {"support/verify/", "support/enrol/", "support/enrol/confirm/"}
    return ["/" + re.sub(r"<(?:\w+:)?\w+>", account_id, route) for route in _routes(get_resolver().url_patterns)
            if route.startswith("support/") and not route.startswith("support/stores/") and route not in step]


def state() -> tuple:
    return (Order.objects.count(), LedgerEntry.objects.count(), Notice.objects.count(),
            list(Notice.objects.values_list("sent_at", flat=True)))


def test_it_knows_every_console_page(owner):
    pages = set(console_pages(owner.pk))
    assert {"/support/", f"/support/accounts/{owner.pk}/", f"/support/accounts/{owner.pk}/refund/",
            f"/support/accounts/{owner.pk}/credit/", f"/support/accounts/{owner.pk}/resend/",
            f"/support/accounts/{owner.pk}/retry/"} <= pages


@pytest.mark.parametrize("method", ["get", "post"])
def test_it_sends_staff_without_the_second_factor_to_the_totp_step_from_every_page(method, staff, paid_owner):
    device_of(staff)
    client = signed_in(staff)
    before = state()
    for url in console_pages(paid_owner.pk):
        data = {"amount": "1.00", "reason": "x", "order_id": "ORD-0000000000", "request_key": uuid4().hex}
        response = getattr(client, method)(url, data if method == "post" else None)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/support/verify/?next="), url
    assert state() == before
    assert not AuditEvent.objects.filter(action__in=["support.searched", "support.viewed_account"]).exists()


def test_it_comes_back_to_the_page_asked_for_after_the_step(staff, owner):
    client = signed_in(staff)
    asked = client.get(f"/support/accounts/{owner.pk}/")
    assert asked["Location"] == f"/support/verify/?next=%2Fsupport%2Faccounts%2F{owner.pk}%2F"
    response = client.post(asked["Location"], {"token": code_of(device_of(staff))})
    assert response["Location"] == f"/support/accounts/{owner.pk}/"
    assert client.get(f"/support/accounts/{owner.pk}/").status_code == 200


def test_it_never_sends_a_verified_staff_member_to_another_site(staff):
    client = signed_in(staff)
    response = client.post("/support/verify/?next=https://evil.example/", {"token": code_of(device_of(staff))})
    assert response["Location"] == "/support/"


def test_it_sends_staff_from_the_sign_in_page_through_the_step(staff):
    device_of(staff)
    client = Client()
    response = client.post("/login/", {"email": staff.email, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == "/support/verify/?next=%2Fsupport%2F"
    assert "Second step: your authenticator code" in response.content.decode()


@pytest.mark.parametrize("who", ["anonymous", "an owner"])
def test_it_answers_404_on_the_step_and_the_enrolment_to_anyone_but_staff(who, owner):
    client = Client()
    if who == "an owner":
        client.force_login(owner)
    for url in ("/support/verify/", "/support/enrol/", "/support/enrol/confirm/"):
        for method in ("get", "post"):
            response = getattr(client, method)(url, {"token": "123456", "password": PASSWORD} if method == "post" else None)
            assert response.status_code == 404, (url, method)
            assert "Location" not in response


@pytest.mark.parametrize(("typed", "says"), [
    ("", "Type the 6-digit code your authenticator app shows."),
    ("12345", "A code is 6 digits"),
    ("abcdef", "A code is 6 digits"),
    ("１２３４５６", "A code is 6 digits"),  # full-width digits are no code
])
def test_it_refuses_a_missing_or_malformed_code(typed, says, staff):
    device_of(staff)
    client = signed_in(staff)
    response = client.post("/support/verify/", {"token": typed})
    assert response.status_code == 422
    assert says in response.content.decode()
    assert client.get("/support/").status_code == 302
    assert AuditEvent.objects.filter(actor=staff, account=staff, action="support.verify_failed").count() == 1


def test_it_refuses_a_wrong_code_with_a_clear_message(staff):
    device = device_of(staff)
    client = signed_in(staff)
    response = client.post("/support/verify/", {"token": wrong_code(device)})
    assert response.status_code == 422
    assert "That code is not right" in response.content.decode()
    assert client.get("/support/").status_code == 302
    event = AuditEvent.objects.get(action="support.verify_failed")
    assert (event.actor, event.account) == (staff, staff)


def test_it_accepts_a_code_typed_with_a_space(staff):
    device = device_of(staff)
    client = signed_in(staff)
    code = code_of(device)
    assert client.post("/support/verify/", {"token": f"{code[:3]} {code[3:]}"}).status_code == 302
    assert client.get("/support/").status_code == 200


def test_it_accepts_each_code_once(staff):
    device = device_of(staff)
    code = code_of(device)
    first, second = signed_in(staff), signed_in(staff)
    assert first.post("/support/verify/", {"token": code}).status_code == 302
    assert second.post("/support/verify/", {"token": code}).status_code == 422


def test_it_throttles_codes_after_a_wrong_one_even_the_right_code(staff):
    device = device_of(staff)
    client = signed_in(staff)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert client.post("/support/verify/", {"token": wrong_code(device)}).status_code == 422
        throttled = client.post("/support/verify/", {"token": code_of(device)})
        assert throttled.status_code == 429
        assert "Too many wrong codes in a row (1): wait 1 second" in throttled.content.decode()
        assert client.get("/support/").status_code == 302
        traveller.shift(timedelta(seconds=2))
        assert client.post("/support/verify/", {"token": code_of(device)}).status_code == 302
    assert client.get("/support/").status_code == 200
    device.refresh_from_db()
    assert device.throttling_failure_count == 0  # a valid code resets the count


def test_it_doubles_the_wait_after_each_wrong_code(staff):
    device = device_of(staff)
    client = signed_in(staff)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for failures in range(1, 6):
            response = client.post("/support/verify/", {"token": wrong_code(device)})
            assert response.status_code == 422
            wait = 2 ** (failures - 1)
            traveller.shift(timedelta(seconds=wait - 0.5))  # not quite long enough
            refused = client.post("/support/verify/", {"token": code_of(device)})
            assert refused.status_code == 429, failures
            assert f"({failures}): wait" in refused.content.decode()
            traveller.shift(timedelta(seconds=1))
    device.refresh_from_db()
    assert device.throttling_failure_count == 5
    assert AuditEvent.objects.filter(action="support.verify_failed").count() == 10


def test_it_records_each_verification_on_the_staff_members_account(staff):
    verified_client(staff)
    event = AuditEvent.objects.get(action="support.verified")
    assert (event.actor, event.account) == (staff, staff)


def test_it_gives_the_verified_session_a_new_key(staff):
    device = device_of(staff)
    client = signed_in(staff)
    before = client.session.session_key
    client.post("/support/verify/", {"token": code_of(device)})
    assert client.session.session_key != before


def test_it_forgets_the_second_factor_at_sign_out(staff):
    client = verified_client(staff)
    client.post("/logout/")
    client.post("/login/", {"email": staff.email, "password": PASSWORD})
    assert client.get("/support/").status_code == 302


# ---------------------------------------------------------------- enrolment


def test_it_shows_staff_without_an_authenticator_how_to_enrol(staff):
    client = signed_in(staff)
    body = client.get("/support/verify/?next=/support/").content.decode()
    assert "You have none set up yet" in body
    assert 'href="/support/enrol/?next=/support/"' in body


def test_it_shows_the_new_key_once_after_the_password(staff):
    client = signed_in(staff)
    asked = client.get("/support/enrol/").content.decode()
    assert "otpauth://" not in asked
    wrong = client.post("/support/enrol/", {"password": "not my password"})
    assert wrong.status_code == 422 and "That is not your password." in wrong.content.decode()
    assert not TOTPDevice.objects.exists()
    shown = client.post("/support/enrol/", {"password": PASSWORD})
    device = TOTPDevice.objects.get(user=staff)
    body = shown.content.decode()
    assert not device.confirmed
    secret = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', body).group(1)
    assert re.search(r'otpauth://totp/camcare%20support%3Asupport%40camcare.example\?secret=' + secret.replace(" ", ""), body)
    assert "no-store" in shown["Cache-Control"]
    assert secret not in client.get("/support/enrol/").content.decode()  # shown once
    assert secret not in client.get("/support/verify/").content.decode()


def test_it_confirms_the_device_with_its_first_valid_code(staff, owner):
    client = signed_in(staff)
    client.post(f"/support/enrol/?next=/support/accounts/{owner.pk}/", {"password": PASSWORD})
    device = TOTPDevice.objects.get(user=staff)
    wrong = client.post("/support/enrol/confirm/", {"token": wrong_code(device)})
    assert wrong.status_code == 422 and "That code is not right" in wrong.content.decode()
    assert "totp-secret" not in wrong.content.decode()  # the key is not shown again
    device.refresh_from_db()
    assert not device.confirmed
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):
        response = client.post("/support/enrol/confirm/", {"token": code_of(device), "next": f"/support/accounts/{owner.pk}/"})
    assert response["Location"] == f"/support/accounts/{owner.pk}/"
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/support/").status_code == 200
    assert AuditEvent.objects.filter(actor=staff, account=staff, action="support.device_enrolled").count() == 1
    assert AuditEvent.objects.filter(actor=staff, account=staff, action="support.verified").count() == 1


def test_it_keeps_only_the_last_key_of_an_enrolment_started_twice(staff):
    client = signed_in(staff)
    client.post("/support/enrol/", {"password": PASSWORD})
    first = TOTPDevice.objects.get(user=staff)
    client.post("/support/enrol/", {"password": PASSWORD})
    second = TOTPDevice.objects.get(user=staff)
    assert first.pk != second.pk and first.key != second.key


def test_it_does_not_enrol_a_second_authenticator_over_a_confirmed_one(staff):
    device = device_of(staff)
    client = signed_in(staff)
    assert client.get("/support/enrol/")["Location"] == "/support/verify/"
    assert client.post("/support/enrol/", {"password": PASSWORD})["Location"] == "/support/verify/"
    assert list(TOTPDevice.objects.filter(user=staff)) == [device]


def test_it_does_not_verify_with_an_unconfirmed_device(staff):
    """The middleware trusts only a confirmed device, whatever the session says."""
    client = signed_in(staff)
    client.post("/support/enrol/", {"password": PASSWORD})
    assert client.get("/support/verify/").content.decode().count("You have none set up yet") == 1
    assert client.get("/support/").status_code == 302
