"""The free trial (POLICY.md section 12) through the billing actions: the worked example
with its exact cents, who may have a trial, changes and a cancel during it, and its end
with a card, with none and with a card that declines."""

import pytest

from camcare.audit.models import AuditEvent
from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import Order, SandboxCharge, Subscription, TrialUse
from camcare.cameras.models import Camera, Clip
from camcare.notices.models import Notice
from tests.billing.conftest import add_camera, add_clip
from tests.billing.helpers import assert_consistent
from tests.conftest import make_account, set_clock, utc

TRIAL_END = "2027-03-31T00:00:00Z"


def refused(call) -> str:
    with pytest.raises(BillingRefusal) as raised:
        call()
    return raised.value.code


def start_trial(owner, cameras, plan="plus", **kw):
    return actions.change_plan(account=owner, cameras={c.id: plan for c in cameras}, trial=True, actor=owner, **kw)


def test_the_worked_example_of_section_12(owner, cameras, at):
    """Two cameras on plus, monthly, from 2027-03-01 with no card: trial to Mar 31, nothing
    charged, next bill 798; premium on Mar 11, next bill 1299; a card on Mar 20; the first
    period [Mar 31, Apr 30) charged 1299; a cancel on Apr 10 refunds 866."""
    at(2027, 3, 1)
    preview = actions.preview_change(account=owner, cameras={c.id: "plus" for c in cameras}, trial=True,
                                     actor=owner).to_api()
    assert (preview["charge_now"], preview["net"], preview["trial_end"]) == (0, 0, TRIAL_END)
    assert preview["next_bill"] == {"at": TRIAL_END, "amount": 798}
    result = actions.change_plan(account=owner, quote_id=preview["quote"], actor=owner).to_api()
    assert (result["charge_now"], result["orders"], result["trial_end"]) == (0, [], TRIAL_END)
    summary = selectors.subscription_summary(owner)
    assert (summary["status"], summary["trial_end"], summary["current_period_start"],
            summary["current_period_end"]) == ("trialing", TRIAL_END, "2027-03-01T00:00:00Z", TRIAL_END)
    assert summary["next_bill"] == {"at": TRIAL_END, "amount": 798}
    assert Order.objects.count() == 0 and SandboxCharge.objects.count() == 0

    at(2027, 3, 11)
    upgrade = actions.change_plan(account=owner, cameras={c.id: "premium" for c in cameras}, actor=owner).to_api()
    assert (upgrade["charge_now"], upgrade["net"], upgrade["orders"]) == (0, 0, [])
    assert upgrade["next_bill"] == {"at": TRIAL_END, "amount": 1299}
    assert selectors.subscription_summary(owner)["trial_end"] == TRIAL_END  # the end never moves

    at(2027, 3, 20)
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    assert Order.objects.count() == 0  # saving a card during the trial charges nothing

    at(2027, 3, 31)
    first = Order.objects.get()
    assert (first.kind, first.amount, first.status, first.purpose) == ("charge", 1299, "succeeded", "renewal")
    assert first.period_start == utc(2027, 3, 31)
    summary = selectors.subscription_summary(owner)
    assert (summary["status"], summary["trial_end"], summary["current_period_start"],
            summary["current_period_end"]) == ("active", None, TRIAL_END, "2027-04-30T00:00:00Z")

    at(2027, 4, 10)
    cancel = actions.cancel_subscription(account=owner, actor=owner).to_api()
    assert cancel["refund"] == 866  # round(1299 x 20/30)
    assert [o["kind"] for o in cancel["orders"]] == ["refund"]
    assert_consistent()


def test_a_second_trial_is_refused_for_the_account(owner, cameras, at):
    at(2027, 3, 1)
    start_trial(owner, cameras[:1])
    actions.cancel_subscription(account=owner, actor=owner)
    before = (Subscription.objects.get(account=owner).version, Order.objects.count())
    assert refused(lambda: start_trial(owner, cameras[1:])) == "trial_not_available"
    assert refused(lambda: actions.preview_change(account=owner, cameras={cameras[1].id: "plus"}, trial=True,
                                                  actor=owner)) == "trial_not_available"
    assert (Subscription.objects.get(account=owner).version, Order.objects.count()) == before
    assert selectors.subscription_summary(owner)["status"] == "none"


def test_an_account_that_paid_has_no_trial(owner, cameras, card, at):
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={cameras[0].id: "plus"}, actor=owner)
    actions.cancel_subscription(account=owner, actor=owner)
    assert refused(lambda: start_trial(owner, cameras[1:])) == "trial_not_available"


def test_a_trial_is_refused_while_subscribed(owner, cameras, card, at):
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={cameras[0].id: "plus"}, actor=owner)
    assert refused(lambda: start_trial(owner, cameras)) == "trial_not_available"


