"""Refunds and credits, typed in dollars, through billing.actions (which audits them).
Agents refund up to their limit; credits and larger refunds are the billing admin's. A
refusal is the form's error, audited, and moves nothing."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import Order
from camcare.display import format_money
from camcare.support.access import console_page
from camcare.support.forms import CreditForm, RefundForm
from camcare.support.lookup import charge_of
from camcare.support.roles import may_issue_credit, refund_limit
from camcare.support.views.account import account_page, owner_or_404, refused


@console_page
@require_POST
def credit(request, account_id):
    owner = owner_or_404(account_id)
    form = CreditForm(request.POST)
    if not may_issue_credit(request.console_role):
        form.is_valid()  # the amount typed, when it is one, goes in the audit line
        refused(request, owner, form, what="issue a credit", amount=form.cleaned_data.get("amount"),
                message="Only a billing admin can issue credits. Ask one, with the reason; nothing was added.")
        return account_page(request, owner, credit_form=form)
    if form.is_valid():
        data = form.cleaned_data
        try:
            order = actions.issue_support_credit(account=owner, amount=data["amount"], reason=data["reason"],
                                                 actor=request.user, request_key=data["request_key"])
        except BillingRefusal as refusal:
            refused(request, owner, form, what="issue a credit", message=refusal.message, amount=data["amount"])
        else:
            messages.success(request, f"Credit {order.order_id} of {format_money(order.amount, order.currency)} added.")
            return redirect("support:account", account_id=owner.pk)
    return account_page(request, owner, credit_form=form)


@console_page
@require_POST
def refund(request, account_id):
    owner = owner_or_404(account_id)
    limit = refund_limit(request.console_role)
    form = RefundForm(request.POST, limit_cents=limit)
    if form.is_valid():
        data = form.cleaned_data
        charge = charge_of(owner, data["order_id"])
        if charge is None:
            form.add_error("order_id", "No charge with this Order ID on this account.")
        elif limit is not None and data["amount"] > limit:
            refused(request, owner, form, field="amount", what="refund", amount=data["amount"], limit=limit,
                    order_id=charge.order_id,
                    message=f"An agent can refund at most {format_money(limit, charge.currency)} at a time. "
                            "Ask a billing admin for more; nothing was refunded.")
        else:
            done = _refund(request, owner, form, charge)
            if done:
                return done
    return account_page(request, owner, refund_form=form)


def _refund(request, owner, form: RefundForm, charge: Order):
    """Issue the refund; a redirect when it went through, None when refused (form error)."""
    data = form.cleaned_data
    try:
        order = actions.issue_support_refund(charge=charge, amount=data["amount"], reason=data["reason"],
                                             actor=request.user, request_key=data["request_key"])
    except BillingRefusal as refusal:
        refused(request, owner, form, what="refund", message=_in_dollars(refusal, charge, data["amount"]),
                amount=data["amount"], order_id=charge.order_id)
        return None
    money = format_money(order.amount, order.currency)
    messages.success(request, f"Refund {order.order_id} of {money} of {charge.order_id} sent to the card.")
    return redirect("support:account", account_id=owner.pk)


def _in_dollars(refusal: BillingRefusal, charge: Order, amount: int) -> str:
    """The action words "too much" in cents; staff read dollars, so say it in dollars."""
    refundable = selectors.refundable_of(Order.objects.get(pk=charge.pk))
    if refusal.code == "invalid_amount" and amount > refundable:
        return f"At most {format_money(refundable, charge.currency)} of {charge.order_id} can be refunded."
    return refusal.message
