"""Change plan and cancel in the portal, with the worked examples of POLICY.md section 11
(monthly anchor 2027-03-01, March has 31 days): exact cents on every page."""

import re

from django.urls import reverse

from camcare.billing import actions
from camcare.billing.models import Order, Quote
from camcare.cameras.models import Camera
from tests.conftest import set_clock, utc
from tests.portal.conftest import change, confirm, key, preview, text


def plans(owner) -> dict[str, str]:
    return dict(Camera.objects.filter(account=owner).values_list("name", "plan"))


def test_it_previews_every_line_and_the_next_bill(portal, owner, cams, visa):
    quote_id = preview(portal, cams, "plus", "plus")
    page = text(portal.get(reverse("portal:preview", args=[quote_id])))
    assert "Plus (monthly) 1 Mar 2027 – 1 Apr 2027 (a full month) Porch $3.99" in page
    assert "Plus (monthly) 1 Mar 2027 – 1 Apr 2027 (a full month) Garden $3.99" in page
    assert "Charged to your card now $7.98" in page
    assert "Next bill $7.98 on 1 Apr 2027" in page
    assert "Confirm and pay $7.98" in page
    assert "Visa ending in 4242" in page
    assert not Order.objects.filter(account=owner).exists()  # a preview moves no money


def test_it_applies_exactly_the_previewed_quote_and_shows_its_order_id(portal, owner, cams, visa):
    quote_id = change(portal, cams, "plus", "plus")
    order = Order.objects.get(account=owner, quote_id=quote_id)
    assert (order.kind, order.status, order.amount) == ("charge", "succeeded", 798)
    done = text(portal.get(reverse("portal:change_done", args=[quote_id])))
    assert f"$7.98 charged to your card. Order ID {order.order_id}" in done
    assert plans(owner) == {"Porch": "plus", "Garden": "plus"}


