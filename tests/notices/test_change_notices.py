"""Receipts and the plan-changed notice (POLICY.md section 15) from the real change code,
sent to a real SMTP server on loopback: text and HTML, every amount with its currency,
every Order ID, every link absolute, the date in words with its zone, one button."""

from camcare.billing import actions
from camcare.billing.models import Order, Quote
from camcare.notices import outbox
from camcare.notices.models import Notice
from tests.billing.conftest import add_clip
from tests.conftest import utc
from tests.notices.mail import assert_links_absolute, buttons, parts


def subscribe(owner, cameras, capture):
    porch, garden = cameras
    with capture(execute=True):
        actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    return Order.objects.get(account=owner, kind="charge")


def test_the_receipt_has_the_amount_order_id_card_date_and_one_button(owner, cameras, card, at, smtp, settings,
                                                                     django_capture_on_commit_callbacks):
    at(2027, 3, 1)
    order = subscribe(owner, cameras, django_capture_on_commit_callbacks)
    [message] = smtp.messages  # a new subscription: its receipt says what it added, no second e-mail
    body = parts(message)
    for part in body.values():
        assert "$7.98" in part and order.order_id in part
    # The text part keeps the lines tests/billing/test_receipts.py pins; the HTML has all.
    assert "Visa ending in 4242" in body["text/html"] and "Monday 1 March 2027 at 00:00 UTC" in body["text/html"]
    assert buttons(body["text/html"]) == [(f"{settings.SITE_URL}/payments/", "View your payments")]
    assert f'href="{settings.SITE_URL}/payments/{order.order_id}/"' in body["text/html"]  # the receipt page
    assert "<table" in body["text/html"] and "camcare" in body["text/html"]
    assert_links_absolute(message)


def test_a_downgrade_tells_what_changed_the_credit_with_its_order_id_and_what_was_erased(
        owner, cameras, card, at, smtp, django_capture_on_commit_callbacks):
    porch, garden = cameras
    at(2027, 3, 1)
    subscribe(owner, cameras, django_capture_on_commit_callbacks)
    add_clip(garden, utc(2027, 3, 10))
    add_clip(garden, utc(2027, 3, 11))
    add_clip(garden, utc(2027, 3, 16))  # inside the free window (2 days): kept
    at(2027, 3, 16, 12)
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_plan(account=owner, cameras={garden.id: "free"}, actor=owner)
    credit = Order.objects.get(account=owner, kind="credit")
    assert credit.amount == 200  # POLICY.md section 11: round(399 x 15.5/31), halves up
    [changed] = smtp.of_kind("plan changed")
    assert changed["Subject"] == f"camcare: your plan changed ({credit.order_id})"
    body = parts(changed)
    text, html = body["text/plain"], body["text/html"]
    assert "- Garden: Plus -> Free" in text and "Garden" in html and "Plus → Free" in html
    assert "Porch" not in text  # it did not change
    assert f"- Added to your credit: $2.00 (Order ID {credit.order_id})" in text
    assert "$2.00" in html and credit.order_id in html
    assert "- Garden: 2 clips recorded before Sunday 14 March 2027 at 12:00 UTC" in text
    assert "2 clips recorded before Sunday 14 March 2027 at 12:00 UTC" in html
    assert "Made on Tuesday 16 March 2027 at 12:00 UTC" in text
    assert "Next bill: $3.99 on Thursday 1 April 2027 at 00:00 UTC" not in text  # credit goes first:
    assert "Next bill: $1.99 on Thursday 1 April 2027 at 00:00 UTC." in text
    assert len(buttons(html)) == 1
    assert_links_absolute(changed)


