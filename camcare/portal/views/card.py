"""The payment card: a sandbox card form mapping Stripe's test numbers to gateway tokens."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse

from camcare.billing import actions, selectors
from camcare.portal.forms import CardForm
from camcare.portal.reauth import recent_password_required
from camcare.portal.views.auth import safe_next
from camcare.portal.views.billing_forms import page_status, run_once


@recent_password_required
def card(request):
    account = request.user
    form = CardForm(request.POST or None)
    back = safe_next(request)
    shown = None
    if request.method == "POST" and form.is_valid():

        def save() -> str:
            exp_month, exp_year = form.cleaned_data["expiry"]  # kept for the card-expiring reminder
            saved = actions.save_payment_method(account=account, token=form.token, actor=account,
                                                exp_month=exp_month, exp_year=exp_year)
            messages.success(request, f"Card saved: {saved.brand} ending in {saved.last4}.")
            return back or reverse("portal:home")  # e.g. the preview that needed a card

        outcome = run_once(request, form.key, form.cleaned_data["number"], save)
        if isinstance(outcome, HttpResponse):
            return outcome
        shown = outcome
    context = {"form": form, "card": selectors.payment_method_of(account), "shown": shown, "next": back}
    return render(request, "portal/billing/card.html", context, status=page_status(request, form, shown))

