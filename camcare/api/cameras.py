"""Cameras (API.md "Catalog and cameras") and each camera's clip list."""

from __future__ import annotations

from django.urls import reverse
from ninja import Router, Schema, Status
from pydantic import Field

from camcare.api.base import ApiError, caller, not_found
from camcare.api.schemas import ChangeOut, ErrorOut, RequestBody
from camcare.billing import actions
from camcare.billing.errors import BillingRefusal
from camcare.cameras import services
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


class CameraCreated(CameraOut):
    device_token: str = Field(description="Shown once: only its SHA-256 is kept. The camera sends "
                                          "it as 'Authorization: Device <token>'.")


class ClipOut(Schema):
    id: str
    recorded_at: str
    duration_s: int
    size: int = Field(description="Bytes")
    url: str = Field(description="The video: GET it, with a Range header to seek")


@router.get("/cameras", response=list[CameraOut])
def list_cameras(request):
    return [services.camera_to_api(camera) for camera in services.cameras_of(caller(request))]


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