def test_an_upgrade_tells_the_charge_and_the_credit_used(owner, cameras, card, at, smtp,
                                                        django_capture_on_commit_callbacks):
    porch, garden = cameras
    at(2027, 3, 1)
    subscribe(owner, cameras, django_capture_on_commit_callbacks)
    at(2027, 3, 11)
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_plan(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
    charge = Order.objects.filter(account=owner, kind="charge").latest("id")
    assert charge.amount == 340  # POLICY.md section 11, example 2
    [changed] = smtp.of_kind("plan changed")
    text = parts(changed)["text/plain"]
    assert "- Garden: Plus -> Premium" in text and "- Porch: Plus -> Premium" in text
    assert f"- Charged to your Visa ending in 4242: $3.40 (Order ID {charge.order_id})" in text
    assert len(smtp.of_kind(f"payment {charge.order_id}")) == 1  # and its receipt


def test_a_cancel_tells_the_refund_with_the_order_id(owner, cameras, card, at, smtp,
                                                    django_capture_on_commit_callbacks):
    at(2027, 3, 1)
    first = subscribe(owner, cameras, django_capture_on_commit_callbacks)
    at(2027, 3, 16, 12)
    with django_capture_on_commit_callbacks(execute=True):
        actions.cancel_subscription(account=owner, actor=owner)
    refund = Order.objects.get(account=owner, kind="refund")
    [changed] = smtp.of_kind("cancelled")
    text = parts(changed)["text/plain"]
    assert text.startswith("Your subscription is cancelled")
    assert f"Refunded to your Visa ending in 4242: {refund.amount / 100:.2f}".replace(": ", ": $") in text
    assert refund.order_id in text and first.order_id not in text.split("Money:")[1].split("View")[0]
    assert_links_absolute(changed)


def test_the_plan_changed_notice_is_made_once_per_quote(owner, cameras, card, at, smtp,
                                                        django_capture_on_commit_callbacks):
    porch, garden = cameras
    at(2027, 3, 1)
    subscribe(owner, cameras, django_capture_on_commit_callbacks)
    at(2027, 3, 16, 12)
    with django_capture_on_commit_callbacks(execute=True):
        result = actions.change_plan(account=owner, cameras={garden.id: "free"}, actor=owner)
    quote = Quote.objects.get(pk=result.quote_id)
    from camcare.billing.emails import record_plan_changed
    from camcare.billing.outcomes import outcome_from_json

    with django_capture_on_commit_callbacks(execute=True):  # the same change recorded again
        record_plan_changed(owner, quote=quote, outcome=outcome_from_json(quote.outcome),
                            old={"cycle": "monthly", "cameras": {}}, orders=[], erasures=[])
    assert Notice.objects.filter(kind="plan_changed").count() == 1
    assert outbox.send_due() == 0
    assert len(smtp.of_kind("plan changed")) == 1


def test_a_declined_change_makes_no_plan_changed_notice(owner, cameras, card, at, smtp,
                                                        django_capture_on_commit_callbacks):
    porch, garden = cameras
    at(2027, 3, 1)
    subscribe(owner, cameras, django_capture_on_commit_callbacks)
    actions.save_payment_method(account=owner, token="tok_chargeDeclined", actor=owner)
    at(2027, 3, 11)
    from camcare.billing.errors import BillingRefusal

    with django_capture_on_commit_callbacks(execute=True):
        try:
            actions.change_plan(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
        except BillingRefusal as refusal:
            assert refusal.code == "payment_failed"
    assert not Notice.objects.filter(kind="plan_changed").exists()
    assert smtp.of_kind("plan changed") == []


def test_a_switch_to_monthly_tells_when_it_starts_and_moves_no_money(owner, cameras, card, at, smtp,
                                                                     django_capture_on_commit_callbacks):
    porch, garden = cameras
    at(2027, 3, 1)
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_plan(account=owner, cameras={porch.id: "plus"}, cycle="annual", actor=owner)
    at(2027, 6, 1)
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_plan(account=owner, cycle="monthly", actor=owner)
    [changed] = smtp.of_kind("plan changed")
    assert changed["Subject"] == "camcare: your plan changed"  # no order: nothing to quote
    text = parts(changed)["text/plain"]
    assert "- Billing from Wednesday 1 March 2028 at 00:00 UTC: monthly" in text
    assert "Money:" not in text and "Erased" not in text
    assert_links_absolute(changed)
