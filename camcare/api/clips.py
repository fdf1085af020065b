"""Clips: the device upload and the owner's playback (API.md "Clips")."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.security import APIKeyHeader

from camcare import clock
from camcare.api.base import ApiError, caller, declared_length, not_found
from camcare.api.schemas import ErrorOut
from camcare.cameras import clipstore, services
from camcare.cameras.errors import CameraRefusal
from camcare.cameras.ranges import Unsatisfiable, ranged_response

router = Router(tags=["clips"])

# The one route that takes a multipart body; every other mutating route takes JSON.
UPLOAD_PATH = "/api/v1/device/clips"

# Multipart framing and the two small form fields around the file, in bytes: a request
# declaring more than CLIP_MAX_BYTES plus this cannot hold an acceptable clip.
MULTIPART_SLACK = 64 * 1024


def _too_large(size: int) -> ApiError:
    return ApiError(413, "clip_too_large", f"A clip may be at most {settings.CLIP_MAX_BYTES} bytes; this upload has {size} or more.")


class ClipSizeGuard(FileUploadHandler):
    """Stops reading an upload as soon as its file passes CLIP_MAX_BYTES, whatever the
    request declared (a chunked body has no Content-Length)."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > settings.CLIP_MAX_BYTES:
            raise _too_large(start + len(raw_data))
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def guard_upload_size(request: HttpRequest) -> None:
    """413 before the body is read when the declared size is too big; otherwise watch
    the bytes as they are parsed. The Idempotency-Key middleware calls it before it reads
    an upload, and the device authentication again (ninja authenticates before it parses
    the body), so that no upload is ever read without it."""
    declared = declared_length(request)
    if declared is None and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Django under WSGI reads no byte of a body without Content-Length: the upload
        # would arrive empty and be refused for a missing file, which says nothing useful.
        raise ApiError(411, "length_required", "Send the upload with a Content-Length header; a chunked body is not read.")
    if declared is not None and declared > settings.CLIP_MAX_BYTES + MULTIPART_SLACK:
        raise _too_large(declared - MULTIPART_SLACK)
    if hasattr(request, "_files"):
        return  # parsed already, by the middleware after it installed the guard
    if not any(isinstance(handler, ClipSizeGuard) for handler in request.upload_handlers):
        request.upload_handlers.insert(0, ClipSizeGuard(request))


class DeviceAuth(APIKeyHeader):
    """`Authorization: Device <device token>`: the camera itself. Bearer tokens and the
    portal session are not accepted here (an owner cannot upload as a camera)."""

    param_name = "Authorization"

    def authenticate(self, request: HttpRequest, key: str | None):
        scheme, _, token = (key or "").partition(" ")
        camera = services.camera_for_device_token(token.strip()) if scheme.lower() == "device" else None
        if camera is None:
            raise ApiError(401, "unauthorized", "Send the camera's device token: 'Authorization: Device <token>'.")
        request.auth_account = camera.account
        guard_upload_size(request)
        return camera


class ClipCreated(Schema):
    id: str


@router.post(UPLOAD_PATH.removeprefix("/api/v1"), auth=DeviceAuth(),
             response={201: ClipCreated, 401: ErrorOut, 411: ErrorOut, 413: ErrorOut, 415: ErrorOut, 422: ErrorOut})
def upload_clip(request, file: File[UploadedFile], recorded_at: Form[str], duration_s: Form[int]):
    """A camera uploads one clip (MP4 or WebM, at most CLIP_MAX_BYTES). `recorded_at`
    is when the recording started, ISO 8601 with a time zone; `duration_s` in seconds."""
    camera = request.auth
    try:
        clip = clipstore.receive_clip(
            camera=camera, upload=file, recorded_at=recorded_at, duration_s=duration_s,
            now=clock.now(camera.account),
        )
    except CameraRefusal as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    return Status(201, {"id": clip.id})


VIDEO = {"content": {"video/*": {"schema": {"type": "string", "format": "binary"}}}}


@router.get(
    "/clips/{clip_id}/video", url_name="clip_video", response={404: ErrorOut, 416: ErrorOut},
    openapi_extra={"responses": {
        "200": {"description": "The whole clip", **VIDEO},
        "206": {"description": "The one range asked for, with Content-Range", **VIDEO},
    }},
)
def clip_video(request, clip_id: str):
    """The clip's bytes; one `Range: bytes=...` is answered 206 with exactly those bytes
    (what lets a <video> seek), an unsatisfiable one 416, several ranges 200. A clip that
    is erased, out of its window or held (POLICY.md section 6) answers 404."""
    clip = services.clip_of(caller(request), clip_id)
    if clip is None:
        raise not_found("clip")
    try:
        handle = clipstore.open_clip(clip)
    except FileNotFoundError as exc:  # erased between the lookup and the open
        raise not_found("clip") from exc
    size = handle.size
    try:
        response = ranged_response(
            handle, size=size, content_type=clip.content_type,
            range_header=request.headers.get("Range"), etag=f'"{clip.id}"',
            if_range=request.headers.get("If-Range"),
        )
    except Unsatisfiable as exc:
        raise ApiError(416, "range_not_satisfiable", f"The clip has {size} bytes.",
                       headers={"Content-Range": f"bytes */{size}"}) from exc
    response["Cache-Control"] = "private, max-age=3600"  # a clip never changes; it may vanish
    response["Content-Disposition"] = "inline"
    return response
