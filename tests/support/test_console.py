"""The support console: staff only (and past the second factor), finds accounts three ways,
audited refunds and credits typed in dollars, each money form acting once however often it
is sent."""

from collections import Counter

import pytest
from django.test import Client

from camcare.audit.errors import record_error
from camcare.audit.models import AuditEvent
from camcare.billing import selectors
from camcare.billing.models import LedgerEntry, Order
from tests.support.pages import Page, account_page, sent_from_page


@pytest.fixture
def staff_client(admin_client):
    """A billing admin past the second factor: these tests use every form of the page."""
    return admin_client


def test_it_hides_the_console_from_owners(owner):
    client = Client()
    client.force_login(owner)
    assert client.get("/support/").status_code == 404
    assert client.get(f"/support/accounts/{owner.pk}/").status_code == 404


def test_it_answers_404_to_anonymous_visitors_without_sending_them_to_sign_in(owner):
    for url in ("/support/", f"/support/accounts/{owner.pk}/"):
        response = Client().get(url)
        assert response.status_code == 404
        assert "Location" not in response


def test_it_finds_an_account_by_email_in_any_case(staff_client, owner):
    response = staff_client.get("/support/", {"q": "OWNER@Example.com"})
    assert owner.pk in response.content.decode()


def test_it_finds_an_account_by_order_id_typed_loosely(staff_client, paid_owner):
    order_id = Order.objects.get(account=paid_owner).order_id
    typed = order_id.lower().replace("0", "o").replace("1", "l")
    response = staff_client.get("/support/", {"q": typed})
    assert paid_owner.pk in response.content.decode()


def test_it_finds_an_account_by_error_reference(staff_client, owner, outsider):
    reference = record_error(account=owner, status=402, code="payment_failed", message="declined")
    body = staff_client.get("/support/", {"q": reference}).content.decode()
    assert owner.pk in body and outsider.pk not in body
    assert "payment_failed" in body


def test_it_audits_every_look_at_an_account(staff_client, billing_admin, owner):
    staff_client.get(f"/support/accounts/{owner.pk}/")
    assert AuditEvent.objects.filter(actor=billing_admin, account=owner, action="support.viewed_account").count() == 1


def test_it_gives_each_form_field_an_id_of_its_own(staff_client, paid_owner):
    page = account_page(staff_client, paid_owner)
    repeated = [name for name, count in Counter(name for name, _ in page.ids).items() if count > 1]
    assert not repeated
    where = dict(page.ids)
    assert page.labels and all(where.get(target) == form for target, form in page.labels)
    # Each form's amount label focuses that form's own field, not the other form's.
    labels = dict(page.labels)
    assert labels["refund_amount"].endswith("/refund/") and labels["credit_amount"].endswith("/credit/")
    assert page.inputs["refund_amount"]["name"] == page.inputs["credit_amount"]["name"] == "amount"


def test_it_renders_a_new_one_time_key_with_each_page(staff_client, paid_owner):
    first = sent_from_page(staff_client, paid_owner, "credit")["request_key"]
    second = sent_from_page(staff_client, paid_owner, "credit")["request_key"]
    refund = sent_from_page(staff_client, paid_owner, "refund")["request_key"]
    assert len({first, second, refund}) == 3


def test_it_refuses_a_money_form_without_its_key_and_renders_one(staff_client, paid_owner):
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/credit/", {"amount": "2.50", "reason": "Outage"})
    assert response.status_code == 200
    assert "not sent from its page" in response.content.decode()
    assert selectors.credit_balance(paid_owner) == 0
    renewed = Page(response.content.decode()).inputs["credit_request_key"]["value"]
    assert len(renewed) == 32


def test_it_keeps_the_key_of_a_refused_form_shown_again(staff_client, paid_owner):
    """Sent again after a refusal (too much), the form still names the first attempt."""
    charge = Order.objects.get(account=paid_owner, kind="charge")
    data = sent_from_page(staff_client, paid_owner, "refund", order_id=charge.order_id, amount="4.00", reason="Too much")
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data)
    assert Page(response.content.decode()).inputs["refund_request_key"]["value"] == data["request_key"]


def test_it_adds_credit_once_for_a_form_sent_twice(staff_client, paid_owner):
    data = sent_from_page(staff_client, paid_owner, "credit", amount="2.50", reason="Outage on Mar 3")
    first = staff_client.post(f"/support/accounts/{paid_owner.pk}/credit/", data)
    again = staff_client.post(f"/support/accounts/{paid_owner.pk}/credit/", data)
    assert (first.status_code, again.status_code) == (302, 302)
    assert selectors.credit_balance(paid_owner) == 250
    assert Order.objects.filter(account=paid_owner, kind="credit").count() == 1


def test_it_refunds_once_for_a_form_sent_twice(staff_client, paid_owner):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    data = sent_from_page(staff_client, paid_owner, "refund", order_id=charge.order_id, amount="1.00", reason="Goodwill")
    first = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data)
    again = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data)
    assert (first.status_code, again.status_code) == (302, 302)
    assert Order.objects.filter(account=paid_owner, kind="refund").count() == 1
    assert selectors.refundable_of(charge) == 299


def test_it_refunds_again_with_a_new_page(staff_client, paid_owner):
    """Two refunds meant as two (two pages, two keys) are two."""
    charge = Order.objects.get(account=paid_owner, kind="charge")
    for _ in range(2):
        data = sent_from_page(staff_client, paid_owner, "refund", order_id=charge.order_id, amount="$1", reason="Twice")
        assert staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data).status_code == 302
    assert selectors.refundable_of(charge) == 199


def test_it_issues_an_audited_credit(staff_client, billing_admin, paid_owner):
    data = sent_from_page(staff_client, paid_owner, "credit", amount="2.50", reason="Outage on Mar 3")
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/credit/", data)
    assert response.status_code == 302
    assert selectors.credit_balance(paid_owner) == 250
    event = AuditEvent.objects.get(action="support.credit")
    assert (event.actor, event.account, event.detail["amount"]) == (billing_admin, paid_owner, 250)


def test_it_refunds_part_of_a_charge_to_the_card(staff_client, paid_owner):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    data = sent_from_page(staff_client, paid_owner, "refund", order_id=charge.order_id, amount="1.00", reason="Goodwill")
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data)
    assert response.status_code == 302
    refund = Order.objects.get(account=paid_owner, kind="refund")
    assert (refund.amount, refund.refers_to, refund.status) == (100, charge, "succeeded")
    assert selectors.refundable_of(charge) == 299
    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == 0


def test_it_refuses_to_refund_more_than_is_left(staff_client, paid_owner):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    data = sent_from_page(staff_client, paid_owner, "refund", order_id=charge.order_id, amount="4.00", reason="Too much")
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data)
    assert response.status_code == 200
    assert f"At most $3.99 of {charge.order_id} can be refunded." in response.content.decode()
    assert not Order.objects.filter(kind="refund").exists()


def test_it_refuses_a_refund_of_another_accounts_charge(staff_client, paid_owner, outsider):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    data = sent_from_page(staff_client, outsider, "refund", order_id=charge.order_id, amount="1.00", reason="Wrong account")
    response = staff_client.post(f"/support/accounts/{outsider.pk}/refund/", data)
    assert "No charge with this Order ID" in response.content.decode()
    assert not Order.objects.filter(kind="refund").exists()
