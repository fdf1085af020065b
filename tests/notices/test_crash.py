"""A notice goes out once even when its sender dies (POLICY.md section 15): a notice whose
send was lost in a crash is sent by the sender job; one held by a sender that started less
than SENDING_TIMEOUT ago is left to it; one held longer is taken over, once."""

from datetime import timedelta

from camcare import clock
from camcare.billing import actions
from camcare.notices import outbox
from camcare.notices.models import Notice
from tests.conftest import utc


def reminder_made_but_not_sent(owner, cameras, capture) -> Notice:
    """The Apr 1 bill's card reminder, committed; the process died before it sent it (the
    commit's send callback never ran)."""
    porch, garden = cameras
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner, exp_month=3, exp_year=2027)
    with capture(execute=True):  # its receipt goes out
        actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    assert not Notice.objects.filter(sent_at__isnull=True).exists()
    with capture(execute=False):
        assert actions.send_due_reminders(at=utc(2027, 3, 20)) == 1
    return Notice.objects.get(kind="card_expiring")


def test_a_notice_lost_in_a_crash_is_sent_once_by_the_sender_job(owner, cameras, at, smtp,
                                                                 django_capture_on_commit_callbacks):
    at(2027, 3, 1)
    notice = reminder_made_but_not_sent(owner, cameras, django_capture_on_commit_callbacks)
    smtp.messages.clear()  # the receipt
    assert notice.sent_at is None
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.send_due_reminders(at=utc(2027, 3, 21)) == 0  # the sweep again: none made
    assert outbox.send_due() == 1
    assert outbox.send_due() == 0
    assert len(smtp.messages) == 1


def test_a_notice_held_by_a_live_sender_is_not_sent_twice_and_one_past_the_timeout_is(
        owner, cameras, at, smtp, django_capture_on_commit_callbacks):
    at(2027, 3, 1)
    notice = reminder_made_but_not_sent(owner, cameras, django_capture_on_commit_callbacks)
    smtp.messages.clear()  # the receipt
    now = clock.real_now()
    Notice.objects.filter(pk=notice.pk).update(sending_since=now - timedelta(minutes=1), attempts=1)
    assert outbox.send_due() == 0  # another sender holds it (it may be sending it right now)
    assert outbox.send(notice.pk) is False
    assert smtp.messages == []
    Notice.objects.filter(pk=notice.pk).update(sending_since=now - outbox.SENDING_TIMEOUT - timedelta(seconds=1))
    assert outbox.send_due() == 1  # that sender died: taken over
    assert outbox.send_due() == 0
    assert len(smtp.messages) == 1
    notice.refresh_from_db()
    assert notice.sent_at is not None and notice.sending_since is None and notice.attempts == 2
