"""Replacing a camera (POLICY.md section 14): a new camera takes the old one's place.

The new camera gets a new id and a new device token, and takes over in one transaction
what the old one held: its plan, its paid line (same line row, same paid amount, for the
rest of the period: no proration, no order, no ledger entry) and its clips. The old camera
row is deleted, so its device token stops working and its serial may be registered again.
It changes no priced line, so it is allowed on every channel (an app-store subscription
too) and in every status (past_due included).

Concurrency (ARCHITECTURE.md, "Money and concurrency"): a change or a renewal in flight
prices lines keyed by camera id between its claim and its step 3, so a replacement must
not move a line under it. The replacement's transaction starts with the same conditional
UPDATE as every write: only while no claim is held (`claimed_by = ""`), bumping `version`.
  - a claim held (a paid change, a renewal, a retry in flight): refused, change_in_progress,
    nothing written; the owner tries again in a moment;
  - a quote priced before the replacement names the old camera: the version moved, so it
    is stale (quote_stale) and cannot be executed;
  - a claim taken after the replacement reads the new camera (a renewal reads the plans
    under its claim; a change is priced from the bumped version).
On PostgreSQL that UPDATE also locks the subscription row until the commit, so two
replacements of one camera are serialized and the second finds the camera gone (404).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F

from camcare import clock
from camcare.audit.events import Event, audit
from camcare.billing.actions import trials
from camcare.billing.actions.common import subscription_for
from camcare.billing.errors import change_in_progress
from camcare.billing.models import Channel, Subscription, SubscriptionLine
from camcare.cameras import services
from camcare.cameras.errors import CameraRefusal
from camcare.cameras.models import Camera
from camcare.domain.pricing import Status
from camcare.tokens import hash_token


@dataclass(frozen=True)
class Replaced:
    camera: Camera  # the new camera, on the old one's plan
    device_token: str  # shown once: only its SHA-256 is kept
    replaced_id: str  # the old camera's id, which answers 404 from now on
    clips: int  # clips handed over
    lines: int  # active subscription lines handed over (0 or 1: a plus line is per camera)


def replace_camera(*, account, old_camera: Camera, serial: str, model: str = "", name: str | None = None,
                   actor) -> Replaced:
    """Register the camera `serial` as the replacement of `old_camera` (POLICY.md 14).

    `name` None keeps the old camera's name. Raises CameraRefusal (422 invalid_<field>,
    409 camera_already_registered for a serial on any account, the old camera's own too,
    404 not_found when `old_camera` is no longer on `account`) or BillingRefusal
    change_in_progress (another change or a renewal holds the subscription)."""
    name, model, serial = services.checked_fields(old_camera.name if name is None else name, model, serial)
    services.refuse_registered_serial(serial, replacing=old_camera)
    subscription = subscription_for(account)  # exists before the claim, like for a change
    token = services.new_device_token()
    with transaction.atomic():
        _claim(subscription)
        old = Camera.objects.filter(pk=old_camera.pk, account=account).first()  # read under the claim
        if old is None:  # removed or replaced meanwhile
            raise CameraRefusal(404, "not_found", "No such camera.")
        new = _create(account, old, name=name, model=model, serial=serial, token=token)
        clips = services.hand_over_clips(old, new)
        # Only the line in force moves: ended lines are history, kept under the camera
        # that held them. Account-wide lines (premium) have camera_key "" and stay as they are.
        lines = SubscriptionLine.objects.filter(
            subscription=subscription, ended_at__isnull=True, camera_key=old.pk,
        ).update(camera_key=new.pk)
        Camera.objects.filter(pk=old.pk).delete()  # its clips are the new camera's: nothing cascades
        if subscription.channel != Channel.APP_STORE:  # the new serial is now on a web paid plan (or trial)
            trials.mark_state_used(account, {new.pk: new.plan}, at=clock.now(account),
                                   trial=subscription.status == Status.TRIALING)
        audit(actor=actor, account=account, action=Event.CAMERA_REPLACED, at=clock.now(account),
              camera=new.pk, replaced=old.pk, plan=old.plan, clips=clips, lines=lines,
              old={"camera": old.pk, "name": old.name, "model": old.model, "serial": old.serial},
              new={"camera": new.pk, "name": new.name, "model": new.model, "serial": new.serial})
    return Replaced(camera=new, device_token=token, replaced_id=old.pk, clips=clips, lines=lines)


def _claim(subscription: Subscription) -> None:
    """Claim and release in one statement: the version bump makes every open quote stale,
    and the guard refuses while a payment's claim is held (see the module's docstring)."""
    if not Subscription.objects.filter(pk=subscription.pk, claimed_by="").update(version=F("version") + 1):
        raise change_in_progress()


def _create(account, old: Camera, *, name: str, model: str, serial: str, token: str) -> Camera:
    """The new camera on the old one's plan (`Camera.plan` is billing state: written here,
    in billing.actions). 409 when a registration of the same serial won the race."""
    try:
        with transaction.atomic():  # a savepoint: the refusal rolls back the whole replacement
            new = Camera.objects.create(account=account, name=name, model=model, serial=serial, plan=old.plan,
                                        device_token_hash=hash_token(token))
    except IntegrityError as exc:
        raise services.already_registered() from exc
    # It takes the old camera's place in the account's order too (oldest first): in the
    # lists, and among the cameras a store's per-camera purchase covers (covered_plans).
    Camera.objects.filter(pk=new.pk).update(created_at=old.created_at)
    new.created_at = old.created_at
    return new
