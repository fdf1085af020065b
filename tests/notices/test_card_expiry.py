"""The saved card's expiry, kept for the card-expiring reminder: from the portal's card form
and from the API (optional there, both fields or neither; left out = unknown)."""

import re

from django.urls import reverse

from camcare.billing.models import PaymentMethod
from tests.portal.conftest import key, portal  # noqa: F401 (fixture)

CARD = {"number": "4242 4242 4242 4242", "cvc": "123"}


def test_the_portal_card_form_stores_the_expiry(portal, owner):  # noqa: F811
    response = portal.post(reverse("portal:card"), {**CARD, "expiry": "12 / 2030", "idempotency_key": key()})
    assert response.status_code == 302
    method = PaymentMethod.objects.get(account=owner)
    assert (method.last4, method.exp_month, method.exp_year) == ("4242", 12, 2030)
    portal.post(reverse("portal:card"), {**CARD, "expiry": "03/31", "idempotency_key": key()})
    method = PaymentMethod.objects.get(account=owner)
    assert (method.exp_month, method.exp_year) == (3, 2031)


def test_the_portal_refuses_a_bad_expiry_and_saves_nothing(portal, owner):  # noqa: F811
    response = portal.post(reverse("portal:card"), {**CARD, "expiry": "13/30", "idempotency_key": key()})
    assert response.status_code in (200, 422)
    assert re.search(r"MM/YY", response.content.decode())
    assert not PaymentMethod.objects.filter(account=owner).exists()


def test_the_api_stores_the_expiry_when_given(api, owner):
    response = api.put("payment-method", {"token": "tok_visa", "exp_month": 12, "exp_year": 2030})
    assert response.status_code == 200
    assert response.json() == {"brand": "Visa", "last4": "4242"}
    method = PaymentMethod.objects.get(account=owner)
    assert (method.exp_month, method.exp_year) == (12, 2030)


def test_the_api_keeps_the_expiry_unknown_when_left_out(api, owner):
    assert api.put("payment-method", {"token": "tok_visa"}).status_code == 200
    method = PaymentMethod.objects.get(account=owner)
    assert (method.exp_month, method.exp_year) == (None, None)


def test_the_api_refuses_half_an_expiry_a_bad_month_or_an_expired_card(api, owner):
    for body in ({"token": "tok_visa", "exp_month": 12},
                 {"token": "tok_visa", "exp_year": 2030},
                 {"token": "tok_visa", "exp_month": 13, "exp_year": 2030},
                 {"token": "tok_visa", "exp_month": 1, "exp_year": 2001}):
        response = api.put("payment-method", body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "invalid_request"
    assert not PaymentMethod.objects.filter(account=owner).exists()
