"""An account's timeline: everything that happened to it, newest first, each entry with its
instant, kind, words, amount and Order ID; staff actions with who did them. Bounded, and a
fixed number of queries whatever the account's history."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from camcare.audit.errors import record_error
from camcare.audit.models import AuditEvent
from camcare.billing import actions
from camcare.billing.models import Order
from camcare.notices import outbox
from camcare.notices.models import Notice
from camcare.support.timeline import timeline_of
from tests.billing.conftest import add_camera
from tests.conftest import set_clock, utc
from tests.support.pages import first_form, sent_from_page
from tests.support.test_recovery import past_due  # noqa: F401 (fixture)


def texts(account, kind: str | None = None) -> list[str]:
    return [entry.text for entry in timeline_of(account) if kind is None or entry.kind == kind]


def entry_with(account, words: str):
    return next(entry for entry in timeline_of(account) if words in entry.text)


def test_it_lists_every_staff_action_with_who_did_it(admin_client, billing_admin, owner, past_due,  # noqa: F811
                                                     django_capture_on_commit_callbacks):
    account_url = f"/support/accounts/{owner.pk}/"
    admin_client.get("/support/", {"q": owner.email})
    admin_client.get(account_url)
    charge = Order.objects.filter(account=owner, kind="charge", status="succeeded").first()
    refund = sent_from_page(admin_client, owner, "refund", order_id=charge.order_id, amount="1.00", reason="Goodwill")
    assert admin_client.post(account_url + "refund/", refund).status_code == 302
    credit = sent_from_page(admin_client, owner, "credit", amount="2.00", reason="Outage")
    assert admin_client.post(account_url + "credit/", credit).status_code == 302
    page = admin_client.get(account_url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(account_url + "resend/", first_form(page, "/resend/")).status_code == 302
    assert admin_client.post(account_url + "retry/", first_form(page, "/retry/")).status_code == 302

    actions_done = {"support.searched", "support.viewed_account", "support.refund", "support.credit",
                    "support.receipt_resent", "support.payment_retried"}
    events = AuditEvent.objects.filter(actor=billing_admin, account=owner)
    assert actions_done <= set(events.values_list("action", flat=True))
    by_staff = [entry for entry in timeline_of(owner) if entry.actor == billing_admin.email]
    words = " | ".join(entry.text for entry in by_staff)
    for said in ("Searched “owner@example.com” (1 found)", "Viewed the account", "Refund of ", "Credit issued: Outage",
                 "sent again", "Retried the unpaid bill now: declined"):
        assert said in words, said
    assert {entry.kind for entry in by_staff} == {"staff"}
    assert entry_with(owner, "Credit issued").amount == "$2.00"

    page = admin_client.get(account_url).content.decode()
    assert "Retried the unpaid bill now" in page and billing_admin.email in page


def test_it_lists_the_second_factor_on_the_staff_members_own_timeline(admin_client, billing_admin, owner):
    admin_client.get(f"/support/accounts/{owner.pk}/")
    own = timeline_of(billing_admin)
    assert any(entry.text == "Passed the console's second factor (TOTP)" and entry.actor == billing_admin.email
               for entry in own)
    assert any(entry.text.startswith(f"On {owner.email}: Viewed the account") for entry in own)
    assert AuditEvent.objects.filter(actor=billing_admin, account=billing_admin, action="support.verified").exists()


def test_it_lists_orders_renewals_and_payment_attempts_with_their_status(owner, past_due):  # noqa: F811
    entries = timeline_of(owner)
    orders = [entry for entry in entries if entry.kind == "order"]
    assert {entry.status for entry in orders} == {"succeeded", "declined"}
    declined = next(entry for entry in orders if entry.status == "declined")
    assert "declined: Your card was declined." in declined.text and declined.amount == "$3.99"
    assert declined.order_id.startswith("ORD-")
    assert "card Visa ···· 0002" in declined.text
    renewal = entry_with(owner, "Renewal payment failed")
    assert (renewal.kind, renewal.amount, renewal.status, renewal.actor) == ("renewal", "$3.99", "failed", "system")
    assert entry_with(owner, "Subscribed: Porch free → plus").amount == "+$3.99"
    assert entry_with(owner, "Card saved: Visa ···· 0002").actor == "owner"


def test_it_lists_a_scheduled_attempt_and_a_lapse(owner, past_due):  # noqa: F811
    for day in (2, 4, 8):
        actions.advance_test_clock(account=owner, to=utc(2027, 4, day), actor=owner)
    said = texts(owner)
    assert "Payment attempt 2 of 4 of the unpaid bill failed" in said
    assert any(text.startswith("Lapsed after the last failed attempt") for text in said)
    assert any(text.startswith("Clips of Porch recorded before 6 Apr 2027, 00:00 UTC leave its history") for text in said)


def test_it_lists_erasures_of_a_change_that_shortens_a_window(owner):
    camera = add_camera(owner, "Porch")
    set_clock(owner, utc(2027, 3, 1))
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    actions.change_plan(account=owner, cameras={camera.pk: "premium"}, actor=owner)
    set_clock(owner, utc(2027, 3, 11))
    actions.change_plan(account=owner, cameras={camera.pk: "plus"}, actor=owner)
    erasure = entry_with(owner, "Clips of Porch")
    assert erasure.kind == "erasure"
    assert erasure.text == "Clips of Porch recorded before 25 Feb 2027, 00:00 UTC erased (30 → 14 days of history)"
    assert entry_with(owner, "Downgraded: Porch premium → plus").amount.startswith("−$")


def test_it_lists_each_notice_sent_pending_or_failed_with_its_attempts(settings, paid_owner):
    receipt = Notice.objects.get(account=paid_owner, kind="receipt")
    order_id = receipt.key.removeprefix("receipt:")
    assert entry_with(paid_owner, "E-mail “Receipt”").status == "pending"
    locmem = settings.MAILERS
    settings.MAILERS = {"default": {  # an SMTP server that is not there: nothing listens on port 9
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 2},
    }}
    assert not outbox.send(receipt.pk)
    failed = entry_with(paid_owner, "E-mail “Receipt”")
    assert (failed.status, failed.order_id, failed.amount) == ("failed", order_id, "$3.99")
    assert "not sent after 1 attempt:" in failed.text
    settings.MAILERS = locmem
    Notice.objects.filter(pk=receipt.pk).update(next_attempt_at=receipt.created_at)
    assert outbox.send(receipt.pk) and len(mail.outbox) == 1
    sent = entry_with(paid_owner, "E-mail “Receipt”")
    assert sent.status == "sent" and "(2 attempts)" in sent.text


def test_it_lists_the_errors_the_account_saw(owner):
    reference = record_error(account=owner, status=402, code="payment_failed", message="declined")
    assert entry_with(owner, reference).kind == "error"


def test_it_lists_newest_first(owner, past_due):  # noqa: F811
    instants = [entry.at for entry in timeline_of(owner)]
    assert instants == sorted(instants, reverse=True)


def test_it_keeps_the_latest_entries_only(owner):
    for n in range(12):
        AuditEvent.objects.create(at=utc(2027, 1, 1 + n), account=owner, action="support.viewed_account")
    latest = timeline_of(owner, limit=5)
    assert [entry.at for entry in latest] == [utc(2027, 1, 12 - n) for n in range(5)]


def _queries_for_timeline(account) -> int:
    with CaptureQueriesContext(connection) as captured:
        timeline_of(account)
    return len(captured)


@pytest.mark.parametrize("many", [20])
def test_it_reads_a_fixed_number_of_queries_whatever_the_history(many, owner, outsider):
    for account, count in ((owner, 1), (outsider, many)):
        camera = add_camera(account, "Porch")
        actions.save_payment_method(account=account, token="tok_visa", actor=account)
        for n in range(count):
            actions.change_plan(account=account, cameras={camera.pk: "plus" if n % 2 == 0 else "premium"}, actor=account)
    assert Order.objects.filter(account=outsider).count() >= many
    assert _queries_for_timeline(owner) == _queries_for_timeline(outsider) <= 6


def test_it_shows_the_timeline_on_the_account_page_with_links_to_orders(agent_client, paid_owner):
    body = agent_client.get(f"/support/accounts/{paid_owner.pk}/").content.decode()
    order_id = Order.objects.get(account=paid_owner).order_id
    assert 'data-testid="timeline"' in body
    assert f'<a class="code" href="#order-{order_id}">{order_id}</a>' in body
    assert f'id="order-{order_id}"' in body
