"""The preview explains itself (issue 8): one line per changed line with plan, cycle, span and
amount in the words of Stripe's and Apple's upcoming-invoice pages, what each camera's video
history becomes, when the change takes effect; and what the pages after it say."""

import re
from datetime import timedelta

from django.urls import reverse

from camcare.billing import actions
from camcare.billing.models import Order
from tests.conftest import set_clock, utc
from tests.portal.conftest import change, confirm, key, preview, text


def preview_page(portal, quote_id: str):
    return portal.get(reverse("portal:preview", args=[quote_id]))


def test_it_names_both_cycles_of_a_switch_to_annual(portal, owner, cams, visa):
    change(portal, cams, "plus", "free")
    set_clock(owner, utc(2027, 3, 11))
    page = text(preview_page(portal, preview(portal, cams, "plus", "free", cycle="annual")))
    assert "Unused time on Plus (monthly) after 11 Mar 2027 11 Mar 2027 – 1 Apr 2027 (21 of 31 days) Porch −$2.70" in page
    assert "Plus (annual) 11 Mar 2027 – 11 Mar 2028 (a full year) Porch $39.99" in page
    assert "You switch to annual billing now" in page
    assert "Charged to your card now $37.29" in page  # POLICY.md section 11: 3999 - 270


def test_it_charges_a_new_subscription_for_its_full_first_period(portal, owner, cams, visa):
    page = text(preview_page(portal, preview(portal, cams, "plus", "free")))
    assert "A new subscription starts now, 1 Mar 2027, billed monthly: its first month runs to 1 Apr 2027 and is paid now in full." in page
    assert "Plus (monthly) 1 Mar 2027 – 1 Apr 2027 (a full month) Porch $3.99" in page
    assert "rest of the period" not in page and "Remaining time" not in page


