"""No console page shows a secret, to an agent or to a billing admin: not the camera's device
token hash, the password hash, an API token hash, the card's gateway token, the gateway's
own references and keys, nor the staff's authenticator keys; of a card, brand and last 4."""

from __future__ import annotations

from base64 import b32encode

import pytest
from django.test import RequestFactory
from django_otp.plugins.otp_totp.models import TOTPDevice

from camcare.accounts.models import ApiToken
from camcare.accounts.services import issue_token
from camcare.audit.errors import record_error
from camcare.billing import actions
from camcare.billing.models import Order, PaymentMethod, SandboxCharge
from camcare.cameras.models import Camera
from camcare.cameras.services import register_camera
from tests.support.otp import device_of


@pytest.fixture
def exposed_owner(owner, staff, billing_admin):
    """An owner with every kind of secret: a registered camera (its device token), an API
    token, a card and a charge with a refund (gateway token, references, keys)."""
    camera, device_token = register_camera(owner, "Porch", "KC200", "SN-SECRET-1")
    api_token = issue_token(owner)
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    actions.change_plan(account=owner, cameras={camera.pk: "plus"}, actor=owner)
    charge = Order.objects.get(account=owner, kind="charge")
    actions.issue_support_refund(charge=charge, amount=100, reason="Goodwill", actor=billing_admin,
                                 request_key="secret-refund-1")
    device_of(staff), device_of(billing_admin)
    owner.shown_once = {"device token": device_token, "API token": api_token}  # never stored in clear
    return owner


def secrets_of(owner) -> dict[str, str]:
    found = dict(owner.shown_once)
    owner.refresh_from_db()
    found |= {
        "password hash": owner.password,
        "password hash's digest": owner.password.rsplit("$", 1)[-1],
        "card token": PaymentMethod.objects.get(account=owner).token,
        "API token hash": ApiToken.objects.get(account=owner).token_hash,
    }
    for camera in Camera.objects.filter(account=owner):
        found[f"device token hash of {camera.name}"] = camera.device_token_hash
    for order in Order.objects.filter(account=owner):
        if order.gateway_ref:
            found[f"gateway reference of {order.order_id}"] = order.gateway_ref
        if order.gateway_key:
            found[f"gateway key of {order.order_id}"] = order.gateway_key
    for charge in SandboxCharge.objects.all():
        found[f"gateway idempotency key {charge.id}"] = charge.idempotency_key
    for device in TOTPDevice.objects.all():
        found[f"TOTP key of {device.user.email}"] = device.key
        found[f"TOTP key of {device.user.email} (base32)"] = b32encode(device.bin_key).decode().rstrip("=")
    return found


def console_pages(client, owner) -> dict[str, str]:
    order_id = Order.objects.filter(account=owner).first().order_id
    return {
        "account": client.get(f"/support/accounts/{owner.pk}/").content.decode(),
        "search by e-mail": client.get("/support/", {"q": owner.email}).content.decode(),
        "search by Order ID": client.get("/support/", {"q": order_id}).content.decode(),
        "search in part": client.get("/support/", {"q": "example"}).content.decode(),
        "verify": client.get("/support/verify/", follow=True).content.decode(),
    }


@pytest.mark.parametrize("who", ["agent_client", "admin_client"])
def test_it_shows_no_secret_on_any_console_page(who, request, exposed_owner):
    client = request.getfixturevalue(who)
    secrets = secrets_of(exposed_owner)
    assert len(secrets) >= 10
    for page, html in console_pages(client, exposed_owner).items():
        shown = [name for name, value in secrets.items() if value and value in html]
        assert shown == [], f"{page} shows {shown}"


def test_it_shows_the_card_as_brand_and_last_4_only(agent_client, exposed_owner):
    html = agent_client.get(f"/support/accounts/{exposed_owner.pk}/").content.decode()
    assert "Visa ···· 4242" in html
    assert "4242424242424242" not in html and "424242" not in html


def test_it_hides_a_token_in_the_path_of_an_error_report(agent_client, owner):
    token = "c9x0ab-0123456789abcdef0123456789abcdef"
    request = RequestFactory().get(f"/reset/MQ/{token}/?key=sekrit-value")
    reference = record_error(request=request, account=owner, status=400, code="bad_link", message="Bad link")
    html = agent_client.get("/support/", {"q": reference}).content.decode()
    assert "/reset/MQ/…/" in html
    assert token not in html and "sekrit-value" not in html