def test_it_charges_an_upgrade_once_when_the_form_is_sent_twice(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    set_clock(owner, utc(2027, 3, 11))
    quote_id = preview(portal, cams, "premium", "premium")
    idem = key()
    first, second = confirm(portal, quote_id, idem), confirm(portal, quote_id, idem)
    done_url = reverse("portal:change_done", args=[quote_id])
    assert first["Location"] == second["Location"] == done_url
    charge = Order.objects.get(account=owner, quote_id=quote_id, kind="charge")
    assert charge.amount == 340
    history = text(portal.get(reverse("portal:history")))
    assert f"{charge.order_id}" in history and "$3.40" in history


def test_it_shows_the_first_result_when_an_executed_quote_is_confirmed_again(portal, owner, cams, visa):
    quote_id = change(portal, cams, "plus", "plus")
    again = confirm(portal, quote_id)  # another form (another key) for the same quote
    assert again["Location"] == reverse("portal:change_done", args=[quote_id])
    assert Order.objects.filter(account=owner, kind="charge").count() == 1


def test_it_credits_a_downgrade_and_shows_the_credit(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    set_clock(owner, utc(2027, 3, 11))
    change(portal, cams, "premium", "premium")
    set_clock(owner, utc(2027, 3, 21))
    quote_id = preview(portal, cams, "plus", "free")
    page = text(portal.get(reverse("portal:preview", args=[quote_id])))
    assert "Unused time on Premium (monthly) after 21 Mar 2027 21 Mar 2027 – 1 Apr 2027 (11 of 31 days) Porch, Garden −$4.61" in page
    assert "Remaining time on Plus (monthly) after 21 Mar 2027 21 Mar 2027 – 1 Apr 2027 (11 of 31 days) Porch $1.42" in page
    assert "Added to your credit balance $3.19" in page
    assert "Charged to your card now $0.00" in page
    confirm(portal, quote_id)
    credit = Order.objects.get(account=owner, quote_id=quote_id, kind="credit")
    assert credit.amount == 319
    done = text(portal.get(reverse("portal:change_done", args=[quote_id])))
    assert f"$3.19 added to your credit balance, used first on your next bill. Order ID {credit.order_id}" in done
    home = text(portal.get(reverse("portal:home")))
    assert "Credit balance $3.19" in home
    assert "Next bill $0.80 on 1 Apr 2027" in home  # plus 399 less the 319 credit


def test_it_shows_a_declined_card_and_changes_nothing(portal, owner, cams):
    actions.save_payment_method(account=owner, token="tok_insufficientFunds", actor=owner)
    quote_id = preview(portal, cams, "plus", "plus")
    response = confirm(portal, quote_id)
    assert response.status_code == 402
    page = text(response)
    assert "Your card was declined (insufficient funds). Nothing was changed." in page
    assert re.search(r"Reference: ERR-[0-9A-Z]{10}", page)
    assert plans(owner) == {"Porch": "free", "Garden": "free"}
    assert list(Order.objects.filter(account=owner).values_list("status", flat=True)) == ["failed"]


def test_it_lets_the_same_quote_go_through_after_a_new_card(portal, owner, cams):
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    quote_id = preview(portal, cams, "plus", "plus")
    idem = key()
    assert "Your card was declined. Nothing was changed." in text(confirm(portal, quote_id, idem))
    actions.save_payment_method(account=owner, token="tok_visa", actor=owner)
    assert confirm(portal, quote_id, idem)["Location"] == reverse("portal:change_done", args=[quote_id])
    assert Order.objects.get(account=owner, status="succeeded").amount == 798


def test_it_asks_for_a_card_when_the_change_needs_a_payment(portal, owner, cams):
    quote_id = preview(portal, cams, "plus", "free")
    response = confirm(portal, quote_id)
    assert response.status_code == 402
    assert "Add a payment card first" in text(response)
    assert not Order.objects.filter(account=owner).exists()


def test_it_says_when_the_chosen_state_is_the_current_one(portal, owner, cams):
    response = portal.post(reverse("portal:change"), {**cams.plans("free", "free"), "cycle": "monthly"})
    assert response.status_code == 200
    assert "That is already your plan" in text(response)
    assert not Quote.objects.filter(account=owner, executed_at__isnull=False).exists()


def test_it_refuses_an_unknown_plan_in_the_form(portal, owner, cams):
    response = portal.post(reverse("portal:change"), {**cams.plans("gold", "plus"), "cycle": "monthly"})
    assert response.status_code == 422
    assert not Quote.objects.filter(account=owner).exists()


def test_it_advises_premium_for_four_plus_cameras(portal, owner, cams, visa):
    from camcare.cameras.services import register_camera

    extra = [register_camera(owner, f"Cam {n}", "KC200", f"sn-portal-extra-{n}")[0] for n in (3, 4)]
    form = {**cams.plans("plus", "plus"), **{f"camera_{cam.id}": "plus" for cam in extra}, "cycle": "monthly"}
    quote_id = portal.post(reverse("portal:change"), form)["Location"].rstrip("/").rsplit("/", 1)[-1]
    page = text(portal.get(reverse("portal:preview", args=[quote_id])))
    assert "Put 4 cameras on Premium (same or longer video history): $12.99 a month instead of $15.96, you save $2.97 a month ($35.64 a year)." in page
    assert "Pay yearly: $159.96 a year instead of 12 × $15.96 = $191.52, you save $31.56 a year." in page


def test_it_cancels_with_remove_once_and_shows_the_refund(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    set_clock(owner, utc(2027, 3, 16, 12))
    page = portal.get(reverse("portal:cancel"))
    body = text(page)
    assert "$4.00 is refunded to your card (Visa ending in 4242)" in body  # 2 x round(399 x 15.5/31) = 2 x 200
    assert "every camera moves to the Free plan" in body
    form = re.search(r'name="quote_id" value="(quo_[0-9a-z]+)"', page.content.decode())[1]
    idem = key()
    first = portal.post(reverse("portal:cancel"), {"quote_id": form, "idempotency_key": idem})
    second = portal.post(reverse("portal:cancel"), {"quote_id": form, "idempotency_key": idem})
    assert first["Location"] == second["Location"] == reverse("portal:cancel_done", args=[form])
    refund = Order.objects.get(account=owner, kind="refund")
    assert refund.amount == 400
    done = text(portal.get(first["Location"]))
    assert f"$4.00 refunded to your card (Visa ending in 4242). Order ID {refund.order_id}" in done
    assert plans(owner) == {"Porch": "free", "Garden": "free"}


def test_it_states_the_erasure_on_the_cancel_page(portal, owner, cams, visa):
    from tests.cameras.conftest import add_clip

    change(portal, cams, "plus", "plus")
    for day in (1, 2, 3):
        add_clip(cams.porch, utc(2027, 3, day, 8))
    set_clock(owner, utc(2027, 3, 5))
    body = portal.get(reverse("portal:cancel")).content.decode()
    assert re.search(r"Porch</strong>: 2 clips recorded before 3 Mar 2027, 00:00 UTC\s+will be erased", body)
    assert f"/cameras/{cams.porch.id}/download/?before=2027-03-03T00%3A00%3A00Z" in body
    assert "Garden</strong>: keeps clips recorded from 3 Mar 2027, 00:00 UTC on; it has no older clip" in body
    assert "2 clips older than the Free plan's 2 days are <strong>erased and cannot be recovered" in body


def test_it_refuses_a_cancel_confirmation_it_did_not_show(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus")
    response = portal.post(reverse("portal:cancel"), {"quote_id": "quo_forged", "idempotency_key": key()})
    assert response.status_code == 409
    assert "Nothing was changed" in text(response)
    assert plans(owner) == {"Porch": "plus", "Garden": "plus"}


def test_it_hides_another_accounts_quotes_and_results(portal, outsider_portal, owner, cams, visa):
    quote_id = change(portal, cams, "plus", "plus")
    pending = preview(portal, cams, "premium", "premium")
    assert outsider_portal.get(reverse("portal:preview", args=[pending])).status_code == 404
    assert outsider_portal.post(reverse("portal:preview", args=[pending]), {"quote_id": pending, "idempotency_key": key()}).status_code == 404
    assert outsider_portal.get(reverse("portal:change_done", args=[quote_id])).status_code == 404
    assert plans(owner) == {"Porch": "plus", "Garden": "plus"}


def test_it_drops_a_scheduled_switch_to_monthly(portal, owner, cams, visa):
    change(portal, cams, "plus", "plus", cycle="annual")
    change(portal, cams, "plus", "plus", cycle="monthly")
    assert "Switches to monthly billing" in text(portal.get(reverse("portal:home")))
    response = portal.post(reverse("portal:drop_scheduled_change"))
    assert response["Location"] == reverse("portal:home")
    assert "Switches to monthly billing" not in text(portal.get(reverse("portal:home")))


def test_it_executes_nothing_for_a_confirmation_of_another_quote(portal, owner, cams, visa):
    shown = preview(portal, cams, "plus", "plus")
    other = preview(portal, cams, "premium", "premium")
    response = portal.post(reverse("portal:preview", args=[shown]), {"quote_id": other, "idempotency_key": key()})
    assert response.status_code == 409 and "Nothing was changed" in text(response)
    assert not Order.objects.filter(account=owner).exists()
    assert plans(owner) == {"Porch": "free", "Garden": "free"}
