"""The free trial in the portal (POLICY.md section 12): offered first (ticked) to an account
that may have one, its preview in words ("Free until <date>, then <amount> per <cycle>"),
confirmed without a card, the home page's banner, and a paid subscription when unticked."""

import re

from django.urls import reverse

from camcare.billing import actions, selectors
from camcare.billing.models import Order
from tests.conftest import utc
from tests.portal.conftest import key, text


def trial_preview(portal, cams, first="plus", second="plus", cycle="monthly") -> str:
    response = portal.post(reverse("portal:change"), {**cams.plans(first, second), "cycle": cycle, "trial": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"].rstrip("/").rsplit("/", 1)[-1]


def confirm(portal, quote_id: str):
    return portal.post(reverse("portal:preview", args=[quote_id]), {"quote_id": quote_id, "idempotency_key": key()})


def test_the_form_offers_the_trial_first_and_ticked(portal, owner, cams):
    body = portal.get(reverse("portal:change")).content.decode()
    assert re.search(r'<input type="checkbox" name="trial"[^>]*checked', body)
    assert "Start with a free 30-day trial" in text(portal.get(reverse("portal:change")))


def test_it_is_not_offered_to_an_account_that_had_one(portal, owner, cams):
    confirm(portal, trial_preview(portal, cams))
    actions.cancel_subscription(account=owner, actor=owner)
    body = portal.get(reverse("portal:change")).content.decode()
    assert 'name="trial"' not in body


def test_the_worked_example_in_the_portal(portal, owner, cams):
    quote_id = trial_preview(portal, cams)
    page = text(portal.get(reverse("portal:preview", args=[quote_id])))
    assert "Free until 31 Mar 2027, then $7.98 per month." in page
    assert "no card is needed to start" in page
    assert "Plus (monthly): free during your trial" in page
    response = confirm(portal, quote_id)
    assert response.status_code == 302
    assert Order.objects.count() == 0
    home = text(portal.get(reverse("portal:home")))
    assert "Free trial until 31 Mar 2027" in home
    assert "Then $7.98 per month. No card is saved yet" in home
    assert "Status Free trial" in home

    owner.test_clock_at = utc(2027, 3, 11)
    owner.save(update_fields=["test_clock_at"])
    form = text(portal.get(reverse("portal:change")))
    assert "You are in your free trial until 31 Mar 2027: changes now cost nothing" in form
    response = portal.post(reverse("portal:change"), {**cams.plans("premium", "premium"), "cycle": "monthly"})
    upgrade = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    page = text(portal.get(reverse("portal:preview", args=[upgrade])))
    assert "Free until 31 Mar 2027, then $12.99 per month." in page
    assert "costs nothing during your free trial" in page
    confirm(portal, upgrade)
    assert Order.objects.count() == 0
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    home = text(portal.get(reverse("portal:home")))
    assert "Then $12.99 per month, charged to your Visa ending in 4242 on 31 Mar 2027." in home

    actions.advance_test_clock(account=owner, to=utc(2027, 3, 31), actor=owner)
    (first,) = Order.objects.all()
    assert (first.amount, first.status) == (1299, "succeeded")
    assert "Free trial until" not in text(portal.get(reverse("portal:home")))


def test_unticked_it_is_paid_at_once(portal, owner, cams, visa):
    response = portal.post(reverse("portal:change"), {**cams.plans("plus", "free"), "cycle": "monthly"})
    quote_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    page = text(portal.get(reverse("portal:preview", args=[quote_id])))
    assert "Free until" not in page and "Confirm and pay $3.99" in page
    confirm(portal, quote_id)
    assert selectors.subscription_summary(owner)["status"] == "active"


def test_a_trial_refused_says_why_and_changes_nothing(portal, owner, cams, visa):
    actions.change_plan(account=owner, cameras={cams.porch.id: "plus"}, actor=owner)
    actions.cancel_subscription(account=owner, actor=owner)
    response = portal.post(reverse("portal:change"), {**cams.plans("plus", "plus"), "cycle": "monthly", "trial": "on"})
    # The box is not offered any more, so a forged "trial" is ignored: a paid preview.
    quote_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
    assert "Free until" not in text(portal.get(reverse("portal:preview", args=[quote_id])))


def test_a_serial_that_had_a_trial_is_refused_with_a_reference(portal, owner, cams):
    from camcare.billing.models import TrialUse

    TrialUse.objects.create(kind="serial", key=cams.garden.serial, at=utc(2027, 1, 1), trial=True)
    response = portal.post(reverse("portal:change"), {**cams.plans("plus", "plus"), "cycle": "monthly", "trial": "on"})
    assert response.status_code == 409
    page = text(response)
    assert "The free trial is for a first plan only" in page and "ERR-" in page
    assert selectors.subscription_summary(owner)["status"] == "none"
