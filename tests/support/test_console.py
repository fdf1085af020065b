"""The support console: staff only, finds accounts three ways, audited refunds and credits,
each money form acting once however often it is sent."""

from collections import Counter
from html.parser import HTMLParser

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


def test_it_audits_every_look_at_an_account(staff_client, staff, owner):
    staff_client.get(f"/support/accounts/{owner.pk}/")
    assert AuditEvent.objects.filter(actor=staff, account=owner, action="support.viewed_account").count() == 1


class Page(HTMLParser):
    """The elements of a page with an id, the labels, and the form each one is in."""

    def __init__(self, html: str):
        super().__init__()
        self.form = None
        self.ids: list[tuple[str, str | None]] = []  # (id, form action)
        self.labels: list[tuple[str, str | None]] = []  # (for, form action)
        self.inputs: dict[str, dict] = {}  # id -> attributes
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.form = attrs.get("action")
        if "id" in attrs:
            self.ids.append((attrs["id"], self.form))
        if tag == "input" and "id" in attrs:
            self.inputs[attrs["id"]] = attrs
        if tag == "label" and "for" in attrs:
            self.labels.append((attrs["for"], self.form))

    def handle_endtag(self, tag):
        if tag == "form":
            self.form = None


def account_page(client, owner) -> Page:
    return Page(client.get(f"/support/accounts/{owner.pk}/").content.decode())


def sent_from_page(client, owner, form: str, **fields) -> dict:
    """The form's fields with the one-time key its page was rendered with."""
    return {**fields, "request_key": account_page(client, owner).inputs[f"{form}_request_key"]["value"]}


def test_it_gives_each_form_field_an_id_of_its_own(staff_client, paid_owner):
    page = account_page(staff_client, paid_owner)
    repeated = [name for name, count in Counter(name for name, _ in page.ids).items() if count > 1]
    assert not repeated
    where = dict(page.ids)
    assert page.labels and all(where.get(target) == form for target, form in page.labels)


def test_it_renders_a_new_one_time_key_with_each_page(staff_client, paid_owner):
    first = sent_from_page(staff_client, paid_owner, "credit")["request_key"]
    second = sent_from_page(staff_client, paid_owner, "credit")["request_key"]
    refund = sent_from_page(staff_client, paid_owner, "refund")["request_key"]
    assert len({first, second, refund}) == 3


def test_it_refuses_a_money_form_without_its_key_and_renders_one(staff_client, paid_owner):
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/credit/", {"amount": "250", "reason": "Outage"})
    assert response.status_code == 200
    assert "not sent from its page" in response.content.decode()
    assert selectors.credit_balance(paid_owner) == 0
    renewed = Page(response.content.decode()).inputs["credit_request_key"]["value"]
    assert len(renewed) == 32


def test_it_keeps_the_key_of_a_refused_form_shown_again(staff_client, paid_owner):
    """Sent again after a refusal (too much), the form still names the first attempt."""
    charge = Order.objects.get(account=paid_owner, kind="charge")
    data = sent_from_page(staff_client, paid_owner, "refund", order_id=charge.order_id, amount="400", reason="Too much")
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data)
    assert Page(response.content.decode()).inputs["refund_request_key"]["value"] == data["request_key"]


def test_it_adds_credit_once_for_a_form_sent_twice(staff_client, paid_owner):
    data = sent_from_page(staff_client, paid_owner, "credit", amount="250", reason="Outage on Mar 3")
    first = staff_client.post(f"/support/accounts/{paid_owner.pk}/credit/", data)
    again = staff_client.post(f"/support/accounts/{paid_owner.pk}/credit/", data)
    assert (first.status_code, again.status_code) == (302, 302)
    assert selectors.credit_balance(paid_owner) == 250
    assert Order.objects.filter(account=paid_owner, kind="credit").count() == 1


def test_it_refunds_once_for_a_form_sent_twice(staff_client, paid_owner):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    data = sent_from_page(staff_client, paid_owner, "refund", order_id=charge.order_id, amount="100", reason="Goodwill")
    first = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data)
    again = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data)
    assert (first.status_code, again.status_code) == (302, 302)
    assert Order.objects.filter(account=paid_owner, kind="refund").count() == 1
    assert selectors.refundable_of(charge) == 299


def test_it_refunds_again_with_a_new_page(staff_client, paid_owner):
    """Two refunds meant as two (two pages, two keys) are two."""
    charge = Order.objects.get(account=paid_owner, kind="charge")
    for _ in range(2):
        data = sent_from_page(staff_client, paid_owner, "refund", order_id=charge.order_id, amount="100", reason="Twice")
        assert staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data).status_code == 302
    assert selectors.refundable_of(charge) == 199


def test_it_issues_an_audited_credit(staff_client, staff, paid_owner):
    data = sent_from_page(staff_client, paid_owner, "credit", amount="250", reason="Outage on Mar 3")
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/credit/", data)
    assert response.status_code == 302
    assert selectors.credit_balance(paid_owner) == 250
    event = AuditEvent.objects.get(action="support.credit")
    assert (event.actor, event.account, event.detail["amount"]) == (staff, paid_owner, 250)


def test_it_refunds_part_of_a_charge_to_the_card(staff_client, paid_owner):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    data = sent_from_page(staff_client, paid_owner, "refund", order_id=charge.order_id, amount="100", reason="Goodwill")
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data)
    assert response.status_code == 302
    refund = Order.objects.get(account=paid_owner, kind="refund")
    assert (refund.amount, refund.refers_to, refund.status) == (100, charge, "succeeded")
    assert selectors.refundable_of(charge) == 299
    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == 0


def test_it_refuses_to_refund_more_than_is_left(staff_client, paid_owner):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    data = sent_from_page(staff_client, paid_owner, "refund", order_id=charge.order_id, amount="400", reason="Too much")
    response = staff_client.post(f"/support/accounts/{paid_owner.pk}/refund/", data)
    assert response.status_code == 200
    assert "At most 399 cents" in response.content.decode()
    assert not Order.objects.filter(kind="refund").exists()


def test_it_refuses_a_refund_of_another_accounts_charge(staff_client, paid_owner, outsider):
    charge = Order.objects.get(account=paid_owner, kind="charge")
    data = sent_from_page(staff_client, outsider, "refund", order_id=charge.order_id, amount="100", reason="Wrong account")
    response = staff_client.post(f"/support/accounts/{outsider.pk}/refund/", data)
    assert "No charge with this Order ID" in response.content.decode()
    assert not Order.objects.filter(kind="refund").exists()
