"""Every e-mail about money names its Order ID and its amounts (POLICY.md sections 7, 15).

The amounts below are worked out by hand from POLICY.md (section 11 and its rounding
rule), never read back from the result under test, so a receipt that shows the wrong
figure (the price instead of the card part, the credit left out, cents misplaced) fails.
"""

import re

from django.conf import settings

from camcare.billing import actions
from camcare.billing.models import Order

# POLICY.md section 7: "ORD-" and 10 Crockford base32 characters (no I, L, O, U).
ORDER_ID = re.compile(r"^ORD-[0-9A-HJKMNP-TV-Z]{10}$")


def receipt_lines(order_id: str) -> list[str]:
    return ["", f"Receipt: {settings.SITE_URL}/payments/{order_id}/", "Questions? Reply with this Order ID."]


def receipts(mailoutbox) -> list:
    """The receipts among the e-mails sent (a change also sends its plan_changed notice)."""
    return [mail for mail in mailoutbox if re.match(r"camcare (payment|refund|credit) ORD-", mail.subject)]


def test_it_emails_a_receipt_with_the_order_id_and_the_amount(owner, cameras, card, at, mailoutbox,
                                                              django_capture_on_commit_callbacks):
    porch, garden = cameras
    at(2027, 3, 1)
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    [mail] = mailoutbox
    order_id = Order.objects.get(account=owner).order_id
    assert ORDER_ID.match(order_id)
    assert mail.subject == f"camcare payment {order_id}"
    assert mail.to == ["owner@example.com"]
    lines = mail.body.splitlines()
    # The lines follow the cameras' (random) ids, so either order of the two is right.
    assert lines[1] in {"New subscription: added Plus monthly for Porch, Plus monthly for Garden",
                        "New subscription: added Plus monthly for Garden, Plus monthly for Porch"}
    # Worked example 1: two plus lines of 3.99, 798 to the card, no credit involved.
    assert [lines[0], *lines[2:]] == [f"Payment {order_id}", "Amount: $7.98", *receipt_lines(order_id)]


def test_it_names_the_credit_used_on_a_receipt_paid_by_credit(owner, cameras, card, at, mailoutbox,
                                                              django_capture_on_commit_callbacks):
    porch, _ = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "premium"}, actor=owner)  # 1299
    at(2027, 3, 16, 12)
    # Half of March left: premium credits round(649.5) = 650, plus costs round(199.5) = 200.
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)  # credit 450
    at(2027, 3, 17)
    with django_capture_on_commit_callbacks(execute=True):
        # 15/31 left: premium costs round(628.55) = 629, plus credits round(193.06) = 193;
        # the 436 comes out of the 450 of credit, nothing from the card.
        actions.change_plan(account=owner, cameras={porch.id: "premium"}, actor=owner)
    [mail] = receipts(mailoutbox)  # beside the change's own notice (plan_changed)
    order_id = Order.objects.filter(account=owner, kind="charge").latest("id").order_id
    assert mail.subject == f"camcare payment {order_id}"
    assert mail.body.splitlines() == [
        f"Payment {order_id}",
        "Plan change: added Premium monthly; removed Plus monthly for Porch",
        "Amount: $0.00",
        "Credit used: $4.36",
        *receipt_lines(order_id),
    ]


def monthly_story_to_april(owner, cameras, at) -> None:
    """POLICY.md section 11, examples 1 to 3: on Apr 1 one camera on plus, 319 of credit."""
    porch, garden = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    at(2027, 3, 11)
    actions.change_plan(account=owner, cameras={porch.id: "premium", garden.id: "premium"}, actor=owner)
    at(2027, 3, 21)
    actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "free"}, actor=owner)


def test_it_shows_the_card_part_and_the_credit_on_a_renewal_receipt(owner, cameras, card, at, mailoutbox,
                                                                    django_capture_on_commit_callbacks):
    monthly_story_to_april(owner, cameras, at)
    with django_capture_on_commit_callbacks(execute=True):
        at(2027, 4, 1)
    [mail] = mailoutbox
    order_id = Order.objects.get(account=owner, purpose="renewal").order_id
    assert ORDER_ID.match(order_id)
    assert mail.subject == f"camcare payment {order_id}"
    # Worked example 4: plus 399 = 319 of credit + 80 by card.
    assert mail.body.splitlines() == [
        f"Payment {order_id}",
        "Renewal 2027-04-01 to 2027-05-01 (monthly)",
        "Amount: $0.80",
        "Credit used: $3.19",
        *receipt_lines(order_id),
    ]


def test_it_emails_a_refund_and_a_credit_receipt_on_cancel(owner, cameras, card, at, mailoutbox,
                                                           django_capture_on_commit_callbacks):
    monthly_story_to_april(owner, cameras, at)
    at(2027, 4, 1)
    renewal_id = Order.objects.get(account=owner, purpose="renewal").order_id
    at(2027, 4, 11)
    with django_capture_on_commit_callbacks(execute=True):
        actions.cancel_subscription(account=owner, actor=owner)
    # Worked example 5: 399 x 20/30 = 266; 80 back to the Apr 1 charge, 186 to credit.
    refund_id = Order.objects.get(account=owner, kind="refund").order_id
    credit_id = Order.objects.filter(account=owner, kind="credit").latest("id").order_id
    assert ORDER_ID.match(refund_id) and ORDER_ID.match(credit_id)
    assert {mail.subject: mail.body.splitlines() for mail in receipts(mailoutbox)} == {
        f"camcare refund {refund_id}": [
            f"Refund {refund_id}",
            "Refund: Cancellation: removed Plus monthly for Porch",
            "Amount: $0.80",
            f"Refund of: {renewal_id}",
            *receipt_lines(refund_id),
        ],
        f"camcare credit {credit_id}": [
            f"Credit {credit_id}",
            "Credit: Cancellation: removed Plus monthly for Porch",
            "Amount: $1.86",
            *receipt_lines(credit_id),
        ],
    }
