"""Change plan: choose a plan per camera and the cycle (with prices and a running total),
preview every line, confirm the quote (exactly what was previewed), then see what
happened with its Order IDs."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from camcare import clock
from camcare.billing import actions, selectors
from camcare.billing.actions import trials
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import Order, OrderKind, OrderStatus, Quote
from camcare.catalog import get_catalog
from camcare.domain.periods import Cycle
from camcare.portal import explain, previews
from camcare.portal.advice import cheaper_choices
from camcare.portal.forms import ChangeForm, ConfirmForm
from camcare.portal.reauth import recent_password_required
from camcare.portal.refusals import describe, store_refusal
from camcare.portal.totals import form_figures
from camcare.portal.views.billing_forms import page_status, run_once
from camcare.portal.views.common import cameras_of, describe_erasures, plan_rows, store_context

DONE_URLS = {"change": "portal:change_done", "cancel": "portal:cancel_done"}


def _posted_choices(request) -> dict[str, str]:
    """The change form's own fields of a POST (never its CSRF token or anything else)."""
    return {key: value for key, value in request.POST.items() if key.startswith("camera_") or key == "cycle"}


def _sign_in_keeping_choices(request):
    """A form sent after the session ended: sign in, then back to the form with the
    choices it carried (the login page says why it is shown)."""
    target = reverse("portal:change")
    choices = _posted_choices(request)
    if choices:
        cameras = {key.removeprefix("camera_"): value for key, value in choices.items() if key != "cycle"}
        target += "?" + previews.choices_query(cameras, choices.get("cycle"))
    return redirect_to_login(target if request.method == "POST" else request.get_full_path())


def _initial(request, summary: dict, cameras) -> dict:
    """The form's first choices: the plans now, or those a link carries (`?camera_<id>=`)."""
    catalog = get_catalog()
    initial = {"cycle": summary["cycle"] or Cycle.MONTHLY.value}
    if request.GET.get("cycle") in {c.value for c in Cycle}:
        initial["cycle"] = request.GET["cycle"]
    for camera in cameras:
        code = request.GET.get(f"camera_{camera.id}")
        if code in catalog:
            initial[f"camera_{camera.id}"] = code
    return initial


def _camera_choices(form: ChangeForm, option_prices: dict) -> list:
    return [
        (camera, field, current, [(radio, plan, option_prices[plan.code]) for radio, plan in options])
        for camera, field, current, options in form.bound_camera_fields()
    ]


def change(request):
    if not request.user.is_authenticated:
        return _sign_in_keeping_choices(request)
    account = request.user
    summary = selectors.subscription_summary(account)
    store = store_context(summary)
    catalog = get_catalog()
    cameras = cameras_of(account)
    context = {"summary": summary, "catalog": list(catalog), "currency": catalog.currency, **store}
    if store["is_app_store"]:
        shown = None
        if request.method == "POST":  # a refusal the owner sees carries its reference
            shown = store_refusal(request, store, "changed on the web")
        return render(request, "portal/billing/change.html", {**context, "rows": plan_rows(account), "shown": shown},
                      status=page_status(request, None, shown))
    offer_trial = summary["status"] == "none" and trials.may_offer_trial(account)
    form = ChangeForm(request.POST or None, cameras=cameras, catalog=catalog, offer_trial=offer_trial,
                      initial=_initial(request, summary, cameras))
    shown = None
    if request.method == "POST" and form.is_valid():
        chosen, cycle = form.chosen_cameras, form.cleaned_data["cycle"]
        try:
            result = actions.preview_change(account=account, cameras=chosen, cycle=cycle, trial=form.wants_trial,
                                            actor=account)
        except BillingRefusal as refusal:
            shown = describe(refusal, request=request)
        else:
            if result.changed:
                previews.remember(request, result, kind="change", cameras=chosen, cycle=cycle)
                return redirect("portal:preview", quote_id=result.quote_id)
            messages.info(request, "That is already your plan: nothing to change.")
    shown_cameras, shown_cycle = form.shown_choices()
    figures = form_figures(catalog, summary, clock.now(account), shown_cameras, shown_cycle, trial=form.trial_shown)
    context.update(form=form, shown=shown, advice=cheaper_choices(catalog, shown_cameras, shown_cycle),
                   cameras=cameras, camera_choices=_camera_choices(form, figures["option_prices"]),
                   shown_cycle=shown_cycle, **figures)
    return render(request, "portal/billing/change.html", context, status=page_status(request, form, shown))


def _own_quote(request, quote_id: str) -> Quote:
    return get_object_or_404(Quote, id=quote_id, account=request.user)


def execute_quote(request, form: ConfirmForm, kind: str, run) -> HttpResponse | object:
    """Confirm a previewed quote once. A quote this account already executed (a second
    tab, a replayed form) shows that execution's result instead of an error."""
    quote_id = form.cleaned_data["quote_id"]
    done_url = reverse(DONE_URLS[kind], kwargs={"quote_id": quote_id})

    def action() -> str:
        try:
            run(quote_id)
        except BillingRefusal as refusal:
            already = Quote.objects.filter(id=quote_id, account=request.user, executed_at__isnull=False).exists()
            if refusal.code == "quote_stale" and already:
                return done_url
            raise
        return done_url

    return run_once(request, form.key, quote_id, action)


