"""The plan catalog side by side, and the refund policy summary (public)."""

from django.shortcuts import render

from camcare.catalog import get_catalog
from camcare.domain.periods import Cycle


def plans(request):
    catalog = get_catalog()
    cards = []
    for plan in catalog:
        monthly, annual = plan.price(Cycle.MONTHLY), plan.price(Cycle.ANNUAL)
        cards.append({
            "plan": plan,
            "monthly": monthly,
            "annual": annual,
            "annual_saving": monthly * 12 - annual,  # minor units saved per year by paying yearly
        })
    return render(request, "portal/plans.html", {"cards": cards, "currency": catalog.currency})
