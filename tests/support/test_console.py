"""The support console: staff only, finds accounts three ways, audited refunds and credits."""

import pytest
from django.test import Client

from camcare.audit.errors import record_error
from camcare.audit.models import AuditEvent
from camcare.billing import actions, selectors
from camcare.billing.models import LedgerEntry, Order
from tests.billing.conftest import add_camera


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def paid_owner(owner):
    camera = add_camera(owner, "Porch")
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    actions.change_plan(account=owner, cameras={camera.pk: "plus"}, actor=owner)
    return owner


def test_it_hides_the_console_from_owners(owner):
    client = Client()
    client.force_login(owner)
    assert client.get("/support/").status_code == 404
    assert client.get(f"/support/accounts/{owner.pk}/").status_code == 404


def test_it_sends_anonymous_visitors_to_sign_in(db):
    response = Client().get("/support/")
    assert response.status_code == 302
    assert "/login/" in response["Location"]


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


def test_it_audits_every_look_at_an_account(staff_client, staff, owner):
    staff_client.get(f"/support/accounts/{owner.pk}/")
    assert AuditEvent.objects.filter(actor=staff, account=owner, action="support.viewed_account").count() == 1


def test_it_issues_an_audited_credit(staff_client, staff, paid_owner):
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/credit/", {"amount": "250", "reason": "Outage on Mar 3"})
    assert response.status_code == 302
    assert selectors.credit_balance(paid_owner) == 250
    event = AuditEvent.objects.get(action="support.credit")
    assert (event.actor, event.account, event.detail["amount"]) == (staff, paid_owner, 250)


def test_it_refunds_part_of_a_charge_to_the_card(staff_client, paid_owner):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/",
                                 {"order_id": charge.order_id, "amount": "100", "reason": "Goodwill"})
    assert response.status_code == 302
    refund = Order.objects.get(account=paid_owner, kind="refund")
    assert (refund.amount, refund.refers_to, refund.status) == (100, charge, "succeeded")
    assert selectors.refundable_of(charge) == 299
    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == 0


def test_it_refuses_to_refund_more_than_is_left(staff_client, paid_owner):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/",
                                 {"order_id": charge.order_id, "amount": "400", "reason": "Too much"})
    assert response.status_code == 200
    assert "At most 399 cents" in response.content.decode()
    assert not Order.objects.filter(kind="refund").exists()


def test_it_refuses_a_refund_of_another_accounts_charge(staff_client, paid_owner, outsider):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    response = staff_client.post(f"/support/accounts/{outsider.pk}/refund/",
                                 {"order_id": charge.order_id, "amount": "100", "reason": "Wrong account"})
    assert "No charge with this Order ID" in response.content.decode()
    assert not Order.objects.filter(kind="refund").exists()
