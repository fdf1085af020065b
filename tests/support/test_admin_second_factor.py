"""The Django admin asks for the second factor too (django-otp's OTPAdminSite): a staff
password alone opens none of its pages, whether typed at the admin's sign-in or at the
portal's; the password and the code of the staff member's authenticator app (the console's
TOTP device) do. A staff member with no app set up cannot sign in to the admin."""

from __future__ import annotations

from django.test import Client

from tests.conftest import PASSWORD
from tests.support.otp import code_of, device_of, signed_in, verified_client, wrong_code

ADMIN = "/admin/"
LOGIN = "/admin/login/"


def admin_sign_in(client: Client, email: str, password: str = PASSWORD, **otp):
    return client.post(LOGIN, {"username": email, "password": password, "next": ADMIN, **otp})


def opens_the_admin(client: Client) -> bool:
    response = client.get(ADMIN)
    if response.status_code == 302:
        assert response["Location"].startswith(LOGIN), response["Location"]
        return False
    assert response.status_code == 200, response.status_code
    return "Site administration" in response.content.decode()


def test_it_asks_for_the_code_on_the_admins_sign_in_page(staff):
    body = Client().get(LOGIN).content.decode()
    assert 'name="otp_token"' in body


def test_it_does_not_open_the_admin_to_a_staff_password_alone(staff):
    device_of(staff)
    client = Client()
    response = admin_sign_in(client, staff.email)
    assert response.status_code == 200  # the sign-in page again, asking for the code
    assert "Type the 6-digit code your authenticator app shows." in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not opens_the_admin(client)


def test_it_does_not_open_the_admin_to_a_wrong_code(staff):
    device = device_of(staff)
    client = Client()
    response = admin_sign_in(client, staff.email, otp_token=wrong_code(device))
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert not opens_the_admin(client)
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # the console's device, its throttle


def test_it_does_not_open_the_admin_to_a_code_without_the_right_password(staff):
    device = device_of(staff)
    client = Client()
    response = admin_sign_in(client, staff.email, "wrong guess", otp_token=code_of(device))
    assert response.status_code == 200
    assert not opens_the_admin(client)


def test_it_opens_the_admin_to_the_password_and_a_valid_code(staff):
    device = device_of(staff)
    client = Client()
    response = admin_sign_in(client, staff.email, otp_token=code_of(device))
    assert (response.status_code, response["Location"]) == (302, ADMIN)
    assert opens_the_admin(client)


def test_it_refuses_a_code_used_once_already(staff):
    device = device_of(staff)
    code = code_of(device)
    assert admin_sign_in(Client(), staff.email, otp_token=code).status_code == 302
    client = Client()
    assert admin_sign_in(client, staff.email, otp_token=code).status_code == 200
    assert not opens_the_admin(client)


def test_it_does_not_let_a_staff_member_without_an_authenticator_app_in(staff):
    client = Client()
    response = admin_sign_in(client, staff.email, otp_token="123456")
    assert response.status_code == 200
    assert "You have no authenticator app set up" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not opens_the_admin(client)


def test_it_does_not_open_the_admin_to_a_portal_sign_in_alone(staff):
    device_of(staff)
    assert not opens_the_admin(signed_in(staff))


def test_it_opens_the_admin_to_a_session_past_the_consoles_totp_step(staff):
    assert opens_the_admin(verified_client(staff))
