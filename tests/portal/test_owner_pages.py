"""What a new owner meets on the portal's pages (issue 8): declined attempts that read as
such, a card expiry with a four-digit year, one date format, one "Free" heading, staff
sent to their console, every sign-up error at once, app-store refusals with a reference."""

import re

import pytest
from django.urls import reverse

from camcare.billing import actions
from camcare.billing.models import Order
from tests.cameras.conftest import add_clip
from tests.conftest import PASSWORD, utc
from tests.portal.conftest import change, confirm, key, preview, text

CARD = {"number": "4242 4242 4242 4242", "cvc": "123"}


def test_it_marks_declined_attempts_in_recent_payments(portal, owner, cams):
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    quote_id = preview(portal, cams, "plus", "plus")
    for _ in range(3):
        confirm(portal, quote_id)
    body = portal.get(reverse("portal:home")).content.decode()
    recent = re.findall(r'<li data-testid="recent-order">(.*?)</li>', body, re.S)
    assert len(recent) == 3
    assert all("Declined: not charged" in row and "$7.98" in row for row in recent)
    assert Order.objects.filter(account=owner, status="failed").count() == 3


def test_it_keeps_a_four_digit_expiry_year(portal, owner):
    form = portal.get(reverse("portal:card")).content.decode()
    assert int(re.search(r'name="expiry"[^>]*maxlength="(\d+)"', form)[1]) >= len("12 / 2030")
    response = portal.post(reverse("portal:card"), {**CARD, "expiry": "12 / 2030", "idempotency_key": key()})
    assert response.status_code == 302
    assert owner.payment_method.last4 == "4242"


def test_it_shows_one_date_format_on_every_page(portal, owner, cams, visa):
    add_clip(cams.porch, utc(2027, 3, 1, 0, 0, 7))
    change(portal, cams, "plus", "plus")
    order = Order.objects.get(account=owner)
    pages = [reverse("portal:home"), reverse("portal:history"), reverse("portal:receipt", args=[order.order_id]),
             reverse("cameras:clips", args=[cams.porch.id]), reverse("portal:account")]
    for url in pages:
        page = text(portal.get(url))
        assert not re.search(r"\b[A-Z][a-z]{2} \d{1,2}, \d{4}", page), url  # "Mar 1, 2027"
        assert not re.search(r"\d{4}-\d{2}-\d{2}", page), url  # "2027-03-01 00:00:07"
    assert "1 Mar 2027, 00:00 UTC" in text(portal.get(reverse("cameras:clips", args=[cams.porch.id])))
    assert "Next bill $7.98 on 1 Apr 2027" in text(portal.get(reverse("portal:home")))


def test_it_heads_the_free_plan_once(client, db):
    body = client.get(reverse("portal:plans")).content.decode()
    assert len(re.findall(r">\s*Free\s*<", body)) == 1
    assert "$0.00" in body


def test_it_sends_staff_to_the_support_console_after_sign_in(client, staff):
    response = client.post(reverse("portal:login"), {"email": staff.email, "password": PASSWORD})
    assert response["Location"] == reverse("support:search")
    assert client.get(reverse("portal:login"))["Location"] == reverse("support:search")


def test_it_sends_an_owner_home_and_staff_where_they_asked(client, owner, staff):
    assert client.post(reverse("portal:login"), {"email": owner.email, "password": PASSWORD})["Location"] == reverse("portal:home")
    client.post(reverse("portal:logout"))
    asked = client.post(reverse("portal:login"), {"email": staff.email, "password": PASSWORD, "next": "/payments/"})
    assert asked["Location"] == "/payments/"


def test_it_shows_every_sign_up_error_at_once(client, db):
    response = client.post(reverse("portal:signup"), {"email": "not-an-email", "password": "12345678"})
    page = text(response)
    assert response.status_code == 422
    assert "Enter a valid email address." in page
    assert "This password is too common." in page and "This password is entirely numeric." in page


def test_it_refuses_an_app_store_cancel_with_a_reference_and_the_steps(portal, owner, cams):
    actions.import_store_subscription(
        account=owner, channel="app_store", store="apple", plan="plus",
        camera_ids=[cams.porch.id], period_end=utc(2027, 3, 20),
    )
    for response in (portal.get(reverse("portal:cancel")),
                     portal.post(reverse("portal:change"), {**cams.plans("free", "free"), "cycle": "monthly"})):
        page = text(response)
        assert response.status_code == 409
        assert "change or cancel it in the app store" in page
        assert re.search(r"Reference: ERR-[0-9A-Z]{10}", page)
        assert "Tap Subscriptions, then camcare." in page
    cams.porch.refresh_from_db()
    assert cams.porch.plan == "plus"



@pytest.mark.parametrize("path", ["/cameras/%00/rename/", "/cameras/%00/remove/", "/change/preview/%00/",
                                  "/payments/ORD-%00/", "/cameras/%00/clips/"])
def test_it_answers_404_for_a_nul_in_a_path(portal, path):
    response = portal.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")  # the portal's page, not a 500
