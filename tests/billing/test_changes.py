"""Paid changes: declines, missing cards, quotes, camera moves and removals (POLICY.md 4, 9)."""

import uuid
from datetime import timedelta

import pytest

from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import LedgerEntry, Order, SandboxCharge, Subscription
from camcare.cameras.models import Camera, Clip
from tests.billing.conftest import add_camera, add_clip
from tests.billing.helpers import assert_consistent, money_fields
from tests.conftest import make_account, set_clock, utc


def counts():
    return (Order.objects.count(), LedgerEntry.objects.count(), SandboxCharge.objects.count())


def test_it_keeps_a_failed_order_and_changes_nothing_on_a_declined_upgrade(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 11)
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    version = Subscription.objects.get(account=owner).version
    ledger = LedgerEntry.objects.count()
    preview = actions.preview_change(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, quote_id=preview.quote_id, actor=owner)
    assert (refused.value.code, refused.value.status) == ("payment_failed", 402)
    assert refused.value.extra["decline_code"] == "card_declined"
    failed = Order.objects.get(order_id=refused.value.extra["order_id"])
    assert (failed.kind, failed.status, failed.amount, failed.failure_code) == ("charge", "failed", 340, "card_declined")
    assert LedgerEntry.objects.count() == ledger  # no money moved
    assert set(selectors.current_plans(owner).values()) == {"plus"}
    subscription = Subscription.objects.get(account=owner)
    assert (subscription.version, subscription.claimed_by) == (version, "")

    # A decline does not make the quote stale: confirm it again with a good card.
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    done = actions.change_plan(account=owner, quote_id=preview.quote_id, actor=owner)
    assert money_fields(done.to_api()) == money_fields(preview.to_api())
    assert [(o.kind, o.amount, o.status) for o in done.orders] == [("charge", 340, "succeeded")]
    assert set(selectors.current_plans(owner).values()) == {"premium"}
    assert SandboxCharge.objects.filter(amount=340).count() == 2  # the declined try and the paid one
    assert_consistent()


def test_it_refuses_a_paid_change_without_a_card_and_writes_no_order(owner, cameras, at):
    porch, _ = cameras
    at(2027, 3, 1)
    before = counts()
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    assert (refused.value.code, refused.value.status) == ("payment_method_required", 402)
    assert counts() == before
    assert selectors.current_plans(owner)[porch.id] == "free"


def test_it_accepts_a_change_paid_by_credit_without_a_card(owner, cameras, at):
    porch, _ = cameras
    at(2027, 3, 1)
    actions.issue_support_credit(request_key=uuid.uuid4().hex, account=owner, amount=500, reason="goodwill", actor=owner)
    result = actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    assert (result.charge_now, result.credit_used) == (0, 399)
    assert [(o.kind, o.amount, o.credit_used) for o in result.orders] == [("charge", 0, 399)]
    assert selectors.credit_balance(owner) == 101
    assert_consistent()


def test_it_applies_a_free_camera_joining_a_premium_line(owner, cameras, card, at):
    porch, garden = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "premium"}, actor=owner)
    at(2027, 3, 5)
    result = actions.change_plan(account=owner, cameras={garden.id: "premium"}, actor=owner)
    assert result.changed
    assert (result.net, result.orders, result.lines) == (0, [], [])
    assert selectors.current_plans(owner) == {porch.id: "premium", garden.id: "premium"}
    assert Order.objects.count() == 1


def test_it_erases_at_once_when_a_camera_leaves_premium(owner, cameras, card, at,
                                                       django_capture_on_commit_callbacks):
    porch, garden = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
    old, recent = add_clip(garden, utc(2027, 3, 10)), add_clip(garden, utc(2027, 3, 19))
    kept = add_clip(porch, utc(2027, 3, 10))
    at(2027, 3, 20)
    preview = actions.preview_change(account=owner, cameras={garden.id: "free"}, actor=owner)
    assert preview.erasures == [{"camera": garden.id, "clips": 1, "recorded_before": "2027-03-18T00:00:00Z", "held": False}]
    with django_capture_on_commit_callbacks(execute=True):  # erasure runs after the commit
        result = actions.change_plan(account=owner, quote_id=preview.quote_id, actor=owner)
    assert (result.net, result.orders) == (0, [])
    assert not Clip.objects.filter(pk=old.pk).exists()
    assert Clip.objects.filter(pk__in=[recent.pk, kept.pk]).count() == 2


def test_it_prices_a_change_after_the_period_end_in_the_new_period(owner, subscribed):
    porch, garden = subscribed
    set_clock(owner, utc(2027, 4, 16))  # the clock moved past Apr 1 but the billing job did not run
    result = actions.preview_change(account=owner, cameras={porch.id: "premium"}, actor=owner)
    assert sorted(line["amount"] for line in result.lines) == [200, 650]  # April's 15/30
    renewal = Order.objects.get(account=owner, purpose="renewal")
    assert (renewal.period_start, renewal.amount) == (utc(2027, 4, 1), 798)
    assert owner.test_clock_at == utc(2027, 4, 16)
    assert_consistent()


