"""The cancel page's second choice, the stop at the period end, and home's scheduled stop."""

from django.urls import reverse

from camcare.billing.models import Order, Subscription
from tests.conftest import set_clock, utc
from tests.portal.conftest import change, text


def test_the_cancel_page_offers_both_choices(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    set_clock(owner, utc(2027, 3, 16, 12))
    body = text(portal.get(reverse("portal:cancel")))
    assert "Keep your plan until" in body and "then Free" in body
    assert "Nothing is refunded" in body
    assert "Cancel now: $4.00 back to your card" in body


def test_it_stops_at_the_period_end_and_home_keeps_the_plan(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    orders = Order.objects.count()
    response = portal.post(reverse("portal:stop"))
    assert response["Location"] == reverse("portal:home")
    assert Subscription.objects.get(account=owner).scheduled_stop
    assert Order.objects.count() == orders
    home = text(portal.get(reverse("portal:home")))
    assert "every camera then moves to Free, nothing is billed" in home
    assert "Keep my plan" in home
    portal.post(reverse("portal:drop_scheduled_change"))
    assert not Subscription.objects.get(account=owner).scheduled_stop
    assert "every camera then moves to Free" not in text(portal.get(reverse("portal:home")))


def test_it_refuses_a_stop_with_no_paid_plan(portal, owner, cams):
    response = portal.post(reverse("portal:stop"))
    assert response["Location"] == reverse("portal:home")
    assert "no paid plan to stop" in text(portal.get(reverse("portal:home")))
