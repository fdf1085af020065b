"""Payment history: every charge, refund and credit with its Order ID, and the credit
balance's movements."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from camcare.billing import selectors
from camcare.catalog import get_catalog


@login_required
def history(request):
    account = request.user
    context = {
        "orders": list(selectors.orders_of(account)),
        "credit_entries": selectors.credit_history(account),
        "credit_balance": selectors.credit_balance(account),
        "currency": get_catalog().currency,
    }
    return render(request, "portal/billing/history.html", context)
