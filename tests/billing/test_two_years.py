"""Two years on a test clock (issue 10): monthly and annual renewals from month-end and
leap-day anchors, credit used before the card, a decline fixed by a new card, four failed
attempts and the lapse, and runs that were down catching up; every notice sent once to a
real SMTP server on loopback (aiosmtpd), none again after a second run or a second send.

The expected dates are written out by hand from POLICY.md section 3 (months clamp from the
anchor's day, never from the previous clamped date), not computed with the code under test.
"""

from __future__ import annotations

from collections import Counter

import pytest

from camcare.billing import actions, selectors
from camcare.billing.models import Order, SandboxCharge, Subscription
from camcare.notices import outbox
from camcare.notices.models import Notice
from tests.billing.helpers import assert_consistent
from tests.conftest import utc
from tests.notices.conftest import smtp  # noqa: F401 (fixture: a real SMTP server)

PLUS_MONTHLY, PLUS_ANNUAL = 399, 3999


def renewals(owner) -> list[Order]:
    return list(Order.objects.filter(account=owner, purpose="renewal").order_by("period_start", "id"))


def notice_kinds() -> dict[str, int]:
    return dict(Counter(Notice.objects.values_list("kind", flat=True)))


def deliver(inbox) -> list:
    """Send every notice that is due, as the sender job does, and return what arrived."""
    outbox.send_due()
    return inbox.messages


def assert_each_notice_sent_once(inbox) -> None:
    """Each Notice row went out, exactly one e-mail per row, and a second send adds none."""
    sent = len(deliver(inbox))
    assert sent == Notice.objects.count() == Notice.objects.filter(sent_at__isnull=False).count()
    assert outbox.send_due() == 0
    assert len(inbox.messages) == sent
    subjects = Counter(message["Subject"] for message in inbox.messages)
    order_ids = [key.split(":", 1)[1] for key in Notice.objects.filter(kind="receipt").values_list("key", flat=True)]
    assert len(order_ids) == len(set(order_ids))
    for order_id in order_ids:  # every receipt's Order ID is in exactly one e-mail
        assert sum(order_id in message.as_string() for message in inbox.messages) == 1, (order_id, subjects)


@pytest.fixture
def porch(owner, cameras, card):
    return cameras[0]


def test_monthly_from_jan_31_in_a_leap_year_renews_on_each_clamped_month_end(owner, porch, at, smtp):  # noqa: F811
    at(2028, 1, 31)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    at(2030, 1, 31, 12)  # one jump: the clock passes through every renewal on its way
    starts = [order.period_start for order in renewals(owner)]
    expected = [utc(2028, 2, 29), utc(2028, 3, 31), utc(2028, 4, 30), utc(2028, 5, 31), utc(2028, 6, 30),
                utc(2028, 7, 31), utc(2028, 8, 31), utc(2028, 9, 30), utc(2028, 10, 31), utc(2028, 11, 30),
                utc(2028, 12, 31), utc(2029, 1, 31), utc(2029, 2, 28), utc(2029, 3, 31), utc(2029, 4, 30),
                utc(2029, 5, 31), utc(2029, 6, 30), utc(2029, 7, 31), utc(2029, 8, 31), utc(2029, 9, 30),
                utc(2029, 10, 31), utc(2029, 11, 30), utc(2029, 12, 31), utc(2030, 1, 31)]
    assert starts == expected
    assert {(order.status, order.amount) for order in renewals(owner)} == {("succeeded", PLUS_MONTHLY)}
    assert SandboxCharge.objects.filter(succeeded=True).count() == 1 + len(expected)
    subscription = Subscription.objects.get(account=owner)
    assert (subscription.period_start, subscription.period_end) == (utc(2030, 1, 31), utc(2030, 2, 28))
    assert actions.run_billing(at=utc(2030, 1, 31, 12)) == 0  # a second run bills nothing
    assert_consistent()
    assert_each_notice_sent_once(smtp)
    assert len(smtp.messages) == 1 + len(expected)  # one receipt per charge


