"""The billing run by POLICY.md section 5 (revised): four attempts per bill, never two in a
row from a late run, the owner's own attempt outside the count, and a run that was down
billing every period that fell due, each as its own order."""

import pytest

from camcare.billing import actions, selectors
from camcare.billing.models import Order, SandboxCharge, Subscription
from tests.billing.helpers import assert_consistent
from tests.conftest import utc


@pytest.fixture
def declined(owner, subscribed):
    """Both cameras on plus from Mar 1 (798 paid); the card now declines."""
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    return subscribed


def attempts(owner) -> list[Order]:
    return list(Order.objects.filter(account=owner, purpose="renewal").order_by("id"))


def test_it_makes_one_attempt_when_the_run_is_late_past_several_retry_dates(owner, declined):
    # The job was down from before Apr 1 until Apr 9: the renewal and all three retry dates
    # passed. One run makes one attempt; the next waits a day after it.
    assert actions.run_billing(at=utc(2027, 4, 9)) == 1
    assert [o.status for o in attempts(owner)] == ["failed"]
    subscription = Subscription.objects.get(account=owner)
    assert (subscription.status, subscription.failed_attempts) == ("past_due", 1)
    assert subscription.next_retry_at == utc(2027, 4, 10)
    assert actions.run_billing(at=utc(2027, 4, 9, 23)) == 0  # not sooner than a day after


def test_it_makes_four_attempts_before_it_lapses_however_late_the_runs(owner, declined):
    for day in (9, 10, 11):
        actions.run_billing(at=utc(2027, 4, day))
        assert Subscription.objects.get(account=owner).status == "past_due"
    actions.run_billing(at=utc(2027, 4, 12))
    assert len(attempts(owner)) == 4
    assert Subscription.objects.get(account=owner).status == "none"  # lapsed after the fourth
    assert set(selectors.current_plans(owner).values()) == {"free"}
    assert selectors.receivable_balance(owner) == 0  # the unpaid period is voided
    assert_consistent()


def test_it_does_not_count_the_attempt_made_when_the_owner_saves_a_card(owner, declined, at):
    at(2027, 4, 1)  # attempt 1 fails
    at(2027, 4, 2)  # attempt 2 fails
    subscription = Subscription.objects.get(account=owner)
    before = (subscription.failed_attempts, subscription.next_retry_at)
    actions.save_payment_method(account=owner, token="tok_insufficientFunds", actor=owner)
    subscription.refresh_from_db()
    assert (subscription.failed_attempts, subscription.next_retry_at) == before == (2, utc(2027, 4, 4))
    owner_attempt = attempts(owner)[-1]
    assert (owner_attempt.status, owner_attempt.amount) == ("failed", 798)
    at(2027, 4, 4)
    at(2027, 4, 8)
    assert Subscription.objects.get(account=owner).status == "none"  # after four counted attempts
    assert len(attempts(owner)) == 5  # four scheduled plus the owner's own
    assert_consistent()


def test_it_pays_the_bill_when_the_owner_saves_a_good_card_without_a_second_charge(owner, declined, at):
    at(2027, 4, 1)
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)  # saved twice
    assert Subscription.objects.get(account=owner).status == "active"
    assert SandboxCharge.objects.filter(succeeded=True).count() == 2  # Mar 1 and the paid bill
    assert_consistent()


def test_it_bills_every_period_that_fell_due_while_the_job_was_down(owner, subscribed):
    # Paid Mar 1; the job next runs on May 20: April and May are each billed, in order.
    assert actions.run_billing(at=utc(2027, 5, 20)) == 2
    renewals = attempts(owner)
    assert [(o.period_start, o.amount, o.status) for o in renewals] == [
        (utc(2027, 4, 1), 798, "succeeded"), (utc(2027, 5, 1), 798, "succeeded")]
    assert len({o.gateway_key for o in renewals}) == 2
    subscription = Subscription.objects.get(account=owner)
    assert (subscription.period_start, subscription.period_end) == (utc(2027, 5, 1), utc(2027, 6, 1))
    assert actions.run_billing(at=utc(2027, 5, 20)) == 0  # a second run bills nothing
    assert_consistent()


def test_it_bills_five_missed_days_once(owner, subscribed):
    assert actions.run_billing(at=utc(2027, 4, 6)) == 1
    assert [(o.period_start, o.amount) for o in attempts(owner)] == [(utc(2027, 4, 1), 798)]
    assert actions.run_billing(at=utc(2027, 4, 6)) == 0
