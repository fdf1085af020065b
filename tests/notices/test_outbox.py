"""The notices outbox (POLICY.md section 15) against a real SMTP server on loopback
(aiosmtpd): one e-mail per event, after the commit, retried when SMTP fails."""

from django.db import transaction

from camcare.billing import actions
from camcare.billing.models import Order
from camcare.notices import outbox
from camcare.notices.models import Notice
from tests.notices.mail import parts


def subscribe(owner, cameras, capture):
    porch, garden = cameras
    with capture(execute=True):
        actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    return Order.objects.get(account=owner, kind="charge")


def test_it_sends_one_receipt_in_text_and_html_after_the_commit(owner, cameras, card, at, smtp,
                                                               django_capture_on_commit_callbacks):
    at(2027, 3, 1)
    order = subscribe(owner, cameras, django_capture_on_commit_callbacks)
    [message] = smtp.messages
    assert message["Subject"] == f"camcare payment {order.order_id}"
    assert message["To"] == "owner@example.com"
    body = parts(message)
    assert "Amount: $7.98" in body["text/plain"]
    assert order.order_id in body["text/html"] and "$7.98" in body["text/html"]
    assert f"/payments/{order.order_id}/" in body["text/html"]  # the one button, an absolute link
    assert Notice.objects.get(key=f"receipt:{order.order_id}").sent_at is not None


def test_it_never_makes_a_second_notice_of_one_event(owner, cameras, card, at, smtp,
                                                     django_capture_on_commit_callbacks):
    at(2027, 3, 1)
    order = subscribe(owner, cameras, django_capture_on_commit_callbacks)
    from camcare.billing.emails import record_receipt

    with django_capture_on_commit_callbacks(execute=True):
        record_receipt(order)  # the same event recorded again (e.g. a replayed settlement)
    assert outbox.send_due() == 0
    assert len(smtp.messages) == 1
    assert Notice.objects.filter(key=f"receipt:{order.order_id}").count() == 1


def test_it_retries_when_the_smtp_server_refuses(owner, cameras, card, at, smtp,
                                                 django_capture_on_commit_callbacks):
    at(2027, 3, 1)
    smtp.refusing = True
    order = subscribe(owner, cameras, django_capture_on_commit_callbacks)
    notice = Notice.objects.get(key=f"receipt:{order.order_id}")
    assert (notice.sent_at, notice.attempts, smtp.messages) == (None, 1, [])
    assert "451" in notice.last_error
    smtp.refusing = False
    assert outbox.send_due() == 0  # not before its retry is due
    Notice.objects.filter(pk=notice.pk).update(next_attempt_at=notice.created_at)
    assert outbox.send_due() == 1
    assert outbox.send_due() == 0  # and never again
    assert len(smtp.messages) == 1


def test_it_sends_nothing_for_an_event_that_rolled_back(owner, smtp, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                outbox.enqueue(account=owner, kind="receipt", key="receipt:ORD-ROLLEDBACK", context={})
                raise RuntimeError("the event failed")
        except RuntimeError:
            pass
    assert Notice.objects.count() == 0
    assert smtp.messages == []