def test_the_same_two_years_in_monthly_steps_bill_exactly_what_one_jump_bills(owner, porch, at):
    at(2028, 1, 31)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    for year, month in [(2028 + (m // 12), m % 12 + 1) for m in range(1, 25)]:
        at(year, month, 28)  # before each month's end: some steps bill nothing, none bills twice
    at(2030, 1, 31, 12)
    starts = [order.period_start for order in renewals(owner)]
    assert len(starts) == len(set(starts)) == 24
    assert starts[0] == utc(2028, 2, 29) and starts[12] == utc(2029, 2, 28) and starts[-1] == utc(2030, 1, 31)
    assert_consistent()


def test_annual_from_feb_29_renews_on_feb_28_in_years_without_one(owner, porch, at, smtp):  # noqa: F811
    at(2028, 2, 29)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, cycle="annual", actor=owner)
    at(2030, 3, 1)
    assert [(order.period_start, order.amount) for order in renewals(owner)] == [
        (utc(2029, 2, 28), PLUS_ANNUAL), (utc(2030, 2, 28), PLUS_ANNUAL)]
    subscription = Subscription.objects.get(account=owner)
    assert subscription.period_end == utc(2031, 2, 28)
    assert_consistent()
    assert_each_notice_sent_once(smtp)


def test_credit_is_used_before_the_card_until_it_is_gone(owner, cameras, card, at):
    porch, garden = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    at(2027, 3, 16, 12)  # halfway through March (31 days): dropping garden credits half of 399
    actions.change_plan(account=owner, cameras={garden.id: "free"}, actor=owner)
    credit = selectors.credit_balance(owner)
    assert 0 < credit < PLUS_MONTHLY
    at(2027, 5, 2)
    april, may = renewals(owner)
    assert (april.credit_used, april.amount) == (credit, PLUS_MONTHLY - credit)
    assert (may.credit_used, may.amount) == (0, PLUS_MONTHLY)
    assert selectors.credit_balance(owner) == 0
    assert_consistent()


def test_a_decline_fixed_by_saving_a_card_pays_the_bill_at_once_and_renewals_go_on(owner, porch, card, at, smtp):  # noqa: F811
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    at(2027, 4, 1, 6)
    assert Subscription.objects.get(account=owner).status == "past_due"
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    subscription = Subscription.objects.get(account=owner)
    assert (subscription.status, subscription.failed_attempts, subscription.next_retry_at) == ("active", 0, None)
    at(2029, 3, 1, 6)
    paid = [order for order in renewals(owner) if order.status == "succeeded"]
    assert [order.period_start for order in paid][-1] == utc(2029, 3, 1)
    assert sum(order.amount for order in paid) == PLUS_MONTHLY * 24  # April's bill once, then 23 more
    assert [order.status for order in renewals(owner)].count("failed") == 1
    assert_consistent()
    assert_each_notice_sent_once(smtp)
    assert notice_kinds() == {"receipt": 1 + 24, "payment_failed": 1}


def test_four_declines_lapse_the_account_and_later_periods_bill_nothing(owner, porch, card, at, smtp):  # noqa: F811
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    actions.save_payment_method(account=owner, token="tok_insufficientFunds", actor=owner)
    at(2029, 3, 1)
    attempts = renewals(owner)
    assert [order.created_at.date().isoformat() for order in attempts] == [
        "2027-04-01", "2027-04-02", "2027-04-04", "2027-04-08"]
    assert {order.status for order in attempts} == {"failed"}
    assert selectors.subscription_or_none(owner).status == "none"
    assert set(selectors.current_plans(owner).values()) == {"free"}
    assert selectors.receivable_balance(owner) == 0
    assert SandboxCharge.objects.filter(succeeded=True).count() == 1  # the first period only
    assert_consistent()
    assert_each_notice_sent_once(smtp)
    assert notice_kinds() == {"receipt": 1, "payment_failed": 4, "lapsed": 1}
    assert actions.run_billing(at=utc(2029, 3, 2)) == 0
    assert notice_kinds() == {"receipt": 1, "payment_failed": 4, "lapsed": 1}


def test_a_job_down_for_five_days_bills_the_period_at_its_own_start(owner, porch, card, at):
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    owner.test_clock_at = None  # from here the billing job, not the clock, runs what is due
    owner.save(update_fields=["test_clock_at"])
    assert actions.run_billing(at=utc(2027, 4, 6)) == 1
    (april,) = renewals(owner)
    assert (april.period_start, april.amount, april.status) == (utc(2027, 4, 1), PLUS_MONTHLY, "succeeded")
    assert Subscription.objects.get(account=owner).period_end == utc(2027, 5, 1)
    assert actions.run_billing(at=utc(2027, 4, 6)) == 0
    assert_consistent()


def test_a_job_down_for_two_months_bills_both_months_each_as_its_own_order(owner, porch, card, at):
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)
    owner.test_clock_at = None
    owner.save(update_fields=["test_clock_at"])
    assert actions.run_billing(at=utc(2027, 5, 20)) == 2
    assert [(order.period_start, order.amount) for order in renewals(owner)] == [
        (utc(2027, 4, 1), PLUS_MONTHLY), (utc(2027, 5, 1), PLUS_MONTHLY)]
    assert len({order.order_id for order in renewals(owner)}) == 2
    assert actions.run_billing(at=utc(2027, 5, 20)) == 0
    assert_consistent()
