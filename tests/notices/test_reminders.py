"""The daily sweep of reminders (POLICY.md section 15): 30 days before an annual renewal,
14 days before a bill when the saved card expires before it. Due exactly at the boundary,
not a second before; made once per subscription and bill date, whatever the sweeps."""

from datetime import timedelta

import pytest

from camcare.billing import actions, selectors
from camcare.billing.models import Subscription
from camcare.notices import outbox
from camcare.notices.models import Notice
from tests.conftest import utc
from tests.notices.mail import assert_links_absolute, buttons, parts

SECOND = timedelta(seconds=1)


def subscribe(owner, cameras, capture, cycle="monthly"):
    porch, garden = cameras
    with capture(execute=True):  # its receipt goes out (to the console: before the smtp fixture)
        actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, cycle=cycle, actor=owner)
    return Subscription.objects.get(account=owner)


def sweep(capture, at) -> int:
    with capture(execute=True):
        return actions.send_due_reminders(at=at)


@pytest.fixture
def annual(owner, cameras, card, at, django_capture_on_commit_callbacks):
    """Both cameras on plus, annual, from 2027-03-01: it renews on 2028-03-01 (7998)."""
    at(2027, 3, 1)
    return subscribe(owner, cameras, django_capture_on_commit_callbacks, cycle="annual")


@pytest.fixture
def monthly(owner, cameras, at, django_capture_on_commit_callbacks):
    """Both cameras on plus, monthly, from 2027-03-01, paid with a card that expires at the
    end of March 2027: the Apr 1 bill comes after it."""
    at(2027, 3, 1)
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner, exp_month=3, exp_year=2027)
    return subscribe(owner, cameras, django_capture_on_commit_callbacks)


# ---------------------------------------------------------------- annual renewal


def test_the_annual_reminder_is_due_30_days_before_and_not_a_second_sooner(owner, annual, smtp, settings,
                                                                          django_capture_on_commit_callbacks):
    assert annual.period_end == utc(2028, 3, 1)
    due = utc(2028, 1, 31)  # 2028-03-01 less 30 days (February 2028 has 29)
    assert sweep(django_capture_on_commit_callbacks, due - SECOND) == 0
    assert sweep(django_capture_on_commit_callbacks, due) == 1
    [message] = smtp.messages
    assert message["Subject"] == "camcare: your annual plan renews on Wednesday 1 March 2028"
    body = parts(message)
    for part in body.values():
        assert "Wednesday 1 March 2028 at 00:00 UTC" in part
        assert "$79.98" in part and "Visa ending in 4242" in part
    assert buttons(body["text/html"]) == [(f"{settings.SITE_URL}/cancel/", "Cancel my plan")]
    assert f"Cancel my plan (you confirm on that page first): {settings.SITE_URL}/cancel/" in body["text/plain"]
    assert_links_absolute(message)
    assert Notice.objects.get(kind="annual_renewal").key == f"annual_renewal:{annual.pk}:2028-03-01T00:00:00Z"


def test_a_second_sweep_makes_no_second_annual_reminder(owner, annual, smtp, django_capture_on_commit_callbacks):
    assert sweep(django_capture_on_commit_callbacks, utc(2028, 1, 31)) == 1
    assert sweep(django_capture_on_commit_callbacks, utc(2028, 1, 31)) == 0
    assert sweep(django_capture_on_commit_callbacks, utc(2028, 2, 20)) == 0  # still before the renewal
    assert outbox.send_due() == 0
    assert len(smtp.messages) == 1


def test_a_late_sweep_still_sends_it_once_and_none_at_the_renewal(owner, annual, smtp,
                                                                  django_capture_on_commit_callbacks):
    assert sweep(django_capture_on_commit_callbacks, utc(2028, 3, 1)) == 0  # the renewal itself: too late
    assert sweep(django_capture_on_commit_callbacks, utc(2028, 2, 29, 23, 59, 59)) == 1