def preview_context(request, stored: dict) -> dict:
    catalog = get_catalog()
    cameras = {camera.id: camera for camera in cameras_of(request.user)}
    names = {camera_id: camera.name for camera_id, camera in cameras.items()}
    result = stored["result"]
    state = {**selectors.current_plans(request.user), **stored["cameras"]}
    erasures = describe_erasures(result, cameras)
    return {
        "result": result,
        "lines": explain.line_rows(stored, names, catalog),
        "camera_changes": explain.camera_rows(stored, names, catalog),
        "effect": explain.effect(stored),
        "erasures": erasures,
        "clips_erased": sum(erasure["clips"] for erasure in erasures),
        "card": selectors.payment_method_of(request.user),
        "advice": cheaper_choices(catalog, state, stored["cycle"]) if stored["kind"] == "change" else [],
        "cameras": cameras,
        "currency": result["currency"],
        "choices": stored["cameras"],
        "choices_cycle": stored["cycle"],
        "choose_again_url": reverse("portal:change") + "?" + previews.choices_query(stored["cameras"], stored["cycle"]),
    }


def _choose_again(quote: Quote):
    """Back to the form with the quote's choices (e.g. a preview of an earlier session)."""
    target = quote.target
    return redirect(reverse("portal:change") + "?" + previews.choices_query(target["cameras"], target["cycle"]))


@recent_password_required
def preview(request, quote_id: str):
    quote = _own_quote(request, quote_id)
    if quote.executed_at is not None:
        return redirect("portal:change_done", quote_id=quote.id)
    stored = previews.recall(request, quote.id)
    if stored is None or stored["kind"] != "change":
        messages.info(request, "That preview was made before you signed in again. Your choices are kept: preview them again.")
        return _choose_again(quote)
    form = ConfirmForm(request.POST or None, initial={"quote_id": quote.id})
    shown = None
    if request.method == "POST" and form.is_valid() and form.cleaned_data["quote_id"] == quote.id:
        outcome = execute_quote(
            request, form, "change",
            lambda qid: actions.change_plan(account=request.user, quote_id=qid, actor=request.user),
        )
        if isinstance(outcome, HttpResponse):
            return outcome
        shown = outcome
    elif request.method == "POST":  # not this page's confirmation: nothing is executed
        shown = describe(BillingRefusal("quote_stale", "malformed confirmation of a change"), request=request)
        form = ConfirmForm(initial={"quote_id": quote.id})
    context = {**preview_context(request, stored), "form": form, "shown": shown, "quote": quote,
               "stale": previews.is_stale(request.user, quote),
               "card_url": reverse("portal:card") + "?" + urlencode({"next": request.path})}
    return render(request, "portal/billing/preview.html", context, status=page_status(request, form, shown))


def switch_of(quote: Quote) -> dict | None:
    """A cycle switch the executed quote scheduled for the period end (annual -> monthly)."""
    outcome = quote.outcome
    scheduled, period = outcome.get("scheduled_cycle"), outcome.get("period")
    if not scheduled or not period or scheduled == outcome["state"]["cycle"]:
        return None
    return {"cycle": scheduled, "at": period[1], "from": outcome["state"]["cycle"]}


@login_required
def done(request, quote_id: str, kind: str):
    """What an executed change or cancel did: its orders (with Order IDs) and the plans now."""
    quote = _own_quote(request, quote_id)
    if quote.executed_at is None:
        return redirect("portal:preview", quote_id=quote.id) if kind == "change" else redirect("portal:cancel")
    orders = list(
        Order.objects.filter(account=request.user, quote=quote)
        .exclude(status=OrderStatus.FAILED).order_by("created_at", "id")
    )
    summary = selectors.subscription_summary(request.user)
    outcome = quote.outcome
    context = {
        "kind": kind, "quote": quote, "orders": orders, "summary": summary,
        "rows": plan_rows(request.user), "currency": summary["currency"],
        "refunds": [order for order in orders if order.kind == OrderKind.REFUND],
        "credits": [order for order in orders if order.kind == OrderKind.CREDIT],
        "charges": [order for order in orders if order.kind == OrderKind.CHARGE],
        "switch": switch_of(quote),
        "changes_now": bool(outcome.get("lines") or outcome.get("shrinks") or outcome.get("moves_cameras")),
    }
    return render(request, "portal/billing/done.html", context)


@login_required
def drop_scheduled_change(request):
    if request.method != "POST":
        return redirect("portal:home")
    scheduled = selectors.subscription_summary(request.user)["scheduled_change"]
    try:
        actions.drop_scheduled_change(account=request.user, actor=request.user)
    except BillingRefusal as refusal:
        shown = describe(refusal, request=request)
        messages.error(request, f"{shown.message} Reference: {shown.reference}")
    else:
        stop = scheduled is not None and scheduled["kind"] == "stop"
        messages.success(request, "Your plan renews as before." if stop else "Your billing cycle stays as it is.")
    return redirect("portal:home")
