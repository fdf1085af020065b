"""Cameras (API.md "Catalog and cameras"), their replacement (POLICY.md section 14) and each
camera's clip list."""

from __future__ import annotations

from django.urls import reverse
from ninja import Router, Schema, Status
from pydantic import Field

from camcare.api.base import ApiError, caller, not_found
from camcare.api.schemas import ChangeOut, ErrorOut, HeldOut, RequestBody
from camcare.billing import actions
from camcare.billing.errors import BillingRefusal
from camcare.cameras import holds, services
from camcare.cameras.errors import CameraRefusal
from camcare.domain.periods import iso_z

router = Router(tags=["cameras"])


class CameraIn(RequestBody):
    name: str = Field(description="Where it is, e.g. 'Front door'; 1 to 100 characters")
    model: str = Field("", description="Up to 100 characters")
    serial: str = Field(description="Compared trimmed and upper-cased; one account at a time")


class CameraOut(Schema):
    id: str
    name: str
    model: str
    serial: str
    plan: str
    history_days: int | None


class CameraListed(CameraOut):
    """A camera as `GET /cameras` lists it (API.md: it adds `held`)."""

    held: HeldOut | None = Field(description="Older clips held after a lapse or a trial that ended unpaid "
                                             "(POLICY.md section 6); null when none are")


def held_to_api(summary: dict, camera_id: str) -> dict | None:
    """`held` of one camera from holds.held_summary."""
    if camera_id not in summary:
        return None
    clips, until = summary[camera_id]
    return {"clips": clips, "until": iso_z(until)}


class CameraCreated(CameraOut):
    device_token: str = Field(description="Shown once: only its SHA-256 is kept. The camera sends "
                                          "it as 'Authorization: Device <token>'.")


class ClipOut(Schema):
    id: str
    recorded_at: str
    duration_s: int
    size: int = Field(description="Bytes")
    url: str = Field(description="The video: GET it, with a Range header to seek")


@router.get("/cameras", response=list[CameraListed])
def list_cameras(request):
    account = caller(request)
    held = holds.held_summary(account)  # one query for every camera
    return [{**services.camera_to_api(camera), "held": held_to_api(held, camera.id)}
            for camera in services.cameras_of(account)]


@router.post("/cameras", response={201: CameraCreated, 409: ErrorOut, 422: ErrorOut})
def register_camera(request, payload: CameraIn):
    try:
        camera, token = services.register_camera(caller(request), payload.name, payload.model, payload.serial)
    except CameraRefusal as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    return Status(201, {**services.camera_to_api(camera), "device_token": token})


@router.delete("/cameras/{camera_id}", response={200: ChangeOut, 402: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut})
def remove_camera(request, camera_id: str):
    """The camera leaves the account: its paid line is removed as a change, then the
    camera and all its clips are erased. Answers the change's result (API.md R)."""
    account = caller(request)
    camera = services.camera_of(account, camera_id)
    if camera is None:
        raise not_found("camera")
    try:
        result = actions.remove_camera(account=account, camera=camera, actor=account)
    except BillingRefusal as exc:
        raise ApiError(exc.status, exc.code, exc.message, extra=exc.extra) from exc
    return result.to_api()


class ReplacementIn(RequestBody):
    name: str | None = Field(None, description="1 to 100 characters; left out (or null): the old camera's name")
    model: str = Field("", description="Up to 100 characters")
    serial: str = Field(description="The new camera's; compared trimmed and upper-cased, on no account yet "
                                    "(the old camera's own serial is refused too)")


class CameraReplaced(CameraCreated):
    replaces: str = Field(description="The id of the camera it replaced, which answers 404 from now on")


def _error(description: str) -> dict:
    """An error's OpenAPI answer with its codes (ninja's own would say only "Conflict")."""
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}}}


REPLACE_ERRORS = {
    "404": _error("`not_found`: no such camera on the caller's account (an id of another account included)"),
    "409": _error("`camera_already_registered`: the serial is on an account (the replaced camera's own "
                  "included); `change_in_progress`: a payment or renewal of the subscription is in "
                  "flight, try again in a moment; `idempotency_key_in_use`"),
    "422": _error("`invalid_name`, `invalid_model`, `invalid_serial`; `invalid_request` (not the body "
                  "this operation takes); `idempotency_key_reused`, `invalid_idempotency_key`"),
}


@router.post("/cameras/{camera_id}/replace", response={201: CameraReplaced, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut},
             openapi_extra={"responses": REPLACE_ERRORS})
def replace_camera(request, camera_id: str, payload: ReplacementIn):
    """Register a new camera as the replacement of this one (POLICY.md section 14): it
    takes the old camera's plan, its paid line for the rest of the period (no proration,
    no order) and its clips; it gets a new id and device token (shown once). The old
    camera leaves the account: its id answers 404 and its device token 401 from now on,
    and its serial may be registered again. Allowed on every channel, app stores included."""
    account = caller(request)
    camera = services.camera_of(account, camera_id)
    if camera is None:
        raise not_found("camera")
    try:
        replaced = actions.replace_camera(account=account, old_camera=camera, name=payload.name,
                                          model=payload.model, serial=payload.serial, actor=account)
    except CameraRefusal as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    body = {**services.camera_to_api(replaced.camera), "device_token": replaced.device_token,
            "replaces": replaced.replaced_id}
    return Status(201, body)


def clip_to_api(clip) -> dict:
    return {
        "id": clip.id,
        "recorded_at": iso_z(clip.recorded_at),
        "duration_s": clip.duration_s,
        "size": clip.size,
        "url": reverse("api-v1:clip_video", kwargs={"clip_id": clip.id}),
    }


@router.get("/cameras/{camera_id}/clips", response={200: list[ClipOut], 404: ErrorOut})
def list_clips(request, camera_id: str):
    """The camera's clips, newest first."""
    camera = services.camera_of(caller(request), camera_id)
    if camera is None:
        raise not_found("camera")
    return [clip_to_api(clip) for clip in services.visible_clips(camera)]
