"""The console's page of store purchases no account holds asks for the second factor like
every console page: staff who only typed their password go to the TOTP step first (and
come back to it after), anyone else still gets the 404 of a missing page."""

from __future__ import annotations

from django.test import Client
from django.urls import reverse

from camcare.audit.models import AuditEvent
from tests.support.otp import code_of, device_of, signed_in, verified_client

URL = "/support/stores/unlinked/"
STEP = "/support/verify/?next=%2Fsupport%2Fstores%2Funlinked%2F"


def looks() -> int:
    return AuditEvent.objects.filter(action="support.searched").count()


def test_it_is_the_stores_page():
    assert reverse("stores:unlinked") == URL


def test_it_sends_staff_without_the_second_factor_to_the_totp_step(staff):
    device_of(staff)
    response = signed_in(staff).get(URL)
    assert response.status_code == 302
    assert response["Location"] == STEP
    assert looks() == 0  # the page was not shown, so not looked at


def test_it_sends_staff_without_an_authenticator_app_to_the_totp_step_too(staff):
    response = signed_in(staff).get(URL)
    assert (response.status_code, response["Location"]) == (302, STEP)


def test_it_comes_back_to_the_page_after_the_totp_step(staff):
    client = signed_in(staff)
    client.get(URL)
    response = client.post(STEP, {"token": code_of(device_of(staff)), "next": URL})
    assert (response.status_code, response["Location"]) == (302, URL)
    assert client.get(URL).status_code == 200


def test_it_shows_the_page_to_staff_past_the_second_factor(staff):
    response = verified_client(staff).get(URL)
    assert response.status_code == 200
    assert "Store purchases to sort out" in response.content.decode()
    assert looks() == 1


def test_it_still_answers_404_to_anyone_but_staff(owner):
    owner_client = Client()
    owner_client.force_login(owner)
    assert owner_client.get(URL).status_code == 404
    assert Client().get(URL).status_code == 404