def test_it_refuses_a_quote_older_than_ten_minutes(owner, subscribed, at):
    porch, _ = subscribed
    when = at(2027, 3, 11)
    quote = actions.preview_change(account=owner, cameras={porch.id: "premium"}, actor=owner).quote_id
    at(2027, 3, 11, 0, 10)
    fresh = actions.preview_change(account=owner, cameras={porch.id: "premium"}, actor=owner).quote_id
    at(2027, 3, 11, 0, 10, 1)
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, quote_id=quote, actor=owner)
    assert refused.value.code == "quote_stale"
    result = actions.change_plan(account=owner, quote_id=fresh, actor=owner)
    assert result.at == when + timedelta(minutes=10)  # executed at the quote's instant


def test_it_refuses_a_quote_for_another_target_or_account(owner, subscribed, at):
    porch, garden = subscribed
    at(2027, 3, 11)
    quote = actions.preview_change(account=owner, cameras={porch.id: "premium"}, actor=owner).quote_id
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, cameras={garden.id: "free"}, quote_id=quote, actor=owner)
    assert refused.value.code == "quote_stale"
    other = make_account("other@example.com")
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=other, quote_id=quote, actor=other)
    assert refused.value.code == "quote_stale"
    with pytest.raises(BillingRefusal) as refused:
        actions.cancel_subscription(account=owner, quote_id=quote, actor=owner)
    assert refused.value.code == "quote_stale"


def test_it_executes_a_quote_only_once(owner, subscribed, at):
    porch, _ = subscribed
    at(2027, 3, 11)
    quote = actions.preview_change(account=owner, cameras={porch.id: "premium"}, actor=owner).quote_id
    actions.change_plan(account=owner, quote_id=quote, actor=owner)
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, quote_id=quote, actor=owner)
    assert refused.value.code == "quote_stale"
    assert Order.objects.filter(account=owner, kind="charge").count() == 2


def test_it_refuses_a_camera_of_another_account(owner, subscribed, outsider):
    theirs = add_camera(outsider, "Theirs")
    with pytest.raises(BillingRefusal) as refused:
        actions.preview_change(account=owner, cameras={theirs.id: "plus"}, actor=owner)
    assert (refused.value.code, refused.value.status) == ("unknown_camera", 422)
    assert selectors.current_plans(outsider) == {theirs.id: "free"}


@pytest.mark.parametrize(("asked", "cycle", "code"), [
    ({"PORCH": "gold"}, None, "unknown_plan"),
    ({"PORCH": "plus"}, "weekly", "invalid_cycle"),
    (["PORCH"], None, "invalid_state"),
])
def test_it_refuses_bad_requests_with_a_422(owner, subscribed, asked, cycle, code):
    porch, _ = subscribed
    if isinstance(asked, dict):
        asked = {porch.id if k == "PORCH" else k: v for k, v in asked.items()}
    before = counts()
    with pytest.raises(BillingRefusal) as refused:
        actions.change_plan(account=owner, cameras=asked, cycle=cycle, actor=owner)
    assert (refused.value.code, refused.value.status) == (code, 422)
    assert counts() == before


def test_it_credits_a_removed_paid_camera_and_erases_it(owner, subscribed, at):
    porch, garden = subscribed
    clip = add_clip(garden, utc(2027, 3, 10))
    at(2027, 3, 16, 12)
    result = actions.remove_camera(account=owner, camera=garden, actor=owner)
    assert (result.credit_added, result.refund) == (200, 0)
    assert not Camera.objects.filter(pk=garden.pk).exists()
    assert not Clip.objects.filter(pk=clip.pk).exists()
    assert list(result.to_api()["subscription"]["cameras"]) == [porch.id]
    at(2027, 4, 1)
    assert Order.objects.get(account=owner, purpose="renewal").amount == 199  # 399 less 200
    assert_consistent()


def test_it_refunds_the_card_when_the_last_paid_camera_is_removed(owner, cameras, card, at):
    porch, _ = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    at(2027, 3, 16, 12)
    result = actions.remove_camera(account=owner, camera=porch, actor=owner)
    assert (result.refund, result.credit_added) == (200, 0)
    assert selectors.subscription_summary(owner)["status"] == "none"
    assert_consistent()


def test_it_uses_credit_before_the_card_on_an_upgrade(owner, subscribed, at):
    porch, garden = subscribed
    actions.issue_support_credit(request_key=uuid.uuid4().hex, account=owner, amount=100, reason="late delivery", actor=owner)
    at(2027, 3, 11)
    result = actions.change_plan(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
    assert (result.net, result.credit_used, result.charge_now) == (340, 100, 240)
    assert [(o.amount, o.credit_used) for o in result.orders] == [(240, 100)]
    assert selectors.credit_balance(owner) == 0
    assert_consistent()