def test_a_serial_that_had_a_trial_elsewhere_has_none(owner, at):
    at(2027, 3, 1)
    porch = add_camera(owner, "Porch")
    start_trial(owner, [porch])
    actions.cancel_subscription(account=owner, actor=owner)
    serial = porch.serial
    actions.remove_camera(account=owner, camera=porch, actor=owner)

    other = make_account("second-owner@example.com")
    set_clock(other, utc(2027, 3, 5))
    moved = Camera.objects.create(account=other, name="Porch", model="KC200", serial=serial, device_token_hash="x" * 64)
    fresh = Camera.objects.create(account=other, name="Shed", model="KC200", serial="SN-NEW-ONE", device_token_hash="y" * 64)
    assert refused(lambda: start_trial(other, [moved, fresh])) == "trial_not_available"
    assert selectors.subscription_summary(other)["status"] == "none"
    # The camera that never had one may: the serial rule is about the cameras put on paid plans.
    start_trial(other, [fresh])
    assert selectors.subscription_summary(other)["status"] == "trialing"


def test_a_paid_serial_has_no_trial_on_another_account(owner, card, at):
    at(2027, 3, 1)
    porch = add_camera(owner, "Porch")
    actions.change_plan(account=owner, cameras={porch.id: "premium"}, actor=owner)  # Premium names no camera
    assert TrialUse.objects.filter(kind="serial", key=porch.serial, trial=False).exists()


def test_changes_during_the_trial_cost_nothing_and_apply_at_once(owner, cameras, at):
    at(2027, 3, 1)
    start_trial(owner, cameras)
    at(2027, 3, 5)
    to_annual = actions.change_plan(account=owner, cycle="annual", actor=owner).to_api()
    assert (to_annual["charge_now"], to_annual["orders"], to_annual["scheduled_change"]) == (0, [], None)
    assert to_annual["next_bill"] == {"at": TRIAL_END, "amount": 2 * 3999}
    summary = selectors.subscription_summary(owner)
    assert (summary["cycle"], summary["status"], summary["trial_end"]) == ("annual", "trialing", TRIAL_END)
    back = actions.change_plan(account=owner, cycle="monthly", cameras={cameras[1].id: "free"}, actor=owner).to_api()
    assert (back["charge_now"], back["scheduled_change"], back["next_bill"]) == (0, None, {"at": TRIAL_END, "amount": 399})
    assert selectors.subscription_summary(owner)["cycle"] == "monthly"
    assert Order.objects.count() == 0
    assert_consistent()


def test_a_downgrade_during_the_trial_erases_outside_the_new_window(owner, cameras, at,
                                                                    django_capture_on_commit_callbacks):
    at(2027, 3, 1)
    porch = cameras[0]
    start_trial(owner, [porch], plan="premium")
    at(2027, 3, 25)
    old = add_clip(porch, utc(2027, 3, 5))  # 20 days old: outside plus's 14 days
    kept = add_clip(porch, utc(2027, 3, 20))
    preview = actions.preview_change(account=owner, cameras={porch.id: "plus"}, actor=owner).to_api()
    assert preview["erasures"] == [{"camera": porch.id, "clips": 1, "recorded_before": "2027-03-11T00:00:00Z", "held": False}]
    with django_capture_on_commit_callbacks(execute=True):  # erasure runs after the commit
        actions.change_plan(account=owner, quote_id=preview["quote"], actor=owner)
    assert not Clip.objects.filter(pk=old.pk).exists() and Clip.objects.filter(pk=kept.pk).exists()


def test_a_trial_cancelled_refunds_nothing_and_erases(owner, cameras, at, django_capture_on_commit_callbacks):
    at(2027, 3, 1)
    porch = cameras[0]
    start_trial(owner, [porch])
    at(2027, 3, 10)
    old = add_clip(porch, utc(2027, 3, 5))
    with django_capture_on_commit_callbacks(execute=True):
        result = actions.cancel_subscription(account=owner, actor=owner).to_api()
    assert (result["refund"], result["credit_added"], result["orders"], result["trial_end"]) == (0, 0, [], None)
    assert result["erasures"] == [{"camera": porch.id, "clips": 1, "recorded_before": "2027-03-08T00:00:00Z", "held": False}]
    assert not Clip.objects.filter(pk=old.pk).exists()
    assert selectors.subscription_summary(owner)["status"] == "none"
    assert Order.objects.count() == 0
    assert_consistent()


def test_a_trial_ending_with_a_card_is_charged_once_at_the_anchor(owner, cameras, card, at):
    at(2027, 3, 1)
    start_trial(owner, cameras[:1])
    at(2027, 4, 5)  # late: the run bills the first period at its own instant, once
    actions.advance_test_clock(account=owner, to=utc(2027, 4, 6), actor=owner)
    first = Order.objects.get()
    assert (first.amount, first.created_at, first.period_start) == (399, utc(2027, 3, 31), utc(2027, 3, 31))
    assert SandboxCharge.objects.count() == 1
    summary = selectors.subscription_summary(owner)
    assert (summary["status"], summary["current_period_end"]) == ("active", "2027-04-30T00:00:00Z")
    assert Notice.objects.filter(account=owner, kind="receipt").count() == 1
    assert_consistent()


