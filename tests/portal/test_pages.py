"""Home, card form, payment history, receipts, app-store subscriptions, error pages and
the page rules (CSP, no inline script or style)."""

import re
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from camcare.audit.models import ErrorReport
from camcare.billing import actions
from camcare.billing.models import Order
from camcare.portal.templatetags.money import (
    format_date,
    format_datetime,
    format_money,
    signed_money,
)
from tests.conftest import set_clock, utc
from tests.portal.conftest import change, key, text

CARD = {"number": "4242 4242 4242 4242", "expiry": "12/40", "cvc": "123"}


def test_it_formats_money_from_cents():
    assert format_money(1299, "USD") == "$12.99"
    assert format_money(0, "USD") == "$0.00"
    assert format_money(123456, "USD") == "$1,234.56"
    assert format_money(5, "EUR") == "€0.05"
    assert signed_money(-319, "USD") == "−$3.19" and signed_money(319, "USD") == "+$3.19"


def test_it_formats_instants_as_utc_dates():
    assert format_date("2027-03-01T00:00:00Z") == "1 Mar 2027"
    assert format_datetime(datetime(2027, 3, 1, 14, 5, 9, tzinfo=UTC)) == "1 Mar 2027, 14:05 UTC"
    assert format_date(None) == ""


def test_it_shows_cameras_plans_billing_and_card_on_home(portal, owner, cams, visa):
    change(portal, cams, "plus", "premium", cycle="annual")
    page = text(portal.get(reverse("portal:home")))
    assert "Porch Plus 14 days" in page.replace(" KC200", "")
    assert "Garden Premium 30 days" in page.replace(" KC200", "")
    assert "Billing cycle Annual" in page
    assert "Current period 1 Mar 2027 – 1 Mar 2028" in page
    assert "Next bill $169.98 on 1 Mar 2028" in page
    assert "Credit balance $0.00" in page
    assert "Visa ending in 4242" in page
    assert "Change plan" in page and "Cancel subscription" in page


def test_it_saves_a_test_card_as_its_gateway_token(portal, owner):
    response = portal.post(reverse("portal:card"), {**CARD, "number": "4000 0000 0000 9995", "idempotency_key": key()})
    assert response["Location"] == reverse("portal:home")
    owner.payment_method.refresh_from_db()
    assert (owner.payment_method.token, owner.payment_method.last4) == ("tok_insufficientFunds", "9995")


def test_it_refuses_a_card_number_that_is_not_a_test_card(portal, owner):
    response = portal.post(reverse("portal:card"), {**CARD, "number": "4111 1111 1111 1111", "idempotency_key": key()})
    assert response.status_code == 422
    assert "Use a test card" in text(response)
    assert not Order.objects.exists() and not hasattr(type(owner).objects.get(pk=owner.pk), "payment_method")


@pytest.mark.parametrize("field,value,message", [
    ("expiry", "13/40", "MM/YY"),
    ("expiry", "01/20", "expired"),
    ("cvc", "12", "3 or 4 digits"),
])
def test_it_refuses_a_bad_expiry_or_cvc(portal, owner, field, value, message):
    response = portal.post(reverse("portal:card"), {**CARD, field: value, "idempotency_key": key()})
    assert response.status_code == 422 and message in text(response)


