"""The stop's notices (POLICY.md sections 13 and 15) and a crash between the stop's claim
and its settle: the reminder 3 days before with the erasures and their download links,
the notice when it is carried out, each once."""

from datetime import timedelta

import pytest

from camcare.billing import actions, selectors
from camcare.billing.actions import payments
from camcare.billing.models import Order, Subscription
from camcare.cameras.models import Clip
from camcare.notices.models import Notice
from camcare.notices.outbox import _render
from tests.billing.conftest import add_clip
from tests.billing.helpers import assert_consistent
from tests.conftest import utc


def crash(*args, **kwargs):
    raise RuntimeError("crash")


def test_the_stop_reminder_goes_out_three_days_before_with_the_download(owner, subscribed, at):
    porch, _ = subscribed
    at(2027, 3, 20)
    add_clip(porch, utc(2027, 3, 19))
    actions.stop_at_period_end(account=owner, actor=owner)
    at(2027, 3, 28, 23)
    assert not Notice.objects.filter(kind="stop_reminder").exists()
    at(2027, 3, 29)
    notice = Notice.objects.get(kind="stop_reminder")
    cameras = {camera["name"]: camera for camera in notice.context["cameras"]}
    assert (cameras["Porch"]["clips"], cameras["Garden"]["clips"]) == (1, 0)
    assert notice.context["cutoff_iso"] == "2027-03-30T00:00:00Z"
    message = _render(notice)
    subject, text, html = message.subject, message.body, message.alternatives[0][0]
    assert "April 1" in subject or "1 April" in subject or "Apr" in subject
    assert f"/cameras/{porch.id}/download/?before=2027-03-30T00%3A00%3A00Z" in text
    assert f"/cameras/{porch.id}/download/?before=2027-03-30T00%3A00%3A00Z" in html
    at(2027, 3, 30)
    assert Notice.objects.filter(kind="stop_reminder").count() == 1
    # No renewal reminder of any kind for a bill that will not be made.
    assert not Notice.objects.filter(kind__in=["annual_renewal", "card_expiring", "trial_ending"]).exists()


def test_an_undone_stop_sends_no_reminder(owner, subscribed, at):
    at(2027, 3, 20)
    actions.stop_at_period_end(account=owner, actor=owner)
    actions.drop_scheduled_change(account=owner, actor=owner)
    at(2027, 3, 30)
    assert not Notice.objects.filter(kind="stop_reminder").exists()


def test_the_stop_carried_out_is_told_once(owner, subscribed, at):
    porch, _ = subscribed
    at(2027, 3, 20)
    add_clip(porch, utc(2027, 3, 19))
    actions.stop_at_period_end(account=owner, actor=owner)
    at(2027, 4, 1)
    notice = Notice.objects.get(kind="plan_changed", key__startswith="stopped:")
    assert notice.context["heading"] == "Your plan ended, as you asked"
    assert {item["name"]: item["clips"] for item in notice.context["erased"]} == {"Porch": 1, "Garden": 0}
    assert {move["new_plan"] for move in notice.context["cameras"]} == {"Free"}
    actions.run_billing(at=utc(2027, 4, 2))
    assert Notice.objects.filter(key__startswith="stopped:").count() == 1


def test_a_crash_between_the_stops_claim_and_its_settle_is_carried_out_once(owner, subscribed, at, monkeypatch):
    porch, _ = subscribed
    at(2027, 3, 20)
    erased = add_clip(porch, utc(2027, 3, 19))
    actions.stop_at_period_end(account=owner, actor=owner)
    subscription = Subscription.objects.get(account=owner)
    monkeypatch.setattr(payments, "finish", crash)  # dies after step 1's claim, before step 3
    with pytest.raises(RuntimeError, match="crash"):
        actions.renew(subscription_id=subscription.pk, at=utc(2027, 4, 1))
    subscription.refresh_from_db()
    assert subscription.claimed_by and subscription.scheduled_stop and subscription.status == "active"
    assert not Order.objects.filter(purpose="renewal").exists()  # a stop bills nothing, even in step 1
    # The run meanwhile leaves the claimed subscription alone.
    assert actions.run_billing(at=utc(2027, 4, 1, 1)) == 0
    monkeypatch.undo()
    assert actions.reconcile_pending(older_than=timedelta(0)) == 1  # nothing pending: released
    assert Subscription.objects.get(pk=subscription.pk).claimed_by == ""
    assert actions.run_billing(at=utc(2027, 4, 1, 2)) == 1
    assert actions.run_billing(at=utc(2027, 4, 1, 3)) == 0
    summary = selectors.subscription_summary(owner)
    assert (summary["status"], set(summary["cameras"].values())) == ("none", {"free"})
    assert not Order.objects.filter(purpose="renewal").exists()
    assert Notice.objects.filter(key__startswith="stopped:").count() == 1
    assert not Clip.objects.filter(pk=erased.pk, held_until__isnull=False).exists()  # erased, never held
    assert_consistent()