def test_the_annual_reminder_bills_credit_first_at_todays_plans(owner, cameras, annual, at, smtp,
                                                                django_capture_on_commit_callbacks):
    porch, garden = cameras
    at(2027, 9, 1)
    actions.change_plan(account=owner, cameras={garden.id: "free"}, actor=owner)  # credit for garden's line
    credit = selectors.credit_balance(owner)
    assert 0 < credit < 3999
    assert sweep(django_capture_on_commit_callbacks, utc(2028, 1, 31)) == 1
    text = parts(smtp.of_kind("renews")[0])["text/plain"]
    assert "A year of your plan: $39.99" in text
    assert f"Paid from your credit: ${credit / 100:.2f}" in text
    assert f"To be charged to your card: ${(3999 - credit) / 100:.2f}" in text


def test_no_annual_reminder_for_a_switch_to_monthly_or_a_monthly_plan(owner, cameras, annual, smtp,
                                                                      django_capture_on_commit_callbacks):
    actions.change_plan(account=owner, cycle="monthly", actor=owner)  # scheduled at the period end
    assert Subscription.objects.get(account=owner).scheduled_cycle == "monthly"
    assert sweep(django_capture_on_commit_callbacks, utc(2028, 2, 1)) == 0
    actions.drop_scheduled_change(account=owner, actor=owner)
    assert sweep(django_capture_on_commit_callbacks, utc(2028, 2, 1)) == 1


def test_no_annual_reminder_for_a_monthly_plan(owner, monthly, smtp, django_capture_on_commit_callbacks):
    assert sweep(django_capture_on_commit_callbacks, utc(2027, 3, 31)) == 1  # the card's, not an annual one
    assert Notice.objects.filter(kind="annual_renewal").count() == 0


# ---------------------------------------------------------------- card expiring


def test_the_card_reminder_is_due_14_days_before_the_bill_and_not_a_second_sooner(
        owner, monthly, smtp, settings, django_capture_on_commit_callbacks):
    due = utc(2027, 3, 18)  # the Apr 1 bill less 14 days
    assert sweep(django_capture_on_commit_callbacks, due - SECOND) == 0
    assert sweep(django_capture_on_commit_callbacks, due) == 1
    [message] = smtp.messages
    assert message["Subject"] == "camcare: your card expires before your next bill"
    body = parts(message)
    for part in body.values():
        assert "Visa ending in 4242" in part and "March 2027" in part and "03/2027" in part
        assert "Thursday 1 April 2027 at 00:00 UTC" in part and "$7.98" in part
    assert buttons(body["text/html"]) == [(f"{settings.SITE_URL}/card/", "Update your card")]
    assert_links_absolute(message)
    assert Notice.objects.get(kind="card_expiring").key == f"card_expiring:{monthly.pk}:2027-04-01T00:00:00Z"
    assert sweep(django_capture_on_commit_callbacks, due + timedelta(days=3)) == 0  # once
    assert len(smtp.messages) == 1


def test_a_card_valid_through_the_bill_date_gets_no_reminder(owner, monthly, smtp,
                                                             django_capture_on_commit_callbacks):
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner, exp_month=4, exp_year=2027)
    assert sweep(django_capture_on_commit_callbacks, utc(2027, 3, 25)) == 0  # valid until Apr 30 23:59:59


def test_a_card_without_an_expiry_gets_no_reminder(owner, monthly, smtp, django_capture_on_commit_callbacks):
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    assert owner.payment_method.exp_month is None
    assert sweep(django_capture_on_commit_callbacks, utc(2027, 3, 25)) == 0
    assert smtp.messages == []


def test_each_bill_has_its_own_card_reminder(owner, monthly, at, smtp, django_capture_on_commit_callbacks):
    assert sweep(django_capture_on_commit_callbacks, utc(2027, 3, 20)) == 1
    at(2027, 4, 1)  # renewed with the card (the sandbox does not check expiry)
    assert sweep(django_capture_on_commit_callbacks, utc(2027, 4, 17) - SECOND) == 0  # May 1 less 14 days
    assert sweep(django_capture_on_commit_callbacks, utc(2027, 4, 17)) == 1
    assert Notice.objects.filter(kind="card_expiring").count() == 2


def test_a_sweep_that_finds_everything_done_reads_a_few_light_queries(owner, annual, smtp,
                                                                      django_capture_on_commit_callbacks,
                                                                      django_assert_max_num_queries):
    assert sweep(django_capture_on_commit_callbacks, utc(2028, 2, 10)) == 1
    with django_assert_max_num_queries(6):  # per kind: a page of candidates, their keys, the empty next page
        assert actions.send_due_reminders(at=utc(2028, 2, 11)) == 0
