"""Home: each camera's plan and history window, the cycle, the period, the next bill,
the credit balance and the payment card."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from camcare.billing import selectors
from camcare.portal.views.common import plan_rows, store_context


@login_required
def home(request):
    account = request.user
    summary = selectors.subscription_summary(account)
    context = {
        "summary": summary,
        "rows": plan_rows(account),
        "card": selectors.payment_method_of(account),
        "recent_orders": list(selectors.orders_of(account)[:3]),
        "paid": summary["status"] != "none",
        **store_context(summary),
    }
    return render(request, "portal/home.html", context)