def test_it_lists_every_payment_with_its_order_id(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    set_clock(owner, utc(2027, 3, 16, 12))
    change(portal, cams, "plus", "free")
    page = text(portal.get(reverse("portal:history")))
    charge = Order.objects.get(account=owner, kind="charge")
    credit = Order.objects.get(account=owner, kind="credit")
    assert f"{charge.order_id} 1 Mar 2027, 00:00 UTC Payment" in page
    assert "$7.98 Succeeded" in page
    assert f"{credit.order_id} 16 Mar 2027, 12:00 UTC Credit" in page
    assert "$2.00 Succeeded" in page
    assert "Credit balance: $2.00" in page


def test_it_shows_a_receipt_and_its_pdf(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    order = Order.objects.get(account=owner, kind="charge")
    page = text(portal.get(reverse("portal:receipt", args=[order.order_id])))
    assert f"Payment receipt Order ID {order.order_id} Date 1 Mar 2027, 00:00 UTC Account owner@example.com" in page
    assert "Paid by card $7.98" in page and "Card Visa ending in 4242" in page
    pdf = portal.get(reverse("portal:receipt_pdf", args=[order.order_id]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"] == f'attachment; filename="camcare-{order.order_id}.pdf"'
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 500


def test_it_finds_a_receipt_from_a_hand_typed_order_id(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    order = Order.objects.get(account=owner, kind="charge")
    typed = order.order_id.lower().replace("0", "o")
    assert portal.get(reverse("portal:receipt", args=[typed])).status_code == 200


def test_it_hides_another_accounts_receipts(portal, outsider_portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    order = Order.objects.get(account=owner, kind="charge")
    assert outsider_portal.get(reverse("portal:receipt", args=[order.order_id])).status_code == 404
    assert outsider_portal.get(reverse("portal:receipt_pdf", args=[order.order_id])).status_code == 404
    assert order.order_id not in outsider_portal.get(reverse("portal:history")).content.decode()


def test_it_shows_an_app_store_subscription_read_only(portal, owner, cams):
    actions.import_store_subscription(
        account=owner, channel="app_store", store="apple", plan="plus",
        camera_ids=[cams.porch.id], period_end=utc(2027, 3, 20),
    )
    home = portal.get(reverse("portal:home"))
    page = text(home)
    assert "This subscription is managed in the App Store" in page
    assert "Tap Subscriptions, then camcare." in page
    assert reverse("portal:change") + '"' not in home.content.decode().split("<main", 1)[1]
    assert reverse("portal:cancel") not in home.content.decode()
    change_page = portal.get(reverse("portal:change"))
    assert "<form method=\"post\" novalidate>" not in change_page.content.decode()
    assert "Managed in the App Store" in text(change_page)
    posted = portal.post(reverse("portal:change"), {**cams.plans("free", "free"), "cycle": "monthly"})
    assert posted.status_code == 409 and "Managed in the App Store" in text(posted)
    cams.porch.refresh_from_db()
    assert cams.porch.plan == "plus"


def test_it_shows_a_friendly_404_with_a_reference(portal):
    response = portal.get("/no-such-page/")
    assert response.status_code == 404
    reference = re.search(r"ERR-[0-9A-Z]{10}", response.content.decode())[0]
    assert ErrorReport.objects.get(reference=reference).status == 404
    assert "account e-mail" in text(response) and "Sign out" in text(response)  # the base layout


def test_it_shows_a_500_with_a_reference_and_no_traceback(db, settings, monkeypatch):
    settings.DEBUG = False

    def broken():
        raise RuntimeError("catalog exploded")

    monkeypatch.setattr("camcare.portal.views.plans.get_catalog", broken)
    client = Client(raise_request_exception=False)
    response = client.get(reverse("portal:plans"))
    body = response.content.decode()
    assert response.status_code == 500
    reference = re.search(r"ERR-[0-9A-Z]{10}", body)[0]
    assert "Traceback" not in body and "catalog exploded" not in body
    assert "catalog exploded" in ErrorReport.objects.get(reference=reference).detail


def test_it_explains_an_expired_form_with_a_reference(owner, settings):
    settings.CSRF_FAILURE_VIEW = "camcare.portal.views.errors.csrf_failure"
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("portal:login"), {"email": owner.email, "password": "x"})
    assert response.status_code == 403
    assert "This form expired" in text(response)
    assert re.search(r"ERR-[0-9A-Z]{10}", response.content.decode())


PAGES = ["portal:home", "portal:change", "portal:history", "portal:card", "portal:cancel", "portal:plans", "portal:account"]


@pytest.mark.parametrize("page", PAGES)
def test_it_sends_a_csp_and_no_inline_script_or_style(portal, owner, cams, visa, page):
    change(portal, cams, "plus", "plus")
    response = portal.get(reverse(page))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    body = response.content.decode()
    assert not re.search(r"\sstyle=", body)
    assert not re.search(r"<script(?![^>]*\ssrc=)", body)
    assert not re.search(r"\son[a-z]+=", body)  # no inline event handlers
    assert "http://" not in body.replace("http://testserver", "") and "https://" not in body  # no CDN
