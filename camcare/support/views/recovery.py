"""What an agent does for an owner who calls: send a receipt again, and retry a failed
payment now. Each runs once per rendered form (its one-time key), and is audited.

A support retry is made as the owner's own out-of-schedule attempt (`by_owner=True` in
billing.actions.retry_unpaid_bill, the attempt made when the owner saves a card): it does
not count towards the bill's four scheduled attempts and does not move the next one, so
an agent trying "now" can never bring a lapse closer. That attempt is keyed by the saved
card, so each saved card gets one out-of-schedule attempt per bill: once it was tried,
the next chance is the schedule's or a card saved again by the owner (tried at once)."""

from __future__ import annotations

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from camcare import clock
from camcare.audit.events import Event, audit
from camcare.audit.models import AuditEvent
from camcare.billing import actions, selectors
from camcare.billing.models import Order, OrderKind, OrderStatus, Purpose
from camcare.display import format_money
from camcare.domain.order_ids import code_candidates
from camcare.domain.periods import iso_z
from camcare.domain.pricing import Status
from camcare.notices.models import Notice
from camcare.notices.resend import NotResendable, resend
from camcare.support.access import console_page
from camcare.support.forms import ResendForm, RetryForm
from camcare.support.timeline import utc
from camcare.support.views.account import account_page, owner_or_404, refused


def _done_before(owner, action: Event, request_key: str) -> AuditEvent | None:
    """The audit line of this very form's earlier sending (a double click, a reload)."""
    return AuditEvent.objects.filter(account=owner, action=action, detail__request_key=request_key).first()


def _answered_already(request, owner, form, *, form_name: str, action: Event, already: str):
    """The answer to an invalid form (the page with its errors) or to a form sent again (the
    account page, saying so), else None: the form is new and valid."""
    if not form.is_valid():
        return account_page(request, owner, **{form_name: form})
    if _done_before(owner, action, form.cleaned_data["request_key"]):
        messages.info(request, already)
        return redirect("support:account", account_id=owner.pk)
    return None


# ---------------------------------------------------------------- resend a receipt


@console_page
@require_POST
def resend_receipt(request, account_id):
    owner = owner_or_404(account_id)
    form = ResendForm(request.POST)
    answered = _answered_already(request, owner, form, form_name="resend_form", action=Event.SUPPORT_RECEIPT_RESENT,
                                 already="That receipt was already sent again from this page.")
    if answered:
        return answered
    key = form.cleaned_data["request_key"]
    candidates = [f"receipt:{code}" for code in code_candidates(form.cleaned_data["order_id"])]
    notice = Notice.objects.filter(account=owner, kind="receipt", key__in=candidates).first()
    if notice is None:
        refused(request, owner, form, what="resend a receipt", order_id=form.cleaned_data["order_id"][:40],
                message="This account has no receipt for that order (an order that moved nothing has none).")
        return account_page(request, owner, resend_form=form)
    order_id = notice.key.removeprefix("receipt:")
    try:
        with transaction.atomic():  # the audit line exists exactly when the resend does
            resent = resend(notice)
            audit(actor=request.user, account=owner, action=Event.SUPPORT_RECEIPT_RESENT, order_id=order_id,
                  request_key=key, previously_sent_at=utc(resent.previously_sent_at))
    except NotResendable:
        refused(request, owner, form, what="resend a receipt", order_id=order_id,
                message="That receipt is being sent right now. Wait a minute and look at the timeline.")
        return account_page(request, owner, resend_form=form)
    messages.success(request, f"The receipt of {order_id} is being sent again to {owner.email}.")
    return redirect("support:account", account_id=owner.pk)


# ---------------------------------------------------------------- retry a failed payment now


def _tried_out_of_schedule(subscription, method) -> Order | None:
    """The out-of-schedule attempt this card already made at the unpaid bill, if any: the
    gateway key of renewals._prepare_retry's owner attempt ends with "card-<card id>"."""
    return Order.objects.filter(
        account_id=subscription.account_id, kind=OrderKind.CHARGE, purpose=Purpose.RENEWAL,
        period_start=subscription.period_start, gateway_key__endswith=f":card-{method.id}",
    ).first()


def _why_not_retry(subscription, method) -> str | None:
    if subscription is None or subscription.status != Status.PAST_DUE:
        return "Nothing to retry: this subscription has no unpaid bill."
    if method is None:
        return "No card is saved. Ask the owner to save one: saving a card retries the bill at once."
    earlier = _tried_out_of_schedule(subscription, method)
    if earlier is not None:
        return (f"This card was already tried outside the schedule ({earlier.order_id}, {utc(earlier.created_at)}, "
                f"{earlier.failure_message or earlier.status}). The next scheduled attempt is "
                f"{utc(subscription.next_retry_at)}; a card the owner saves again is tried at once.")
    return None


@console_page
@require_POST
def retry_payment(request, account_id):
    owner = owner_or_404(account_id)
    form = RetryForm(request.POST)
    answered = _answered_already(request, owner, form, form_name="retry_form", action=Event.SUPPORT_PAYMENT_RETRIED,
                                 already="This retry was already made from this page: see the timeline.")
    if answered:
        return answered
    key = form.cleaned_data["request_key"]
    subscription = selectors.subscription_or_none(owner)
    method = selectors.payment_method_of(owner)
    why_not = _why_not_retry(subscription, method)
    if why_not is None:
        try:
            order = actions.retry_unpaid_bill(subscription_id=subscription.pk, at=clock.now(owner), by_owner=True)
        except IntegrityError:  # a twin request made the card's attempt between the check and the claim
            order, why_not = None, "This card was just tried outside the schedule: see the timeline."
        else:
            why_not = None if order is not None else "Another payment of this account is in flight: try again in a minute."
    if why_not is not None:
        refused(request, owner, form, what="retry the unpaid bill", message=why_not)
        return account_page(request, owner, retry_form=form)
    return _retried(request, owner, order, key)


def _retried(request, owner, order: Order, key: str):
    paid = order.status == OrderStatus.SUCCEEDED
    money = format_money(order.amount, order.currency)
    audit(actor=request.user, account=owner, action=Event.SUPPORT_PAYMENT_RETRIED, order_id=order.order_id,
          amount=order.amount, succeeded=paid, decline_code=order.failure_code, request_key=key,
          attempt_at=iso_z(order.created_at))
    if paid:
        messages.success(request, f"Paid: {order.order_id}, {money} charged to the card. The subscription is active.")
    else:
        messages.error(request, f"Declined again ({order.failure_message or order.failure_code}): {order.order_id}. "
                                "The subscription stays past due; the scheduled attempts are unchanged.")
    return redirect("support:account", account_id=owner.pk)
