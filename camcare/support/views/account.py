"""An account as support sees it: subscription, cameras, orders (with what is refundable
and a resend of each receipt), the money forms the staff member's role allows, the errors
it saw and its timeline. What the page never shows: device tokens or their hashes,
password hashes, gateway tokens or references, more of a card than brand and last 4."""

from __future__ import annotations

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import render

from camcare.accounts.models import Account
from camcare.audit.events import Event, audit
from camcare.audit.models import ErrorReport
from camcare.billing import selectors
from camcare.billing.models import Order, OrderKind, OrderStatus
from camcare.notices.models import Notice
from camcare.support.access import console_page
from camcare.support.forms import CreditForm, RefundForm, ResendForm, RetryForm
from camcare.support.roles import ROLE_NAMES, may_issue_credit, refund_limit
from camcare.support.timeline import timeline_of

ORDERS_SHOWN = 300
ERRORS_SHOWN = 50


def owner_or_404(account_id: str) -> Account:
    """The account of the path, or 404 (an id with a NUL is none: PostgreSQL cannot look
    one up)."""
    owner = None if "\x00" in account_id else Account.objects.filter(pk=account_id).first()
    if owner is None:
        raise Http404("No such account.")
    return owner


def refused(request, owner, form, *, what: str, message: str, field: str | None = None, **detail) -> None:
    """A staff action refused: the form's error, and a line in the audit log; nothing moved."""
    form.add_error(field, message)
    audit(actor=request.user, account=owner, action=Event.SUPPORT_REFUSED, what=what, message=message, **detail)


def orders_of(owner: Account) -> list[Order]:
    """The account's latest orders, each with `refundable` (minor units still refundable of a
    succeeded charge) and `has_receipt`, in three queries whatever their number."""
    live_refunds = Q(refunds__status__in=[OrderStatus.SUCCEEDED, OrderStatus.PENDING])
    orders = list(
        Order.objects.filter(account=owner).select_related("refers_to")
        .annotate(refunded=Coalesce(Sum("refunds__amount", filter=live_refunds), 0))
        .order_by("-created_at", "-id")[:ORDERS_SHOWN]
    )
    receipts = set(Notice.objects.filter(account=owner, kind="receipt").values_list("key", flat=True))
    for order in orders:
        is_paid_charge = order.kind == OrderKind.CHARGE and order.status == OrderStatus.SUCCEEDED
        order.refundable = order.amount - order.refunded if is_paid_charge else 0
        order.has_receipt = f"receipt:{order.order_id}" in receipts
        order.resend_form = ResendForm(initial={"order_id": order.order_id}) if order.has_receipt else None
    return orders


def account_page(request, owner: Account, *, status: int = 200, **forms):
    """The page, with any form sent back with its errors (credit_form, refund_form,
    retry_form) in place of a fresh one."""
    role = request.console_role
    summary = selectors.subscription_summary(owner)
    subscription = selectors.subscription_or_none(owner)
    context = {
        "owner": owner,
        "role_name": ROLE_NAMES[role],
        "may_credit": may_issue_credit(role),
        "summary": summary,
        "past_due": subscription if summary["status"] == "past_due" else None,
        "cameras": owner.cameras.all(),
        "orders": orders_of(owner),
        "credit_history": selectors.credit_history(owner),
        "errors": ErrorReport.objects.filter(account=owner).order_by("-at")[:ERRORS_SHOWN],
        "card": selectors.payment_method_of(owner),
        "timeline": timeline_of(owner),
        "credit_form": forms.get("credit_form") or CreditForm(),
        "refund_form": forms.get("refund_form") or RefundForm(limit_cents=refund_limit(role)),
        "retry_form": forms.get("retry_form") or RetryForm(),
        "resend_form": forms.get("resend_form"),  # sent back with its error; each row has its own
    }
    return render(request, "support/account.html", context, status=status)


@console_page
def account(request, account_id):
    owner = owner_or_404(account_id)
    audit(actor=request.user, account=owner, action=Event.SUPPORT_VIEWED_ACCOUNT)
    return account_page(request, owner)
