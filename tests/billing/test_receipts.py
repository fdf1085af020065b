"""Every e-mail about money names its Order ID (POLICY.md section 7)."""

from camcare.billing import actions
from camcare.billing.models import Order


def test_it_emails_a_receipt_with_the_order_id_and_the_amounts(owner, cameras, card, at, mailoutbox, django_capture_on_commit_callbacks):
    porch, garden = cameras
    at(2027, 3, 1)
    with django_capture_on_commit_callbacks(execute=True):
        actions.change_plan(account=owner, cameras={porch.id: "plus", garden.id: "plus"}, actor=owner)
    order = Order.objects.get(account=owner)
    [mail] = mailoutbox
    assert order.order_id in mail.subject
    assert mail.to == ["owner@example.com"]
    assert "Amount: $7.98" in mail.body
    assert f"/payments/{order.order_id}/" in mail.body


def test_it_names_the_credit_used_on_a_receipt(owner, cameras, card, at, mailoutbox, django_capture_on_commit_callbacks):
    porch, _ = cameras
    at(2027, 3, 1)
    actions.change_plan(account=owner, cameras={porch.id: "premium"}, actor=owner)
    at(2027, 3, 16, 12)
    actions.change_plan(account=owner, cameras={porch.id: "plus"}, actor=owner)  # credit 450
    at(2027, 3, 17)
    with django_capture_on_commit_callbacks(execute=True):
        upgrade = actions.change_plan(account=owner, cameras={porch.id: "premium"}, actor=owner)
    [mail] = mailoutbox
    assert upgrade.credit_used > 0
    assert f"Credit used: ${upgrade.credit_used // 100}.{upgrade.credit_used % 100:02d}" in mail.body
