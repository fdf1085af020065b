from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from camcare.billing import actions
from camcare.billing.models import Order, Subscription
from tests.billing.conftest import add_camera
from tests.conftest import utc


def test_it_renews_due_subscriptions_once_however_often_it_runs(owner):
    camera = add_camera(owner, "Porch")
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    actions.change_plan(account=owner, cameras={camera.pk: "plus"}, actor=owner)
    period_end = Subscription.objects.get(account=owner).period_end
    for _ in range(2):
        out = StringIO()
        call_command("run_billing", "--at", period_end.strftime("%Y-%m-%dT%H:%M:%SZ"), stdout=out)
    renewals = Order.objects.filter(account=owner, purpose="renewal")
    assert [(o.amount, o.status) for o in renewals] == [(399, "succeeded")]
    assert "billed 0 subscription(s)" in out.getvalue()


def test_it_refuses_an_instant_without_a_zone(db):
    with pytest.raises(CommandError, match="--at must be"):
        call_command("run_billing", "--at", "2027-04-01T00:00:00")


def test_it_bills_nothing_before_the_period_ends(owner):
    camera = add_camera(owner, "Porch")
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    actions.change_plan(account=owner, cameras={camera.pk: "plus"}, actor=owner)
    call_command("run_billing", "--at", "2020-01-01T00:00:00Z", stdout=StringIO())
    assert not Order.objects.filter(purpose="renewal").exists()
    assert utc(2020, 1, 1) < Subscription.objects.get(account=owner).period_end


def test_it_makes_the_annual_renewal_reminder_30_days_before_once(owner):
    from camcare.notices.models import Notice

    camera = add_camera(owner, "Porch")
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    actions.change_plan(account=owner, cameras={camera.pk: "plus"}, cycle="annual", actor=owner)
    period_end = Subscription.objects.get(account=owner).period_end
    before, at = period_end - timedelta(days=30, seconds=1), period_end - timedelta(days=30)
    call_command("run_billing", "--at", before.strftime("%Y-%m-%dT%H:%M:%SZ"), stdout=StringIO())
    assert not Notice.objects.filter(kind="annual_renewal").exists()
    for _ in range(2):
        out = StringIO()
        call_command("run_billing", "--at", at.strftime("%Y-%m-%dT%H:%M:%SZ"), stdout=out)
    assert Notice.objects.filter(kind="annual_renewal").count() == 1
    assert "made 0 reminder(s)" in out.getvalue()  # the second run makes none
