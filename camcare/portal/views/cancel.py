"""Cancel subscription: a reconfirmation page stating the refund and the erasure, with a
REMOVE button that executes exactly that quote, once."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.portal import previews
from camcare.portal.forms import ConfirmForm
from camcare.portal.reauth import recent_password_required
from camcare.portal.refusals import describe, store_refusal
from camcare.portal.views.billing_forms import page_status
from camcare.portal.views.change import execute_quote, preview_context
from camcare.portal.views.common import store_context


@recent_password_required
def cancel(request):
    account = request.user
    summary = selectors.subscription_summary(account)
    shown = None
    store = store_context(summary)
    if store["is_app_store"]:
        shown = store_refusal(request, store, "cancelled on the web")
        return render(request, "portal/billing/cancel.html", {"shown": shown, "summary": summary},
                      status=page_status(request, None, shown))
    if request.method == "POST":
        form = ConfirmForm(request.POST)
        stored = previews.recall(request, form.data.get("quote_id", ""))
        if form.is_valid() and stored and stored["kind"] == "cancel":
            outcome = execute_quote(
                request, form, "cancel",
                lambda qid: actions.cancel_subscription(account=account, quote_id=qid, actor=account),
            )
            if isinstance(outcome, HttpResponse):
                return outcome
            shown = outcome
        else:  # not a confirmation this page made: say so and show the current one
            shown = describe(BillingRefusal("quote_stale", "unknown or malformed cancel confirmation"), request=request)
    if summary["status"] == "none" and shown is None:
        messages.info(request, "You have no paid plan to cancel: every camera is on Free.")
        return redirect("portal:home")
    try:
        result = actions.preview_cancel(account=account, actor=account)
    except BillingRefusal as refusal:
        shown = shown or describe(refusal, request=request)
        return render(request, "portal/billing/cancel.html", {"shown": shown, "summary": summary},
                      status=page_status(request, None, shown))
    stored = previews.remember(request, result, kind="cancel", cameras={}, cycle=None)
    # A fresh quote after a refusal: the page always offers what REMOVE would do now.
    form = ConfirmForm(initial={"quote_id": result.quote_id})
    context = {**preview_context(request, stored), "camera_changes": [],  # the page says "every camera to Free"
               "form": form, "shown": shown, "summary": summary}
    return render(request, "portal/billing/cancel.html", context, status=page_status(request, None, shown))


@recent_password_required
def stop(request):
    """Turn renewal off (POLICY.md section 13): every camera to Free at the period end."""
    if request.method != "POST":
        return redirect("portal:cancel")
    account = request.user
    try:
        result = actions.stop_at_period_end(account=account, actor=account)
    except BillingRefusal as refusal:
        shown = describe(refusal, request=request)
        messages.error(request, f"{shown.message} Reference: {shown.reference}")
    else:
        clips = sum(erasure["clips"] for erasure in result.erasures)
        erased = f" {clips} clip{'s' if clips != 1 else ''} older than 2 days will then be erased." if clips else ""
        messages.success(request, "Your plan stays until the end of the period, then every camera moves to Free; "
                                  f"nothing is refunded.{erased}")
    return redirect("portal:home")