def test_it_says_a_camera_moved_onto_premium_keeps_thirty_days(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    set_clock(owner, utc(2027, 3, 11))
    page = text(preview_page(portal, preview(portal, cams, "premium", "plus")))
    assert "Porch: Plus → Premium. It keeps 30 days of video history instead of 14, from now on." in page
    assert "Remaining time on Premium (monthly) after 11 Mar 2027 11 Mar 2027 – 1 Apr 2027 (21 of 31 days) Porch $8.80" in page
    assert "Garden:" not in page.split("What For Amount")[0]  # unchanged cameras are not listed


def test_it_shows_the_span_of_a_change_made_at_noon(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    set_clock(owner, utc(2027, 3, 16, 12))
    page = text(preview_page(portal, preview(portal, cams, "plus", "free")))
    assert ("Unused time on Plus (monthly) after 16 Mar 2027, 12:00 UTC "
            "16 Mar 2027, 12:00 UTC – 1 Apr 2027 (15.5 of 31 days) Garden −$2.00") in page


def test_it_schedules_a_switch_to_monthly_and_says_when(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus", cycle="annual")
    quote_id = preview(portal, cams, "plus", "plus", cycle="monthly")
    page = text(preview_page(portal, quote_id))
    assert "Your billing switches to monthly on 1 Mar 2028, at the end of the paid year" in page
    confirm(portal, quote_id)
    done = text(portal.get(reverse("portal:change_done", args=[quote_id])))
    assert "Your switch to monthly billing is scheduled" in done
    assert "Your billing switches to monthly on 1 Mar 2028, at the end of the paid year." in done
    assert "The change is in effect now" not in done


def test_it_says_a_stale_preview_cannot_be_confirmed_and_offers_it_again(portal, owner, cams, visa):
    quote_id = preview(portal, cams, "plus", "premium")
    set_clock(owner, utc(2027, 3, 1) + timedelta(minutes=11))
    response = preview_page(portal, quote_id)
    body, page = response.content.decode(), text(response)
    assert "This preview is out of date" in page and "Nothing was changed" in page
    assert 'data-testid="confirm"' not in body and "Confirm and pay" not in page
    again = re.search(r'<form method="post" action="/change/".*?</form>', body, re.S)[0]
    assert f'name="camera_{cams.porch.id}" value="plus"' in again and 'name="cycle" value="monthly"' in again
    fresh = portal.post(reverse("portal:change"), {**cams.plans("plus", "premium"), "cycle": "monthly"})
    assert "This preview is out of date" not in text(portal.get(fresh["Location"]))


def test_it_says_a_preview_is_stale_after_another_change(portal, owner, cams, visa):
    shown = preview(portal, cams, "plus", "plus")
    change(portal, cams, "premium", "free")
    assert "This preview is out of date" in text(preview_page(portal, shown))


def test_it_offers_to_add_a_card_instead_of_confirm_and_pay(portal, owner, cams):
    quote_id = preview(portal, cams, "plus", "plus")
    response = preview_page(portal, quote_id)
    body = response.content.decode()
    assert "Confirm and pay" not in body
    card_url = reverse("portal:card") + "?next=" + reverse("portal:preview", args=[quote_id]).replace("/", "%2F")
    assert f'href="{card_url}"' in body
    assert "Add a card to pay $7.98" in text(response)


def test_it_comes_back_to_the_preview_after_saving_a_card(portal, owner, cams):
    quote_id = preview(portal, cams, "plus", "plus")
    back = reverse("portal:preview", args=[quote_id])
    form = {"number": "4242 4242 4242 4242", "expiry": "12/40", "cvc": "123", "idempotency_key": key(), "next": back}
    response = portal.post(reverse("portal:card") + "?next=" + back, form)
    assert response["Location"] == back
    assert "Confirm and pay $7.98" in text(preview_page(portal, quote_id))


def test_it_does_not_promise_a_next_bill_after_a_cancel(portal, owner, staff, cams, visa):
    actions.issue_support_credit(account=owner, amount=500, reason="goodwill", actor=staff, request_key=key())
    change(portal, cams, "plus", "plus")  # 500 from credit, 298 by card
    set_clock(owner, utc(2027, 3, 16, 12))
    page = portal.get(reverse("portal:cancel"))
    quote_id = re.search(r'name="quote_id" value="(quo_[0-9a-z]+)"', page.content.decode())[1]
    portal.post(reverse("portal:cancel"), {"quote_id": quote_id, "idempotency_key": key()})
    done = text(portal.get(reverse("portal:cancel_done", args=[quote_id])))
    assert "$2.98 refunded to your card" in done  # 2 x 200 credited: the card's 298 back first
    assert "$1.02 added to your credit balance, kept on your account: it pays first for a plan you choose later." in done
    assert "next bill" not in done.split("Your cameras now")[0].lower()
    home = text(portal.get(reverse("portal:home")))
    assert "Your credit stays on your account: it pays first for a plan you choose." in home
    assert "used first on your next bill" not in home


def test_it_links_the_credit_a_cancel_returns_to_its_credit_order(portal, owner, staff, cams, visa):
    actions.issue_support_credit(account=owner, amount=500, reason="goodwill", actor=staff, request_key=key())
    change(portal, cams, "plus", "plus")
    set_clock(owner, utc(2027, 3, 16, 12))
    actions.cancel_subscription(account=owner, actor=owner)
    credit = Order.objects.get(account=owner, kind="credit", purpose="change")
    refund = Order.objects.get(account=owner, kind="refund")
    body = portal.get(reverse("portal:history")).content.decode()
    row = next(row for row in re.findall(r'<tr data-testid="credit-entry">.*?</tr>', body, re.S) if "+$1.02" in row)
    assert credit.order_id in row and refund.order_id not in row


def test_it_says_a_camera_joining_a_premium_line_costs_nothing(portal, owner, cams, visa):
    change(portal, cams, "premium", "free")
    page = text(preview_page(portal, preview(portal, cams, "premium", "premium")))
    assert "The change takes effect now, 1 Mar 2027, and costs nothing: no line of your bill changes." in page
    assert "Garden: Free → Premium. It keeps 30 days of video history instead of 2, from now on." in page
