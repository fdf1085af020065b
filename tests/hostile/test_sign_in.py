"""Password guessing at every sign-in: the admin's counts with the portal's and the
API's (10 failures in 15 minutes per e-mail or per IP), so no door is left unthrottled.
The admin also asks for the code of the staff member's authenticator app (the second
factor, tests/support/test_admin_second_factor.py): the right password is sent here with a
valid code, so that only the password throttle can refuse it."""

from __future__ import annotations

import pytest
from django.test import Client

from camcare.accounts.models import LoginFailure
from tests.conftest import PASSWORD
from tests.support.otp import code_of, device_of

ADMIN = "/admin/login/"


@pytest.fixture(autouse=True)
def device(staff):
    """The staff member's authenticator app: without one, no one signs in to the admin."""
    return device_of(staff)


def admin_sign_in(client: Client, email: str, password: str, ip: str = "203.0.113.7", token: str = ""):
    return client.post(ADMIN, {"username": email, "password": password, "otp_token": token, "next": "/admin/"},
                       REMOTE_ADDR=ip)


def test_it_signs_staff_in_to_the_admin(staff, device):
    response = admin_sign_in(Client(), staff.email, PASSWORD, token=code_of(device))
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_it_refuses_the_right_password_after_15_wrong_ones_at_the_admin(staff, device):
    client = Client()
    for _ in range(15):
        assert admin_sign_in(client, staff.email, "wrong guess").status_code in (200, 429)
    response = admin_sign_in(client, staff.email, PASSWORD, token=code_of(device))
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_it_counts_each_wrong_admin_password(staff):
    for _ in range(3):
        admin_sign_in(Client(), staff.email, "wrong guess")
    assert LoginFailure.objects.filter(email=staff.email).count() == 3


def test_it_throttles_an_ip_guessing_many_accounts_at_the_admin(staff, owner, device):
    for n in range(10):
        admin_sign_in(Client(), f"guess{n}@example.com", "wrong guess")
    assert admin_sign_in(Client(), staff.email, PASSWORD, token=code_of(device)).status_code == 429
    # The code was not even looked at (the password throttle refused first): it still works.
    assert admin_sign_in(Client(), staff.email, PASSWORD, ip="198.51.100.1", token=code_of(device)).status_code == 302


@pytest.mark.parametrize("door", ["portal", "api"])
def test_it_throttles_the_admin_after_failures_at_another_door(door, staff, device):
    for _ in range(10):
        if door == "portal":
            Client().post("/login/", {"email": staff.email, "password": "wrong guess"}, REMOTE_ADDR="192.0.2.9")
        else:
            Client().post("/api/v1/tokens", {"email": staff.email, "password": "wrong guess"},
                          content_type="application/json", REMOTE_ADDR="192.0.2.9")
    assert admin_sign_in(Client(), staff.email, PASSWORD, token=code_of(device)).status_code == 429