def test_a_trial_ending_without_a_card_moves_to_free_and_holds(owner, cameras, at):
    at(2027, 3, 1)
    porch = cameras[0]
    start_trial(owner, [porch])
    old = add_clip(porch, utc(2027, 3, 20))
    recent = add_clip(porch, utc(2027, 3, 30, 12))
    at(2027, 3, 31)
    assert Order.objects.count() == 0 and SandboxCharge.objects.count() == 0
    summary = selectors.subscription_summary(owner)
    assert (summary["status"], set(summary["cameras"].values()), summary["trial_end"]) == ("none", {"free"}, None)
    held = Clip.objects.get(pk=old.pk)
    assert held.held_until == utc(2027, 4, 14)
    assert Clip.objects.visible().filter(pk=recent.pk).exists()
    assert AuditEvent.objects.filter(account=owner, action="subscription.trial_ended_unpaid").count() == 1
    notice = Notice.objects.get(account=owner, kind="trial_ended")
    assert notice.context["cameras"][0]["clips"] == 1
    # Saving a card afterwards charges nothing; a new subscription pays, with no second trial.
    at(2027, 4, 2)
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    assert Order.objects.count() == 0
    assert refused(lambda: start_trial(owner, [porch])) == "trial_not_available"
    result = actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner).to_api()
    assert result["charge_now"] == 399
    assert Clip.objects.visible().filter(pk=old.pk).exists()  # within the hold: restored
    assert_consistent()


def test_a_trial_ending_with_a_declining_card_is_past_due_with_four_attempts(owner, cameras, at):
    at(2027, 3, 1)
    start_trial(owner, cameras[:1])
    actions.save_payment_method(account=owner, token="tok_insufficientFunds", actor=owner)
    at(2027, 3, 31)
    summary = selectors.subscription_summary(owner)
    assert summary["status"] == "past_due"
    for day in (4, 5, 8):  # the retries: a day, 3 days and 7 days after the period start
        at(2027, 4, day)
    attempts = Order.objects.filter(kind="charge", status="failed")
    assert [o.created_at for o in attempts.order_by("created_at")] == [
        utc(2027, 3, 31), utc(2027, 4, 1), utc(2027, 4, 3), utc(2027, 4, 7)]
    assert selectors.subscription_summary(owner)["status"] == "none"
    assert_consistent()


def test_a_stop_during_the_trial_ends_it_without_a_bill(owner, cameras, card, at):
    at(2027, 3, 1)
    start_trial(owner, cameras[:1])
    at(2027, 3, 10)
    body = actions.stop_at_period_end(account=owner, actor=owner).to_api()
    assert body["scheduled_change"] == {"at": TRIAL_END, "kind": "stop", "cycle": None}
    assert body["trial_end"] == TRIAL_END
    at(2027, 3, 31)
    assert Order.objects.count() == 0
    assert selectors.subscription_summary(owner)["status"] == "none"


def test_the_trial_and_stop_reminders_go_out_three_days_before(owner, cameras, at):
    at(2027, 3, 1)
    start_trial(owner, cameras[:1])
    at(2027, 3, 27)
    assert not Notice.objects.filter(kind="trial_ending").exists()
    at(2027, 3, 28)
    notice = Notice.objects.get(kind="trial_ending")
    assert (notice.context["amount"], notice.context["card"], notice.context["card_needed"]) == ("$3.99", "", True)
    at(2027, 3, 29)
    assert Notice.objects.filter(kind="trial_ending").count() == 1


def test_the_billing_run_ends_trials_as_the_single_path_does(owner, cameras, at):
    """The batch path (run_billing) bills a trial's first period, or ends it unpaid."""
    at(2027, 3, 1)
    start_trial(owner, cameras[:1])
    other = make_account("no-card-trial@example.com")
    set_clock(other, utc(2027, 3, 1))
    porch = add_camera(other, "Porch")
    start_trial(other, [porch])
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    assert actions.run_billing(at=utc(2027, 3, 31, 1)) == 2
    paid = Order.objects.get(account=owner)
    assert (paid.amount, paid.status, paid.period_start) == (399, "succeeded", utc(2027, 3, 31))
    assert selectors.subscription_summary(owner)["status"] == "active"
    assert selectors.subscription_summary(other)["status"] == "none"
    assert not Order.objects.filter(account=other).exists()
    assert actions.run_billing(at=utc(2027, 3, 31, 2)) == 0
    assert_consistent()
