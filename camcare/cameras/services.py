"""Cameras: registration with a device token, and each camera's video-history window.

Registration is not billing state (a new camera starts on `free`); `Camera.plan` is
written only by camcare.billing.actions.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction

from camcare import clock
from camcare.accounts.models import Account
from camcare.cameras.errors import CameraRefusal
from camcare.cameras.models import Camera, Clip
from camcare.catalog import get_catalog
from camcare.domain import periods
from camcare.tokens import hash_token, new_token

NAME_MAX = Camera._meta.get_field("name").max_length
MODEL_MAX = Camera._meta.get_field("model").max_length
SERIAL_MAX = Camera._meta.get_field("serial").max_length


def normalize_serial(serial: str) -> str:
    """Serials are compared trimmed and upper-cased (printed labels vary in case)."""
    return serial.strip().upper()


def _checked(value: str, field: str, limit: int, *, required: bool) -> str:
    if not isinstance(value, str):
        raise CameraRefusal(422, f"invalid_{field}", f"The camera's {field} must be text.")
    value = value.strip()
    if required and not value:
        raise CameraRefusal(422, f"invalid_{field}", f"The camera's {field} cannot be empty.")
    if len(value) > limit:
        raise CameraRefusal(422, f"invalid_{field}", f"The camera's {field} is longer than {limit} characters.")
    if any(ord(ch) < 32 for ch in value):
        raise CameraRefusal(422, f"invalid_{field}", f"The camera's {field} contains control characters.")
    return value


def new_device_token() -> str:
    return new_token("dev")


def checked_fields(name: str, model: str, serial: str) -> tuple[str, str, str]:
    """(name, model, serial) as a camera stores them: trimmed, the serial upper-cased.
    Raises CameraRefusal 422 invalid_name / invalid_model / invalid_serial."""
    return (
        _checked(name, "name", NAME_MAX, required=True),
        _checked(model or "", "model", MODEL_MAX, required=False),
        normalize_serial(_checked(serial, "serial", SERIAL_MAX, required=True)),
    )


def register_camera(account: Account, name: str, model: str, serial: str) -> tuple[Camera, str]:
    """Add a camera to `account` on the free plan. Returns the camera and its device token,
    which is shown once: only its SHA-256 is kept. Raises CameraRefusal (422 for a bad
    field, 409 camera_already_registered when any account holds the serial)."""
    name, model, serial = checked_fields(name, model, serial)
    if Camera.objects.filter(serial=serial).exists():
        raise already_registered()
    token = new_device_token()
    try:
        with transaction.atomic():
            camera = Camera.objects.create(
                account=account, name=name, model=model, serial=serial,
                device_token_hash=hash_token(token),
            )
    except IntegrityError as exc:  # a concurrent registration of the same serial won
        raise already_registered() from exc
    return camera, token


def rename_camera(camera: Camera, name: str) -> Camera:
    """Give the camera a new name (the owner's label: not billing state, no audit row).
    Raises CameraRefusal 422 invalid_name like registration."""
    camera.name = _checked(name, "name", NAME_MAX, required=True)
    Camera.objects.filter(pk=camera.pk).update(name=camera.name)
    return camera


def already_registered() -> CameraRefusal:
    """The refusal of a serial that an account holds (also for a race lost at the INSERT)."""
    return CameraRefusal(
        409, "camera_already_registered",
        "This camera's serial is already registered to an account. Remove it there first.",
    )


def refuse_registered_serial(serial: str, *, replacing: Camera) -> None:
    """A replacement is a camera new to camcare: its serial (normalized) may be on no
    account, the replaced camera's own included (replacing a camera with itself would
    only kill its device token). Raises CameraRefusal 409 camera_already_registered."""
    if serial == replacing.serial:
        raise CameraRefusal(
            409, "camera_already_registered",
            "That is the serial of the camera being replaced: enter the serial of the new camera.",
        )
    if Camera.objects.filter(serial=serial).exists():
        raise already_registered()


def hand_over_clips(old: Camera, new: Camera) -> int:
    """Make every clip of `old` one of `new` (POLICY.md section 14: its history); returns
    how many. Run in the replacement's transaction, before `old` is deleted (its cascade
    would erase the rows). Tombstoned clips move too: the sweep finishes them wherever
    they are; so do held ones, with their hold (`held_until` is the clip's own). The files stay under their keys (clips/<account>/<old camera>/...): a clip's
    key is only where its bytes are, found through its row (erasure, playback, ZIPs, the
    orphan pass), never rebuilt from its camera, so nothing is copied in the object
    storage. On local storage the old camera's folder stays once empty (erase_camera tidies
    only the folder named after the camera it erases)."""
    return Clip.objects.filter(camera=old).update(camera=new)


def camera_for_device_token(token: str) -> Camera | None:
    if not token:
        return None
    camera = (
        Camera.objects.select_related("account")
        .filter(device_token_hash=hash_token(token))
        .first()
    )
    if camera is None or not camera.account.is_active:
        return None
    return camera


def history_days(plan: str) -> int | None:
    """Days of video a plan keeps; None for a plan code the catalog does not know."""
    catalog = get_catalog()
    return catalog[plan].history_days if plan in catalog else None


def window_start(camera: Camera, now: datetime) -> datetime | None:
    """Clips recorded before this instant are outside `camera`'s window (POLICY.md 6)."""
    days = history_days(camera.plan)
    return None if days is None else periods.window_start(now, days)


def camera_to_api(camera: Camera) -> dict:
    return {
        "id": camera.id,
        "name": camera.name,
        "model": camera.model,
        "serial": camera.serial,
        "plan": camera.plan,
        "history_days": history_days(camera.plan),
    }


def cameras_of(account: Account):
    return Camera.objects.filter(account=account)


def camera_of(account: Account, camera_id: str) -> Camera | None:
    """`account`'s camera with this id, or None (another account's camera is not found)."""
    return Camera.objects.filter(account=account, id=camera_id).first()


def visible_clips(camera: Camera):
    """The camera's clips the owner can see, newest first: a tombstoned clip is gone, a
    held one is unreachable (Clip.objects.visible), and so is one that aged out of the
    window even if the daily sweep has not erased it yet."""
    clips = Clip.objects.visible().filter(camera=camera)
    start = window_start(camera, clock.now(camera.account))
    if start is not None:
        clips = clips.filter(recorded_at__gte=start)
    return clips.order_by("-recorded_at", "id")


def clip_of(account: Account, clip_id: str) -> Clip | None:
    clip = (
        Clip.objects.visible().select_related("camera")
        .filter(id=clip_id, camera__account=account)
        .first()
    )
    return clip if clip is not None and visible_clips(clip.camera).filter(pk=clip.pk).exists() else None
