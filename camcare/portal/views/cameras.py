"""Managing a camera: rename it, replace it, and remove it from the account. A removal is
shown first like a change (the money: its paid line moved to Free, priced by the billing
preview; the erasure: every clip of the camera), confirmed by typing REMOVE, and done once.
A replacement (POLICY.md section 14) is a form, a confirmation of what moves, then the new
device token, shown once."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from camcare import clock
from camcare.billing import actions, selectors
from camcare.billing.errors import BillingRefusal
from camcare.billing.models import Order, OrderKind, OrderStatus, Quote
from camcare.cameras import erasure, holds, services
from camcare.cameras.errors import CameraRefusal
from camcare.cameras.views import FIELD_OF_REFUSAL, download_url
from camcare.catalog import get_catalog
from camcare.domain.catalog import FREE
from camcare.portal import previews
from camcare.portal.forms import IdempotentForm, RemoveCameraForm, RenameCameraForm
from camcare.portal.reauth import recent_password_required
from camcare.portal.refusals import describe
from camcare.portal.views.auth import form_status
from camcare.portal.views.billing_forms import page_status, run_once
from camcare.portal.views.change import preview_context
from camcare.portal.views.common import plan_name, plan_rows


def _no_such_camera() -> str:
    raise Http404("No such camera.")


def _owned_camera(request, camera_id: str):
    camera = services.camera_of(request.user, camera_id) if "\x00" not in camera_id else None
    if camera is None:
        raise Http404("No such camera.")
    return camera


@login_required
def rename(request, camera_id: str):
    camera = _owned_camera(request, camera_id)
    form = RenameCameraForm(request.POST or None, initial={"name": camera.name})
    if request.method == "POST" and form.is_valid():
        old = camera.name
        try:
            services.rename_camera(camera, form.cleaned_data["name"])
        except CameraRefusal as refusal:
            form.add_error("name", refusal.message)
        else:
            messages.success(request, f"“{old}” is now called “{camera.name}”.")
            return redirect("portal:home")
    return render(request, "portal/cameras/rename.html", {"camera": camera, "form": form},
                  status=form_status(request, form))


def _all_clips_before(account):
    """An instant after every clip of the account: a clip is never recorded in its future."""
    return clock.now(account) + timedelta(days=1)


def _removal_preview(request, camera) -> tuple[dict | None, object]:
    """(the preview's stored facts, or None for a camera on Free; a refusal, or None).
    The money is the billing preview of this camera moved to Free (POLICY.md section 4)."""
    if camera.plan == FREE:
        return None, None
    try:
        result = actions.preview_change(account=request.user, cameras={camera.id: FREE}, actor=request.user)
    except BillingRefusal as refusal:
        return None, describe(refusal, request=request)
    return previews.remember(request, result, kind="remove", cameras={camera.id: FREE}, cycle=None), None


def _remove_page(request, camera, *, form=None, shown=None):
    """The removal's page. A form sent back with an error keeps the preview it was for."""
    stored = previews.recall(request, form.data.get("quote_id", "")) if form is not None else None
    refusal = None
    if stored is None or stored["kind"] != "remove" or stored["cameras"] != {camera.id: FREE}:
        stored, refusal = _removal_preview(request, camera)
    shown = shown or refusal
    cutoff = _all_clips_before(request.user)
    clips = erasure.count_clips_before(camera.id, cutoff)
    held = holds.held_summary(request.user).get(camera.id, (0, None))[0]  # hidden, erased too
    context = {
        "camera": camera, "shown": shown, "blocked": refusal is not None, "clips": clips, "held": held,
        "plan_name": plan_name(get_catalog(), camera.plan),
        "download_url": download_url(camera.id, cutoff) if clips else "",
        "form": form or RemoveCameraForm(initial={"quote_id": stored["quote"] if stored else ""}),
    }
    if stored is not None:
        # Not the preview's erasures: a removed camera loses every clip, said above them.
        context.update({**preview_context(request, stored), "erasures": [], "camera_changes": []})
    return render(request, "portal/cameras/remove.html", context, status=page_status(request, form, shown))


def _still_priced(request, camera, quote_id: str) -> bool:
    """The removal shown is still what removing does now: the same quote, still fresh."""
    if not quote_id:
        return camera.plan == FREE
    quote = Quote.objects.filter(id=quote_id, account=request.user, executed_at__isnull=True).first()
    return quote is not None and not previews.is_stale(request.user, quote)


def _removed_url(result) -> str:
    url = reverse("portal:camera_removed")
    return url + "?" + urlencode({"quote": result.quote_id}) if result.quote_id else url


@recent_password_required
def remove(request, camera_id: str):
    if request.method == "POST":
        return _remove_posted(request, camera_id)
    return _remove_page(request, _owned_camera(request, camera_id))


def _remove_posted(request, camera_id: str):
    form = RemoveCameraForm(request.POST)
    camera = services.camera_of(request.user, camera_id) if "\x00" not in camera_id else None
    if camera is None:  # a second click after the first removed it: the first's result
        outcome = run_once(request, form.key, f"remove:{camera_id}", _no_such_camera) if form.is_valid() else None
        if isinstance(outcome, HttpResponse):
            return outcome
        raise Http404("No such camera.")
    if not form.is_valid():
        return _remove_page(request, camera, form=form)
    if not _still_priced(request, camera, form.cleaned_data["quote_id"]):
        shown = describe(BillingRefusal("quote_stale", "camera removal priced before a change"), request=request)
        return _remove_page(request, camera, shown=shown)
    name, clips = camera.name, erasure.count_clips_before(camera.id, _all_clips_before(request.user))

    def action() -> str:
        result = actions.remove_camera(account=request.user, camera=camera, actor=request.user,
                                       quote_id=form.cleaned_data["quote_id"] or None)
        messages.success(request, f"{name} is removed from your account, with its {clips} clip{'s' if clips != 1 else ''}.")
        return _removed_url(result)

    outcome = run_once(request, form.key, f"remove:{camera.id}", action)
    if isinstance(outcome, HttpResponse):
        return outcome
    return _remove_page(request, camera, shown=outcome)


@login_required
def removed(request):
    """After a removal: the money it moved (with Order IDs) and the cameras left."""
    quote_id = request.GET.get("quote", "")
    orders = []
    if quote_id and "\x00" not in quote_id:
        orders = list(
            Order.objects.filter(account=request.user, quote_id=quote_id)
            .exclude(status=OrderStatus.FAILED).order_by("created_at", "id")
        )
    summary = selectors.subscription_summary(request.user)
    return render(request, "portal/cameras/removed.html", {
        "orders": orders, "summary": summary, "rows": plan_rows(request.user), "currency": summary["currency"],
        "refunds": [order for order in orders if order.kind == OrderKind.REFUND],
        "credits": [order for order in orders if order.kind == OrderKind.CREDIT],
        "charges": [order for order in orders if order.kind == OrderKind.CHARGE and order.amount],
    })


# ---------------------------------------------------------------- replacing a camera


class ReplaceCameraForm(IdempotentForm):
    """The new camera's details; `step` says which page sent them: the details ("review"),
    the confirmation ("confirm"), or its "change the details" button ("edit")."""

    serial = forms.CharField(
        label="Serial number of the new camera", max_length=services.SERIAL_MAX,
        help_text="Printed on the label under the new camera; capitals or not, it is the same serial.",
    )
    model = forms.CharField(label="Model", max_length=services.MODEL_MAX, required=False)
    name = forms.CharField(label="Name", max_length=services.NAME_MAX, help_text="Where it is, e.g. “Front door”.")
    step = forms.ChoiceField(choices=[("review", "review"), ("confirm", "confirm"), ("edit", "edit")],
                             widget=forms.HiddenInput, initial="review")


def _replace_facts(camera) -> dict:
    """What the confirmation says moves to the new camera."""
    catalog = get_catalog()
    return {"plan_name": plan_name(catalog, camera.plan), "history_days": services.history_days(camera.plan),
            "paid": camera.plan != FREE, "clips": services.visible_clips(camera).count()}


def _replace_page(request, camera, form, *, shown=None, confirm: bool = False):
    template = "portal/cameras/replace_confirm.html" if confirm else "portal/cameras/replace.html"
    context = {"camera": camera, "form": form, "shown": shown, **_replace_facts(camera)}
    return render(request, template, context, status=page_status(request, form, shown))


def _precheck(form, camera) -> bool:
    """The service's own checks before the confirmation is shown (it checks them again)."""
    data = form.cleaned_data
    try:
        _, _, serial = services.checked_fields(data["name"], data["model"], data["serial"])
        services.refuse_registered_serial(serial, replacing=camera)
    except CameraRefusal as refusal:
        form.add_error(FIELD_OF_REFUSAL.get(refusal.code), refusal.message)
        return False
    return True


@recent_password_required
def replace(request, camera_id: str):
    if request.method == "POST":
        return _replace_posted(request, camera_id)
    camera = _owned_camera(request, camera_id)
    form = ReplaceCameraForm(initial={"name": camera.name, "model": camera.model})
    return _replace_page(request, camera, form)


def _replace_posted(request, camera_id: str):
    form = ReplaceCameraForm(request.POST)
    confirmed = form.is_valid() and form.cleaned_data["step"] == "confirm"
    camera = services.camera_of(request.user, camera_id) if "\x00" not in camera_id else None
    if camera is None:  # a second click after the first replaced it: the first's result
        outcome = run_once(request, form.key, f"replace:{camera_id}", _no_such_camera) if confirmed else None
        if isinstance(outcome, HttpResponse):
            return outcome
        raise Http404("No such camera.")
    if not form.is_valid() or form.cleaned_data["step"] == "edit" or not _precheck(form, camera):
        return _replace_page(request, camera, form)
    if not confirmed:
        return _replace_page(request, camera, form, confirm=True)
    return _replace_confirmed(request, camera, form)


def _replace_confirmed(request, camera, form):
    """Replace once (the form's key); the first answer shows the token, a resubmission of
    the same form goes to the replaced page, which never shows it."""
    data, done = form.cleaned_data, {}

    def action() -> str:
        done["replaced"] = actions.replace_camera(account=request.user, old_camera=camera, name=data["name"],
                                                  model=data["model"], serial=data["serial"], actor=request.user)
        return reverse("portal:camera_replaced", kwargs={"camera_id": done["replaced"].camera.id})

    try:
        outcome = run_once(request, form.key, f"replace:{camera.id}", action)
    except CameraRefusal as refusal:  # e.g. the serial was registered since the confirmation
        if refusal.status == 404:
            raise Http404("No such camera.") from refusal
        form.add_error(FIELD_OF_REFUSAL.get(refusal.code), refusal.message)
        return _replace_page(request, camera, form)
    if "replaced" in done:
        return _token_page(request, done["replaced"], old_name=camera.name)
    if isinstance(outcome, HttpResponse):
        return outcome
    return _replace_page(request, camera, form, shown=outcome, confirm=True)


def _token_page(request, replaced, *, old_name: str):
    """The device token is on this answer and never again: not a redirect, not cached."""
    response = render(request, "portal/cameras/replaced.html", {
        "camera": replaced.camera, "device_token": replaced.device_token, "old_name": old_name,
        **_replace_facts(replaced.camera),
    })
    response["Cache-Control"] = "no-store"
    return response


@login_required
def replaced(request, camera_id: str):
    """The replacement's result without the token (what a resubmitted form is sent to)."""
    camera = _owned_camera(request, camera_id)
    return render(request, "portal/cameras/replaced.html", {"camera": camera, "device_token": "",
                                                            **_replace_facts(camera)})
