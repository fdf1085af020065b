"""What an agent does for an owner who calls: send a receipt again (the existing notice,
delivered again), and retry a failed payment now, as an extra attempt that does not use
one of the bill's four scheduled attempts. Each once per rendered form, audited."""

from __future__ import annotations

import pytest
from django.core import mail

from camcare import clock
from camcare.audit.models import AuditEvent
from camcare.billing import actions
from camcare.billing.models import LedgerEntry, Order, PaymentMethod, Subscription
from camcare.notices import outbox
from camcare.notices.models import Notice
from tests.billing.conftest import add_camera
from tests.conftest import set_clock, utc
from tests.support.pages import first_form


@pytest.fixture
def past_due(owner):
    """Plus from 2027-03-01 paid by tok_visa; a declining card saved since; the Apr 1 renewal
    failed (attempt 1 of 4), the next attempt due Apr 2."""
    camera = add_camera(owner, "Porch")
    set_clock(owner, utc(2027, 3, 1))
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    actions.change_plan(account=owner, cameras={camera.pk: "plus"}, actor=owner)
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    actions.advance_test_clock(account=owner, to=utc(2027, 4, 1), actor=owner)
    subscription = Subscription.objects.get(account=owner)
    assert (subscription.status, subscription.failed_attempts, subscription.next_retry_at) == (
        "past_due", 1, utc(2027, 4, 2))
    return subscription


def form_key(client, owner, form: str) -> str:
    """The one-time key of the account page's first `form` ("retry", "resend") as rendered now."""
    page = client.get(f"/support/accounts/{owner.pk}/").content.decode()
    return first_form(page, f"/{form}/")["request_key"]


def retry(client, owner, key=None):
    return client.post(f"/support/accounts/{owner.pk}/retry/", {"request_key": key or form_key(client, owner, "retry")})


# ---------------------------------------------------------------- retry


def test_it_retries_now_without_using_a_scheduled_attempt(agent_client, agent, owner, past_due):
    response = retry(agent_client, owner)
    assert response.status_code == 302
    attempt = Order.objects.filter(account=owner, kind="charge", status="failed").latest("id")
    assert attempt.failure_code == "card_declined"
    past_due.refresh_from_db()
    assert (past_due.status, past_due.failed_attempts, past_due.next_retry_at) == ("past_due", 1, utc(2027, 4, 2))
    event = AuditEvent.objects.get(action="support.payment_retried")
    assert (event.actor, event.account, event.detail["order_id"], event.detail["succeeded"]) == (
        agent, owner, attempt.order_id, False)


def test_it_collects_the_bill_when_the_card_pays_now(agent_client, owner, past_due):
    # The owner's bank lifted its block: the same saved card pays now.
    PaymentMethod.objects.filter(account=owner).update(token="tok_visa", last4="4242")
    assert retry(agent_client, owner).status_code == 302
    past_due.refresh_from_db()
    assert (past_due.status, past_due.failed_attempts, past_due.next_retry_at) == ("active", 0, None)
    paid = Order.objects.filter(account=owner, kind="charge").latest("id")
    assert (paid.status, paid.amount) == ("succeeded", 399)
    assert sum(LedgerEntry.objects.values_list("amount", flat=True)) == 0
    assert AuditEvent.objects.get(action="support.payment_retried").detail["succeeded"] is True


def test_it_retries_once_for_a_form_sent_twice(agent_client, owner, past_due):
    key = form_key(agent_client, owner, "retry")
    retry(agent_client, owner, key)
    attempts = Order.objects.filter(account=owner).count()
    again = retry(agent_client, owner, key)
    assert again.status_code == 302
    assert Order.objects.filter(account=owner).count() == attempts
    assert AuditEvent.objects.filter(action="support.payment_retried").count() == 1


def test_it_tries_a_saved_card_once_out_of_schedule(agent_client, owner, past_due):
    retry(agent_client, owner)
    orders = Order.objects.filter(account=owner).count()
    response = retry(agent_client, owner)
    assert response.status_code == 200
    assert "This card was already tried outside the schedule" in response.content.decode()
    assert Order.objects.filter(account=owner).count() == orders
    past_due.refresh_from_db()
    assert past_due.failed_attempts == 1
    assert AuditEvent.objects.filter(action="support.refused", detail__what="retry the unpaid bill").count() == 1


def test_it_refuses_to_retry_a_bill_that_is_paid(agent_client, paid_owner):
    orders = Order.objects.count()
    response = retry(agent_client, paid_owner, "a" * 32)
    assert response.status_code == 200
    assert "Nothing to retry" in response.content.decode()
    assert Order.objects.count() == orders


def test_it_shows_the_retry_only_for_an_unpaid_bill(agent_client, paid_owner):
    assert 'data-testid="retry-panel"' not in agent_client.get(f"/support/accounts/{paid_owner.pk}/").content.decode()


# ---------------------------------------------------------------- resend a receipt


@pytest.fixture
def sent_receipt(paid_owner):
    notice = Notice.objects.get(account=paid_owner, kind="receipt")
    assert outbox.send(notice.pk)
    assert len(mail.outbox) == 1
    notice.refresh_from_db()
    return notice


def resend(client, owner, notice, key=None):
    return client.post(f"/support/accounts/{owner.pk}/resend/", {
        "order_id": notice.key.removeprefix("receipt:"), "request_key": key or form_key(client, owner, "resend"),
    })


def test_it_sends_a_receipt_again(agent_client, agent, paid_owner, sent_receipt, django_capture_on_commit_callbacks):
    first_sent_at = sent_receipt.sent_at
    with django_capture_on_commit_callbacks(execute=True):
        response = resend(agent_client, paid_owner, sent_receipt)
    assert response.status_code == 302
    assert len(mail.outbox) == 2
    assert mail.outbox[1].subject == mail.outbox[0].subject and mail.outbox[1].to == [paid_owner.email]
    assert sent_receipt.key.removeprefix("receipt:") in mail.outbox[1].body
    sent_receipt.refresh_from_db()
    assert sent_receipt.sent_at >= first_sent_at and sent_receipt.attempts == 2
    assert Notice.objects.filter(account=paid_owner, kind="receipt").count() == 1  # the same notice
    event = AuditEvent.objects.get(action="support.receipt_resent")
    assert (event.actor, event.account, event.detail["order_id"]) == (agent, paid_owner, sent_receipt.key[8:])


def test_it_resends_once_for_a_form_sent_twice(agent_client, paid_owner, sent_receipt, django_capture_on_commit_callbacks):
    key = form_key(agent_client, paid_owner, "resend")
    with django_capture_on_commit_callbacks(execute=True):
        resend(agent_client, paid_owner, sent_receipt, key)
        resend(agent_client, paid_owner, sent_receipt, key)
    assert len(mail.outbox) == 2


def test_it_refuses_to_resend_the_receipt_of_another_accounts_order(agent_client, paid_owner, outsider, sent_receipt):
    response = resend(agent_client, outsider, sent_receipt, "b" * 32)
    assert response.status_code == 200
    assert "This account has no receipt for that order" in response.content.decode()
    sent_receipt.refresh_from_db()
    assert sent_receipt.sent_at is not None and len(mail.outbox) == 1


def test_it_refuses_to_resend_a_receipt_being_sent_right_now(agent_client, paid_owner, sent_receipt):
    Notice.objects.filter(pk=sent_receipt.pk).update(sending_since=clock.real_now())  # a sender holds it
    response = resend(agent_client, paid_owner, sent_receipt, "c" * 32)
    assert "being sent right now" in response.content.decode()
    sent_receipt.refresh_from_db()
    assert sent_receipt.sent_at is not None
