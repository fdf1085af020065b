"""The change form's figures: each plan's price per cycle, the running total of the picked
plans and the date of the next bill. The server renders them for the plans shown, and
static/portal/change.js recomputes them as the owner picks, from the same numbers (the
form's data attributes). The preview stays the source of truth for money moved now.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from camcare.display import format_money
from camcare.domain.catalog import Catalog, Plan
from camcare.domain.periods import Cycle, add_months
from camcare.portal.advice import price_of
from camcare.portal.templatetags.money import as_datetime, when

PER = {Cycle.MONTHLY.value: "a month", Cycle.ANNUAL.value: "a year"}


def price_text(cents: int, cycle: str, currency: str) -> str:
    return f"{format_money(cents, currency)} {PER.get(cycle, '')}".strip()


def option_prices(plan: Plan, currency: str) -> dict[str, str]:
    """What one choice costs, per cycle: "$3.99 a month"; an account-wide plan says that
    its one price covers all the cameras on it."""
    texts = {}
    for cycle in Cycle:
        text = price_text(plan.price(cycle), cycle.value, currency) if plan.is_paid else "no charge"
        if plan.scope == "account" and plan.is_paid:
            text += f" for all your {plan.name} cameras together (up to {plan.max_cameras})"
        elif plan.is_paid:
            text += " for this camera"
        texts[cycle.value] = text
    return texts


def next_bill_dates(summary: dict, now: datetime) -> dict[str, datetime]:
    """When the next bill falls for each cycle the owner may pick (POLICY.md section 4):
    a new subscription or a switch to annual starts a period now; monthly from annual
    waits for the end of the paid year; the same cycle keeps the period's end. In a
    free trial every change is free and the first bill stays at its end (section 12)."""
    end = as_datetime(summary.get("current_period_end"))
    if summary.get("status") == "trialing" and end is not None:
        return {cycle.value: end for cycle in Cycle}
    if summary.get("status") == "none" or end is None:
        return {cycle.value: add_months(now, cycle.months) for cycle in Cycle}
    annual = end if summary.get("cycle") == Cycle.ANNUAL.value else add_months(now, Cycle.ANNUAL.months)
    return {Cycle.MONTHLY.value: end, Cycle.ANNUAL.value: annual}


def running_total(catalog: Catalog, cameras: dict[str, str], cycle: str, dates: dict[str, datetime]) -> dict:
    """The picked plans' price per period and the next bill, as the page shows them."""
    if cycle not in PER or any(code not in catalog for code in cameras.values()):
        return {"price": "", "next_bill": ""}
    cents = price_of(catalog, cameras, cycle)
    if not cents:
        return {"price": price_text(0, cycle, catalog.currency), "next_bill": "none: every camera on Free"}
    return {"price": price_text(cents, cycle, catalog.currency),
            "next_bill": f"{format_money(cents, catalog.currency)} on {when(dates[cycle])}"}


def plans_json(catalog: Catalog) -> str:
    """The catalog as the script needs it: scope, camera limit and price of each cycle."""
    return json.dumps({
        plan.code: {"scope": plan.scope, "max": plan.max_cameras, "name": plan.name,
                    **{cycle.value: plan.price(cycle) for cycle in Cycle}}
        for plan in catalog
    })


def form_figures(catalog: Catalog, summary: dict, now: datetime, cameras: dict[str, str], cycle: str,
                 *, trial: bool = False) -> dict:
    """`trial`: the form starts the free trial (its box ticked), so the first bill falls at
    the trial's end whatever the cycle."""
    dates = next_bill_dates(summary, now)
    trial_end = now + timedelta(days=catalog.trial_days)
    if trial:
        dates = dict.fromkeys(dates, trial_end)
    paid = summary.get("status") != "none" and summary.get("cycle")
    return {
        "now_price": price_text(summary["price"], summary["cycle"], catalog.currency) if paid else "Free (no paid plan)",
        "total": running_total(catalog, cameras, cycle, dates),
        "plans_json": plans_json(catalog),
        "next_dates": {key: when(value) for key, value in dates.items()},
        "trial_next_date": when(trial_end),  # the JS's date while the trial box is ticked
        "option_prices": {plan.code: option_prices(plan, catalog.currency) for plan in catalog},
    }
