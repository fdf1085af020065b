"""The console's two roles: an agent refunds up to a limit ($50.00 by default) and issues no
credit; a billing admin (or a superuser) does both without the limit. A refusal is a form
error, audited, and moves nothing: no order, no ledger entry, no gateway call."""

from __future__ import annotations

import pytest

from camcare.audit.models import AuditEvent
from camcare.billing import actions, selectors
from camcare.billing.models import LedgerEntry, Order, SandboxRefund
from camcare.support.roles import Role, role_of
from tests.billing.conftest import add_camera
from tests.conftest import make_account
from tests.support.otp import verified_client
from tests.support.pages import sent_from_page


@pytest.fixture
def big_charge(owner):
    """One premium line, annual: a $129.99 charge, more than an agent may refund at once."""
    camera = add_camera(owner, "Porch")
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    actions.change_plan(account=owner, cameras={camera.pk: "premium"}, cycle="annual", actor=owner)
    charge = Order.objects.get(account=owner, kind="charge")
    assert charge.amount == 12999
    return charge


def money_state(owner) -> tuple:
    """Every row a refund or a credit would add: orders, the ledger, the gateway's own."""
    return (list(Order.objects.filter(account=owner).values_list("order_id", "kind", "amount", "status")),
            list(LedgerEntry.objects.values_list("posting", "book", "amount")),
            SandboxRefund.objects.count(), selectors.credit_balance(owner))


def refund(client, owner, charge, amount: str):
    data = sent_from_page(client, owner, "refund", order_id=charge.order_id, amount=amount, reason="Goodwill")
    return client.post(f"/support/accounts/{owner.pk}/refund/", data)


def credit(client, owner, amount: str):
    data = sent_from_page(client, owner, "credit", amount=amount, reason="Outage")
    return client.post(f"/support/accounts/{owner.pk}/credit/", data)


def test_it_makes_staff_in_no_group_an_agent_and_the_groups_decide_the_rest(staff, billing_admin, owner):
    superuser = make_account("root@camcare.example", is_staff=True, is_superuser=True)
    assert (role_of(staff), role_of(billing_admin), role_of(superuser), role_of(owner)) == (
        Role.AGENT, Role.BILLING_ADMIN, Role.BILLING_ADMIN, None)


def test_it_lets_an_agent_refund_up_to_the_limit(agent_client, owner, big_charge):
    response = refund(agent_client, owner, big_charge, "$50.00")
    assert response.status_code == 302
    assert Order.objects.get(account=owner, kind="refund").amount == 5000
    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == 0


def test_it_refuses_an_agent_a_refund_over_the_limit_and_moves_nothing(agent_client, agent, owner, big_charge):
    before = money_state(owner)
    response = refund(agent_client, owner, big_charge, "50.01")
    assert response.status_code == 200
    assert "An agent can refund at most $50.00 at a time." in response.content.decode()
    assert money_state(owner) == before
    event = AuditEvent.objects.get(action="support.refused")
    assert (event.actor, event.account, event.detail["amount"], event.detail["limit"]) == (agent, owner, 5001, 5000)
    assert event.detail["what"] == "refund"


def test_it_lets_a_billing_admin_refund_over_the_agent_limit(admin_client, owner, big_charge):
    response = refund(admin_client, owner, big_charge, "129.99")
    assert response.status_code == 302
    refund_order = Order.objects.get(account=owner, kind="refund")
    assert (refund_order.amount, refund_order.status) == (12999, "succeeded")
    assert selectors.refundable_of(big_charge) == 0
    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == 0


def test_it_counts_a_superuser_as_a_billing_admin(owner, big_charge):
    root = make_account("root@camcare.example", is_staff=True, is_superuser=True)
    client = verified_client(root)
    assert refund(client, owner, big_charge, "100").status_code == 302
    assert credit(client, owner, "5").status_code == 302
    assert selectors.credit_balance(owner) == 500


def test_it_refuses_an_agent_a_credit_and_moves_nothing(agent_client, agent, owner, big_charge):
    before = money_state(owner)
    response = credit(agent_client, owner, "1.00")
    assert response.status_code == 200
    assert "Only a billing admin can issue credits." in response.content.decode()
    assert money_state(owner) == before
    event = AuditEvent.objects.get(action="support.refused")
    assert (event.actor, event.account, event.detail["what"], event.detail["amount"]) == (agent, owner, "issue a credit", 100)
    assert not AuditEvent.objects.filter(action="support.credit").exists()


def test_it_tells_an_agent_that_credits_are_for_billing_admins(agent_client, admin_client, owner):
    assert 'data-testid="credit-admin-only"' in agent_client.get(f"/support/accounts/{owner.pk}/").content.decode()
    assert 'data-testid="credit-admin-only"' not in admin_client.get(f"/support/accounts/{owner.pk}/").content.decode()


def test_it_lets_a_billing_admin_credit(admin_client, owner):
    assert credit(admin_client, owner, "$12.34").status_code == 302
    assert selectors.credit_balance(owner) == 1234


def test_it_reads_the_agent_limit_from_the_settings(settings, agent_client, owner, big_charge):
    settings.CAMCARE_AGENT_REFUND_LIMIT_CENTS = 1000
    assert "up to $10.00 at a time" in agent_client.get(f"/support/accounts/{owner.pk}/").content.decode()
    assert "at most $10.00 at a time" in refund(agent_client, owner, big_charge, "10.01").content.decode()
    assert refund(agent_client, owner, big_charge, "10").status_code == 302
